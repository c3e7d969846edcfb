"""The spec says what the routes refuse (issue 8, "tighter spec"): each test failed before."""
from __future__ import annotations

import re

import pytest
import responses

from tests.api.helpers import auth
from tests.jimeng_fakes import GENERATE_URL, generate_answer


def spec(client) -> dict:
    return client.get("/openapi.json").get_json()


def test_the_ids_pattern_refuses_what_the_batch_get_refuses(client):
    params = spec(client)["paths"]["/v1/videos/tasks"]["get"]["parameters"]
    pattern = next(p for p in params if p["name"] == "ids")["schema"]["pattern"]
    for refused in ("", ",", " , ,", ",".join(["a"] * 101)):
        assert re.search(pattern, refused) is None, refused
        assert client.get(f"/v1/videos/tasks?ids={refused}", headers=auth("sess")).status_code == 400
    assert re.search(pattern, "AQBpgA6ASw,4722540945676") is not None


@pytest.mark.parametrize("token, accepted", [("abc123def", True), ("us-abc123", True), ("a b", False),
                                             ("a;b", False), ("a,b", False), ("", False), ("é1", False)])
def test_the_token_pattern_is_what_the_token_check_accepts(client, token, accepted):
    pattern = spec(client)["components"]["schemas"]["TokenCheck"]["properties"]["token"]["pattern"]
    assert (re.search(pattern, token) is not None) is accepted
    if not accepted:
        assert client.post("/token/check", json={"token": token}).status_code == 400


@pytest.mark.parametrize("path", ["/v1/videos/generations", "/v1/videos/tasks/batch", "/token/check"])
def test_bodies_the_routes_need_are_required_in_the_spec(client, path):
    assert spec(client)["paths"][path]["post"]["requestBody"]["required"] is True


@responses.activate
def test_the_literal_null_in_multipart_means_not_given(client):
    responses.post(GENERATE_URL, json=generate_answer())
    resp = client.post("/v1/videos/generations", content_type="multipart/form-data", headers=auth("sess"),
                       data={"prompt": "a cat", "duration": "null", "model": "null", "ratio": "null"})
    assert resp.status_code == 200, resp.get_json()
