"""End to end: HD results through get_local_item_list, counted at the sandbox: asked for once per
finished video, by one call per token for a batch, then kept in the shared state."""
from __future__ import annotations

import secrets
import time

import pytest
import requests

from sandbox.checks import fingerprint
from sandbox.stack import Stack
from tests.e2e.conftest import FAST, POLL_DEADLINE, POLL_INTERVAL, TIMEOUT, poll_until_finished, session_for, submit

pytestmark = pytest.mark.e2e
LOCAL_ITEMS = "/mweb/v1/get_local_item_list"


def local_item_calls(stack: Stack, *sessions: str) -> dict[str, int]:
    """get_local_item_list calls the sandbox saw, per session id asked about."""
    calls = requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["calls"]
    return {s: sum(1 for c in calls if c["path"] == LOCAL_ITEMS and c["session"] == fingerprint(s))
            for s in sessions}


def test_a_completed_task_answers_the_hd_url_and_streams_it(stack: Stack, http: requests.Session):
    task = submit(stack, http, f"{FAST} a harbour at dawn")
    final = poll_until_finished(stack, http, task["task_id"])[-1]
    result = final["result"]
    assert final["status"] == "completed" and result["hd"] is True
    assert "/media/hd/" in result["url"] and result["preview_url"] != result["url"]
    preview = requests.get(result["preview_url"], timeout=TIMEOUT).content
    streamed = http.get(f"{stack.service_url}/v1/videos/tasks/{task['task_id']}/content", timeout=TIMEOUT)
    assert streamed.status_code == 200 and streamed.content[4:8] == b"ftyp"
    assert streamed.content == requests.get(result["url"], timeout=TIMEOUT).content
    assert len(streamed.content) > 4 * len(preview)          # HD: far more bytes for the same seconds


def finished_at_the_sandbox(stack: Stack, *sessions: str, count: int) -> None:
    """Wait until the sandbox holds `count` finished records of these sessions (seen there, not through
    the service, which would look their HD links up already)."""
    deadline = time.monotonic() + POLL_DEADLINE
    wanted = {fingerprint(s) for s in sessions}
    while time.monotonic() < deadline:
        records = requests.get(f"{stack.sandbox_url}/_sandbox/records", timeout=TIMEOUT).json()["records"]
        if sum(1 for r in records if r["session"] in wanted and r["phase"] == "completed") >= count:
            return
        time.sleep(POLL_INTERVAL)
    pytest.fail(f"fewer than {count} records finished after {POLL_DEADLINE} s")


def test_a_batch_makes_one_local_item_call_per_token_and_later_polls_none(stack: Stack):
    alice, bob = f"e2e-hd-a-{secrets.token_hex(6)}", f"e2e-hd-b-{secrets.token_hex(6)}"
    ids = [submit(stack, session_for(alice), f"{FAST} alice {i}")["task_id"] for i in range(4)]
    ids += [submit(stack, session_for(bob), f"{FAST} bob {i}")["task_id"] for i in range(2)]
    both = session_for(f"{alice},{bob}")
    finished_at_the_sandbox(stack, alice, bob, count=6)
    requests.delete(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT)
    resp = both.post(f"{stack.service_url}/v1/videos/tasks/batch", json={"task_ids": ids}, timeout=TIMEOUT)
    data = resp.json()["data"]
    assert resp.status_code == 200 and [d["status"] for d in data] == ["completed"] * 6
    assert all(d["result"]["hd"] is True and "/media/hd/" in d["result"]["url"] for d in data)
    assert len({d["result"]["url"] for d in data}) == 6
    assert local_item_calls(stack, alice, bob) == {alice: 1, bob: 1}
    # Kept in the shared state: later polls, batch or single, ask Jimeng for no HD link again.
    again = both.post(f"{stack.service_url}/v1/videos/tasks/batch", json={"task_ids": ids}, timeout=TIMEOUT).json()
    singles = [both.get(f"{stack.service_url}/v1/videos/tasks/{t}", timeout=TIMEOUT).json() for t in ids]
    assert [d["result"]["url"] for d in again["data"]] == [d["result"]["url"] for d in data]
    assert [s["result"]["url"] for s in singles] == [d["result"]["url"] for d in data]
    assert local_item_calls(stack, alice, bob) == {alice: 1, bob: 1}


def generate_calls(stack: Stack, session: str) -> int:
    calls = requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["calls"]
    return sum(1 for c in calls if c["path"] == "/mweb/v1/aigc_draft/generate" and c["session"] == fingerprint(session))


def records_of(stack: Stack, session: str) -> list[dict]:
    records = requests.get(f"{stack.sandbox_url}/_sandbox/records", timeout=TIMEOUT).json()["records"]
    return [r for r in records if r["session"] == fingerprint(session)]


def test_an_exhausted_session_claims_its_daily_credits_once_and_succeeds(stack: Stack):
    session = f"broke-e2e-{secrets.token_hex(6)}"
    http = session_for(session)
    task = submit(stack, http, f"{FAST} paid by today's free credits")
    assert generate_calls(stack, session) == 2 and len(records_of(stack, session)) == 1
    assert poll_until_finished(stack, http, task["task_id"])[-1]["status"] == "completed"
    points = http.post(f"{stack.service_url}/token/points", timeout=TIMEOUT).json()[0]["points"]
    assert points["totalCredit"] == 60 - 25 and points["giftCredit"] == 35   # 5 s at 5 credits a second
    claim = http.post(f"{stack.service_url}/token/receive", timeout=TIMEOUT).json()
    assert claim == [{"token": f"cn:…{session[-4:]}", "received": 0, "firstReceive": False}]


def test_an_exhausted_session_with_nothing_to_claim_answers_402(stack: Stack):
    session = f"nocredit-e2e-{secrets.token_hex(6)}"
    resp = session_for(session).post(f"{stack.service_url}/v1/videos/generations",
                                     json={"prompt": f"{FAST} unpaid"}, timeout=TIMEOUT)
    err = resp.json()["error"]
    assert resp.status_code == 402 and err["code"] == "insufficient_credits" and "task_id" not in err
    assert generate_calls(stack, session) == 1 and records_of(stack, session) == []


def test_points_and_receive_pass_the_balance_rules(stack: Stack):
    session = f"e2e-points-{secrets.token_hex(6)}"
    http = session_for(session)
    claim = http.post(f"{stack.service_url}/token/receive", timeout=TIMEOUT).json()
    assert claim[0]["received"] == 60 and session not in str(claim)
    points = http.post(f"{stack.service_url}/token/points", timeout=TIMEOUT).json()[0]["points"]
    assert points["totalCredit"] == 100_000 + 60 and points["expiringCredit"] == 60


def test_blocking_mode_answers_the_hd_url(stack: Stack, http: requests.Session):
    resp = http.post(f"{stack.service_url}/v1/videos/generations", json={"prompt": f"{FAST} waited for", "wait": True},
                     timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    assert "/media/hd/" in resp.json()["data"][0]["url"]


def test_abroad_points_read_the_response_string_and_count_expiring_credits(stack: Stack):
    http = session_for(f"us-broke-e2e-{secrets.token_hex(6)}")
    assert http.post(f"{stack.service_url}/token/receive", timeout=TIMEOUT).json()[0]["received"] == 60
    points = http.post(f"{stack.service_url}/token/points", timeout=TIMEOUT).json()[0]["points"]
    assert (points["giftCredit"], points["expiringCredit"], points["totalCredit"]) == (0, 60, 60)
