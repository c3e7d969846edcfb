"""/docs's "Try it out" sends the spec's examples as they are: each request body example is accepted by the
service in front of the sandbox (`make try`), with nothing fetched from elsewhere."""
from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import TIMEOUT

pytestmark = pytest.mark.e2e


def body_examples(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            example = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")
            if example is not None:
                yield method, path, example


def test_every_request_body_example_runs_against_the_sandbox(stack, http):
    spec = requests.get(f"{stack.service_url}/openapi.json", timeout=TIMEOUT).json()
    ran = []
    for method, path, example in body_examples(spec):
        # Image routes answer once the images exist by default; here the task is enough.
        resp = http.request(method, f"{stack.service_url}{path}", json=example, timeout=TIMEOUT,
                            headers={"Prefer": "respond-async"})
        assert resp.status_code == 200, (method, path, resp.text[:300])
        ran.append(path)
    assert {"/v1/videos/generations", "/v1/videos", "/v1/images/generations", "/v1/images/compositions",
            "/v1/images/edits", "/v1/videos/tasks/batch", "/token/check", "/v1/doctor/capture"} <= set(ran)
