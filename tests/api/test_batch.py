"""POST /v1/videos/tasks/batch and GET /v1/videos/tasks?ids=: many tasks, one upstream call per token."""
import json

import responses

from app.schemas.tasks import BatchResponseSchema, TaskStateSchema
from tests.api.helpers import auth, task_id_for
from tests.jimeng_fakes import (HISTORY_URL, LOCAL_ITEMS_URL, envelope, failed_record, finished_record, local_item,
                                local_items_answer, queued_record)


@responses.activate
def test_batch_answers_in_order_and_bad_ids_do_not_sink_it(app, client, clock):
    ids = [str(5000 + i) for i in range(6)]
    tids = [task_id_for(app, "sess", rid, submitted_at=clock.now) for rid in ids]
    foreign = task_id_for(app, "other", "999", submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({ids[0]: finished_record(ids[0]),
                                               **{r: queued_record(r) for r in ids[1:]}}))
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item()))
    asked = [tids[0], "garbage!", tids[1], foreign, tids[1], *tids[2:]]
    resp = client.post("/v1/videos/tasks/batch", json={"task_ids": asked}, headers=auth("sess"))
    data = resp.get_json()["data"]
    assert resp.status_code == 200 and [d["task_id"] for d in data] == asked
    assert [d["status"] for d in data] == ["completed", "not_found", "pending", "not_found", "pending",
                                           "pending", "pending", "pending", "pending"]
    assert data[1]["error_code"] == "task_not_found" and data[1]["error"]
    assert [c.request.url.split("?")[0] for c in responses.calls] == [HISTORY_URL, LOCAL_ITEMS_URL]
    sent = json.loads(responses.calls[0].request.body)["history_ids"]
    assert sorted(sent) == sorted(ids)  # each id once, duplicates folded


@responses.activate
def test_one_history_call_per_token(app, client, clock):
    a = [task_id_for(app, "alice", str(i), submitted_at=clock.now) for i in range(3)]
    b = [task_id_for(app, "us-bob", str(i), submitted_at=clock.now) for i in range(10, 13)]
    responses.post(HISTORY_URL, json=envelope({}))
    resp = client.post("/v1/videos/tasks/batch", json={"task_ids": a + b}, headers=auth("alice", "us-bob"))
    assert resp.status_code == 200 and len(responses.calls) == 2


@responses.activate
def test_get_variant_for_get_only_clients(app, client, clock):
    tid = task_id_for(app, "sess", "77", submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({"77": finished_record("77")}))
    data = client.get(f"/v1/videos/tasks?ids={tid},nope", headers=auth("sess")).get_json()["data"]
    assert [d["status"] for d in data] == ["completed", "not_found"]


def test_too_many_or_no_ids_is_400(app, client):
    too_many = ["x"] * (app.config["MAX_BATCH_SIZE"] + 1)
    for ids in (too_many, []):
        resp = client.post("/v1/videos/tasks/batch", json={"task_ids": ids}, headers=auth("sess"))
        assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "task_ids"


@responses.activate
def test_all_bad_ids_make_no_upstream_call(client):
    resp = client.post("/v1/videos/tasks/batch", json={"task_ids": ["a", "b"]}, headers=auth("sess"))
    assert [d["status"] for d in resp.get_json()["data"]] == ["not_found", "not_found"]
    assert len(responses.calls) == 0


@responses.activate
def test_one_token_failing_marks_only_its_items(app, client, clock):
    good = task_id_for(app, "alice", "1", submitted_at=clock.now)
    bad = task_id_for(app, "us-bob", "2", submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({"1": finished_record("1")}),
                   match=[responses.matchers.header_matcher({"Appid": "513695"})])
    responses.post(HISTORY_URL, json=envelope(None, ret="1015"),
                   match=[responses.matchers.header_matcher({"Appid": "513641"})])
    data = client.post("/v1/videos/tasks/batch", json={"task_ids": [good, bad]},
                       headers=auth("alice", "us-bob")).get_json()["data"]
    assert data[0]["status"] == "completed"
    assert (data[1]["status"], data[1]["error_code"]) == ("unknown", "token_invalid")


def test_a_huge_batch_body_is_413_and_long_ids_are_400(client):
    resp = client.post("/v1/videos/tasks/batch", json={"task_ids": ["x" * 300_000]}, headers=auth("sess"))
    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "payload_too_large"
    resp = client.post("/v1/videos/tasks/batch", json={"task_ids": ["x" * 129]}, headers=auth("sess"))
    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "task_ids[0]"


def test_not_found_items_have_no_progress(client):
    data = client.post("/v1/videos/tasks/batch", json={"task_ids": ["nope"]}, headers=auth("sess")).get_json()["data"]
    assert data == [{"task_id": "nope", "status": "not_found", "error": data[0]["error"], "error_code": "task_not_found"}]


@responses.activate
def test_answers_are_exactly_the_documented_shapes(app, client, clock):
    """The task routes answer what they built without a schema dump: every state must still be
    what the OpenAPI document says (no extra key, no wrong type)."""
    records = {"1": finished_record("1"), "2": failed_record("2"), "3": queued_record("3")}
    tids = [task_id_for(app, "sess", rid, submitted_at=clock.now) for rid in ("1", "2", "3", "4")]
    responses.post(HISTORY_URL, json=envelope(records))
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item()))
    batch = client.post("/v1/videos/tasks/batch", json={"task_ids": [*tids, "garbage"]}, headers=auth("sess"))
    answer = batch.get_json()
    assert [d["status"] for d in answer["data"]] == ["completed", "failed", "pending", "pending", "not_found"]
    assert BatchResponseSchema().validate(answer) == {}
    for tid in tids[:3]:
        one = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess"))
        assert one.status_code == 200 and TaskStateSchema().validate(one.get_json()) == {}
    assert TaskStateSchema().validate({**answer["data"][0], "record": {}}) != {}   # the check can fail
