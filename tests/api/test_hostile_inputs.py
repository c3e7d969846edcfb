"""Issue 8, hole 4: the inputs that answered 500 with a traceback. Each test failed before its fix."""
from __future__ import annotations

import json

import pytest
import responses

from app.task_ids import TaskId
from tests.api.helpers import auth, task_id_for
from tests.jimeng_fakes import GENERATE_URL, HISTORY_URL, envelope, finished_record, generate_answer

ODD_FIELDS = [("created_time", "abc"), ("finish_time", "x"), ("item_list", 5), ("draft_content", {}),
              ("created_time", 1e400), ("item_list", "abc"), ("draft_content", {"model": 1}), ("queue_info", {"queue_idx": 1e400}),
              ("status", [1]), ("fail_code", {"a": 1})]


def odd_record(rid: str, name: str, value) -> dict:
    record = finished_record(rid)
    record[name] = value
    return record


@responses.activate
@pytest.mark.parametrize("name, value", ODD_FIELDS)
def test_an_odd_record_field_makes_that_item_unknown_without_sinking_the_batch(app, client, clock, name, value):
    good, odd = "1001", "1002"
    tids = [task_id_for(app, "sess", rid, submitted_at=clock.now) for rid in (good, odd)]
    responses.post(HISTORY_URL, json=envelope({good: finished_record(good), odd: odd_record(odd, name, value)}))

    resp = client.post("/v1/videos/tasks/batch", json={"task_ids": tids}, headers=auth("sess"))

    assert resp.status_code == 200, resp.get_json()
    first, second = resp.get_json()["data"]
    assert first["status"] == "completed"
    if second["status"] == "unknown":
        assert second["error_code"] == "upstream_error" and "cannot read" in second["error"]
    else:   # a field we can do without is ignored rather than refused
        assert second["status"] in ("completed", "processing", "failed")


@responses.activate
@pytest.mark.parametrize("name, value", [("created_time", "abc"), ("item_list", 5), ("draft_content", {"a": 1}),
                                         ("created_time", 1e400), ("finish_time", "x")])
@pytest.mark.parametrize("raw_id", [False, True])
def test_an_odd_record_on_the_single_task_route_is_502_not_500(app, client, clock, name, value, raw_id):
    tid = "1002" if raw_id else task_id_for(app, "sess", "1002", submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({"1002": odd_record("1002", name, value)}))

    resp = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess"))

    assert resp.status_code in (200, 502), resp.get_json()
    if resp.status_code == 502:
        assert resp.get_json()["error"]["code"] == "upstream_error"


@pytest.mark.parametrize("name", ["frames", "file_paths"])
def test_deeply_nested_brackets_in_a_multipart_list_field_are_a_400(client, name):
    resp = client.post("/v1/videos/generations", data={"prompt": "x", name: "[" * 100_000},
                       content_type="multipart/form-data", headers=auth("sess"))
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_request"
    assert resp.get_json()["error"]["param"] == name


@responses.activate
@pytest.mark.parametrize("rid", [{"x": 1}, [1, 2], True, 1.5])
def test_a_history_record_id_that_is_not_an_id_is_refused_at_submit_with_the_submit_id(app, client, rid):
    answer = generate_answer()
    answer["data"]["aigc_data"]["history_record_id"] = rid
    responses.post(GENERATE_URL, json=answer)

    resp = client.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth("sess"))

    error = resp.get_json()["error"]
    assert resp.status_code == 502 and error["code"] == "upstream_error"
    assert error["task_id"] and "history_record_id" in error["message"]
    # The id handed out finds the task by its submit id, which went to Jimeng.
    sent = json.loads(responses.calls[0].request.body)["submit_id"]
    decoded = TaskId.decode(error["task_id"], app.config["SECRET_KEY"])
    assert decoded is not None, "the task id does not decode under the app's key"
    assert (decoded.id_type, decoded.upstream_id) == ("submit", sent)
    assert len([c for c in responses.calls if c.request.url.startswith(GENERATE_URL)]) == 1
