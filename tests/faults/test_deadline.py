"""Hole 3 of issue 8: a total deadline per upstream call; a timeout is 504 upstream_timeout."""
from __future__ import annotations

import time

from tests.api.helpers import auth
from tests.faults.conftest import DEADLINE, SLACK

GENERATE = "/mweb/v1/aigc_draft/generate"
HISTORY = "/mweb/v1/get_history_by_ids"


def submit(service, token: str):
    return service.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth(token))


def test_a_trickling_history_answer_is_cut_at_the_deadline_as_504(service, upstream, token):
    task_id = submit(service, token).get_json()["task_id"]
    upstream.inject(HISTORY, "trickle", count=3)

    started = time.monotonic()
    resp = service.get(f"/v1/videos/tasks/{task_id}", headers=auth(token))
    elapsed = time.monotonic() - started

    assert resp.status_code == 504, resp.get_json()
    assert resp.get_json()["error"]["code"] == "upstream_timeout"
    assert elapsed < DEADLINE + SLACK


def test_a_silent_upstream_is_504_upstream_timeout_not_503_connection_error(service, upstream, token):
    task_id = submit(service, token).get_json()["task_id"]
    upstream.inject(HISTORY, "hang", count=3)

    resp = service.get(f"/v1/videos/tasks/{task_id}", headers=auth(token))

    assert resp.status_code == 504 and resp.get_json()["error"]["code"] == "upstream_timeout"
    assert "ConnectionError" not in resp.get_json()["error"]["message"]


def test_a_trickling_generate_answer_is_504_with_a_task_id_and_sent_once(service, upstream, token):
    before = upstream.calls[GENERATE]
    upstream.inject(GENERATE, "trickle")

    started = time.monotonic()
    resp = submit(service, token)
    elapsed = time.monotonic() - started

    error = resp.get_json()["error"]
    assert resp.status_code == 504 and error["code"] == "upstream_timeout"
    assert error["task_id"]
    assert upstream.calls[GENERATE] - before == 1
    assert elapsed < DEADLINE + SLACK
