"""Idempotency-Key: stateless, from Jimeng's history; never a second generate for one key."""
import json

import responses

from tests.api.helpers import auth
from tests.jimeng_fakes import GENERATE_URL, HISTORY_URL, envelope, generate_answer

RID = "4722540945676"


def generate_calls() -> list[dict]:
    return [json.loads(c.request.body) for c in responses.calls if c.request.url.startswith(GENERATE_URL)]


def lookups() -> list[dict]:
    return [json.loads(c.request.body) for c in responses.calls if c.request.url.startswith(HISTORY_URL)]


def listed_as_sent(sent: dict) -> dict:
    """The record Jimeng lists for a generate body: it stores submit_id, metrics and draft as sent."""
    record = generate_answer(RID)["data"]["aigc_data"]
    record.update(submit_id=sent["submit_id"], metrics_extra=sent["metrics_extra"], draft_content=sent["draft_content"],
                  created_time=1770000000.5)
    return record


def submit(client, body, key="order-42", token="s", route="/v1/videos/generations", **headers):
    return client.post(route, json=body, headers={**auth(token), "Idempotency-Key": key, **headers})


@responses.activate
def test_a_repeated_key_answers_the_first_task_without_a_second_generate(client):
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=generate_answer(RID))
    first = submit(client, {"prompt": "a cat"})
    assert first.status_code == 200, first.get_json()
    sent = generate_calls()[0]
    assert lookups()[0] == {"submit_ids": [sent["submit_id"]]}
    responses.replace(responses.POST, HISTORY_URL, json=envelope({sent["submit_id"]: listed_as_sent(sent)}))
    again = submit(client, {"prompt": "a cat"})
    assert again.status_code == 200 and again.get_json()["task_id"] == first.get_json()["task_id"]
    assert len(generate_calls()) == 1


@responses.activate
def test_the_submit_id_is_derived_from_key_and_account_and_metrics_carry_the_body_tag(client):
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=generate_answer(RID))
    for token, key in (("alice", "k1"), ("alice", "k1"), ("bob", "k1"), ("alice", "k2")):
        submit(client, {"prompt": "a cat"}, key=key, token=token)
    ids = [g["submit_id"] for g in generate_calls()]
    assert ids[0] == ids[1] and len({ids[0], ids[2], ids[3]}) == 3
    metrics = json.loads(generate_calls()[0]["metrics_extra"])
    assert metrics["originSubmitId"] not in (ids[0], "")


@responses.activate
def test_the_same_key_with_another_body_is_409_and_names_the_task(client):
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=generate_answer(RID))
    submit(client, {"prompt": "a cat"})
    sent = generate_calls()[0]
    responses.replace(responses.POST, HISTORY_URL, json=envelope({sent["submit_id"]: listed_as_sent(sent)}))
    resp = submit(client, {"prompt": "a dog"})
    err = resp.get_json()["error"]
    assert resp.status_code == 409 and err["code"] == "idempotency_conflict" and err["task_id"]
    assert resp.headers["x-should-retry"] == "false" and len(generate_calls()) == 1


@responses.activate
def test_json_and_the_openai_route_with_the_same_content_are_the_same_request(client):
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=generate_answer(RID))
    first = submit(client, {"prompt": "a cat", "duration": 10, "ratio": "16:9", "model": "jimeng-video-3.0"})
    sent = generate_calls()[0]
    responses.replace(responses.POST, HISTORY_URL, json=envelope({sent["submit_id"]: listed_as_sent(sent)}))
    again = submit(client, {"prompt": "a cat", "seconds": "10", "size": "1280x720", "model": "jimeng-video-3.0"},
                   route="/v1/videos")
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["task_id"]
    assert len(generate_calls()) == 1


@responses.activate
def test_a_retry_whose_first_attempt_is_not_listed_yet_is_409_never_a_second_charge(client):
    responses.post(HISTORY_URL, json=envelope({}))
    resp = submit(client, {"prompt": "a cat"}, route="/v1/videos", **{"X-Stainless-Retry-Count": "1"})
    err = resp.get_json()["error"]
    assert resp.status_code == 409 and err["code"] == "idempotency_conflict" and err["task_id"]
    assert resp.headers["x-should-retry"] == "false" and generate_calls() == []
    # the id finds the task by its submit id once Jimeng lists it; until then it is pending
    state = client.get(f"/v1/videos/tasks/{err['task_id']}", headers=auth("s")).get_json()
    assert state["status"] == "pending"


@responses.activate
def test_a_first_attempt_that_is_not_listed_is_submitted(client):
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=generate_answer(RID))
    resp = submit(client, {"prompt": "a cat"}, **{"X-Stainless-Retry-Count": "0"})
    assert resp.status_code == 200 and len(generate_calls()) == 1


@responses.activate
def test_a_lookup_that_fails_submits_nothing_and_may_be_retried(client):
    responses.post(HISTORY_URL, status=503)
    resp = submit(client, {"prompt": "a cat"})
    assert resp.status_code == 503 and "task_id" not in resp.get_json()["error"]
    assert "x-should-retry" not in resp.headers and generate_calls() == []


def test_a_malformed_key_is_a_400(client):
    for key in ("", "x" * 256, "naïve"):
        resp = client.post("/v1/videos", json={"prompt": "a"}, headers={**auth("s"), "Idempotency-Key": key})
        assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "Idempotency-Key"
