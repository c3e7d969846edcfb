"""One stack (gunicorn + sandbox on loopback) for every end-to-end module, and the client helpers they share."""
from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
import requests

from sandbox.stack import Stack, running_stack

FAST = "[sandbox:queue=1] [sandbox:generate=1]"
POLL_DEADLINE = 30.0    # seconds; the fast tasks finish in about 2
POLL_INTERVAL = 0.2
TIMEOUT = (5.0, 30.0)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    # Blocking mode polls often here: the sandbox's fast tasks end in about 2 s.
    with running_stack(service_env={"WAIT_POLL_SECONDS": "0.3", "VIDEO_POLL_AFTER_MS": "300"}) as running:
        yield running


def session_for(token: str) -> requests.Session:
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    return http


@pytest.fixture(scope="module")
def http() -> requests.Session:
    return session_for(f"e2e-session-{secrets.token_hex(8)}")


def submit(stack: Stack, http: requests.Session, prompt: str) -> dict:
    resp = http.post(f"{stack.service_url}/v1/videos/generations", json={"prompt": prompt}, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    return resp.json()


def poll_until_finished(stack: Stack, http: requests.Session, task_id: str, kind: str = "videos") -> list[dict]:
    """Every state seen, the last one completed or failed (`kind`: videos or images)."""
    seen = []
    deadline = time.monotonic() + POLL_DEADLINE
    while time.monotonic() < deadline:
        resp = http.get(f"{stack.service_url}/v1/{kind}/tasks/{task_id}", timeout=TIMEOUT)
        assert resp.status_code == 200, resp.text
        seen.append(resp.json())
        if seen[-1]["status"] in ("completed", "failed"):
            return seen
        time.sleep(POLL_INTERVAL)
    pytest.fail(f"task still {seen[-1]['status'] if seen else 'unseen'} after {POLL_DEADLINE} s")
