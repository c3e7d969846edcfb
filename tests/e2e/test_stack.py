"""End to end: the service under gunicorn in front of the sandbox, both real processes on loopback.

Prompt directives (`[sandbox:queue=1]`, `[sandbox:generate=1]`, `[sandbox:fail=2038]`) tell the
sandbox how long a task waits and runs, or how it fails. Polls are bounded by a deadline.
"""
from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from sandbox.stack import Stack
from tests.e2e.conftest import FAST, TIMEOUT, poll_until_finished, session_for, submit

pytestmark = pytest.mark.e2e

@pytest.fixture(scope="module")
def submitted(stack: Stack, http: requests.Session) -> dict:
    return submit(stack, http, f"{FAST} a lighthouse in a storm")


@pytest.fixture(scope="module")
def followed(stack: Stack, http: requests.Session, submitted: dict) -> list[dict]:
    return poll_until_finished(stack, http, submitted["task_id"])


def test_submit_answers_at_once_with_a_pending_task(submitted):
    assert submitted["status"] == "pending"
    assert submitted["task_id"] and len(submitted["task_id"]) <= 128
    assert {"created", "model"} <= submitted.keys()


def test_a_task_goes_from_pending_through_processing_to_completed(followed, submitted):
    statuses = [s["status"] for s in followed]
    order = ["pending", "processing", "completed"]
    assert statuses == sorted(statuses, key=order.index)
    assert {"processing", "completed"} <= set(statuses)
    progress = [s["progress"] for s in followed]
    assert progress == sorted(progress)
    assert all(s["task_id"] == submitted["task_id"] for s in followed)
    final = followed[-1]
    assert final["progress"] == 100
    assert final["result"]["url"].startswith("http")


def test_content_streams_the_finished_mp4(stack, http, followed):
    task_id = followed[-1]["task_id"]
    with http.get(f"{stack.service_url}/v1/videos/tasks/{task_id}/content", stream=True, timeout=TIMEOUT) as resp:
        assert resp.status_code == 200, resp.text
        body = b"".join(resp.iter_content(64 * 1024))
    assert body[4:8] == b"ftyp"
    assert len(body) > 1000


def test_rejected_content_fails_with_content_rejected(stack, http):
    task = submit(stack, http, f"{FAST} [sandbox:fail=2038] a forbidden scene")

    final = poll_until_finished(stack, http, task["task_id"])[-1]

    assert final["status"] == "failed"
    assert final["error_code"] == "content_rejected"
    assert final["error"]


def test_unknown_task_is_404(stack, http):
    resp = http.get(f"{stack.service_url}/v1/videos/tasks/no-such-task-id", timeout=TIMEOUT)

    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "task_not_found"


def tampered(task_id: str) -> str:
    """The same id with one character in the middle changed: its tag no longer matches."""
    i = len(task_id) // 2
    return task_id[:i] + ("A" if task_id[i] != "A" else "B") + task_id[i + 1:]


def test_a_batch_of_100_answers_in_order_with_bad_ids_not_found(stack, http):
    with ThreadPoolExecutor(max_workers=8) as pool:
        mine = list(pool.map(lambda i: submit(stack, http, f"{FAST} batch task {i}")["task_id"], range(97)))
    foreign = submit(stack, session_for(f"e2e-other-{secrets.token_hex(8)}"), f"{FAST} someone else's")["task_id"]
    bad = {10: tampered(mine[0]), 50: "garbage-not-a-task-id", 99: foreign}
    task_ids = list(mine)
    for position, task_id in sorted(bad.items()):
        task_ids.insert(position, task_id)

    resp = http.post(f"{stack.service_url}/v1/videos/tasks/batch", json={"task_ids": task_ids}, timeout=TIMEOUT)

    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert [item["task_id"] for item in data] == task_ids
    not_found = {i for i, item in enumerate(data) if item["status"] == "not_found"}
    assert not_found == set(bad)
    assert all(data[i]["error_code"] == "task_not_found" for i in bad)
    assert all(item["status"] in ("pending", "processing", "completed") for i, item in enumerate(data)
               if i not in bad)
