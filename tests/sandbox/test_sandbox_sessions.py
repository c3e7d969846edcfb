"""Per-session rules: Jimeng's parallel limit (1310), an expired login (1015), a risk refusal (4013)."""
from __future__ import annotations

import threading

from tests.sandbox.test_sandbox_credits import balance
from tests.sandbox.wire import video_body

HISTORY = "/mweb/v1/get_history_by_ids"


def rule(client, **fields):
    resp = client.post("/_sandbox/sessions", json={"session": "sess-bob", **fields})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_a_session_over_its_parallel_limit_gets_1310_and_is_not_charged(jimeng, client):
    rule(client, max_parallel=1)
    assert jimeng.submit(video_body(), session="sess-bob")["ret"] == "0"
    before = balance(jimeng, "sess-bob")
    refused = jimeng.submit(video_body(), session="sess-bob")
    assert refused["ret"] == "1310" and refused["fail_code"] == "exceed_model_parallel_max"
    assert balance(jimeng, "sess-bob") == before
    assert jimeng.submit(video_body(), session="sess-alice")["ret"] == "0"   # other sessions unaffected


def test_a_finished_task_frees_the_parallel_slot(jimeng, client, clock):
    rule(client, max_parallel=1)
    assert jimeng.submit(video_body(), session="sess-bob")["ret"] == "0"
    clock.advance(7)                                   # queue 2 s + generate 4 s
    assert jimeng.submit(video_body(), session="sess-bob")["ret"] == "0"


def test_concurrent_submits_never_pass_the_limit(jimeng, client):
    rule(client, max_parallel=2)
    answers = []

    def go():
        answers.append(jimeng.submit(video_body(), session="sess-bob")["ret"])

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == ["0", "0"] + ["1310"] * 6


def test_an_expired_login_refuses_every_call(jimeng, client):
    rule(client, login_expired=True)
    assert jimeng.call(HISTORY, {"history_ids": ["1"]}, session="sess-bob")["ret"] == "1015"
    assert jimeng.submit(video_body(), session="sess-bob")["ret"] == "1015"
    rule(client, login_expired=False)
    assert jimeng.call(HISTORY, {"history_ids": ["1"]}, session="sess-bob")["ret"] == "0"


def test_a_risky_session_gets_the_4013_refusal(jimeng, client):
    rule(client, risky=True)
    refused = jimeng.submit(video_body(), session="sess-bob")
    assert refused["ret"] == "4013" and refused["fail_starling_key"] == "web_risk_control_message_reject_generation"


def test_reset_forgets_the_rules(jimeng, client):
    rule(client, risky=True)
    client.post("/_sandbox/reset")
    assert jimeng.submit(video_body(), session="sess-bob")["ret"] == "0"


def test_malformed_rules_are_refused(client):
    for body in ({}, {"session": "s", "max_parallel": -1}, {"session": "s", "risky": "yes"}, {"session": "s", "x": 1}):
        assert client.post("/_sandbox/sessions", json=body).status_code == 400
