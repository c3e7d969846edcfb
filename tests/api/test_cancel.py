"""Cancel: POST /v1/{videos,images}/tasks/<id>/cancel and OpenAI's DELETE /v1/videos/<id>, with Jimeng
mocked at HTTP. A queued CN video is cancelled through `cancel_generate`; everything else says why."""
import json

import pytest
import responses
from openai.types.video_delete_response import VideoDeleteResponse
from responses import matchers

from tests.api.helpers import auth, task_id_for
from tests.jimeng_fakes import (CANCELLED, HISTORY_URL, LOCAL_ITEMS_URL, envelope, failed_record, failed_with,
                                finished_record, queued_record)

RID = "4722540945676"
CANCEL_URL = "http://jimeng.test/mweb/v1/aigc_draft/cancel_generate"


def history_answers(*records: dict) -> None:
    """Each history read answers the next record (the last one again after that)."""
    for record in records:
        responses.post(HISTORY_URL, json=envelope({RID: record}))


def calls_to(url: str) -> list:
    return [c for c in responses.calls if c.request.url.startswith(url)]


def cancel(client, tid: str, token: str = "sess", kind: str = "videos"):
    return client.post(f"/v1/{kind}/tasks/{tid}/cancel", headers=auth(token))


@responses.activate
def test_a_queued_video_is_cancelled_and_answered_as_failed_cancelled(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    history_answers(queued_record(RID), failed_with(CANCELLED, RID))
    responses.post(CANCEL_URL, json=envelope({}), match=[matchers.json_params_matcher({"history_id": RID})])

    resp = cancel(client, tid)

    body = resp.get_json()
    assert resp.status_code == 200, body
    assert (body["task_id"], body["status"], body["error_code"]) == (tid, "failed", "cancelled")
    assert "returned the credits" in body["error"] and "queue" not in body
    sent = calls_to(CANCEL_URL)[0].request
    assert len(calls_to(CANCEL_URL)) == 1 and "sessionid=sess" in sent.headers["Cookie"]
    assert "aid=513695" in sent.url and sent.headers["Sign"]       # signed like every other call
    assert calls_to(LOCAL_ITEMS_URL) == []


@responses.activate
def test_a_second_cancel_answers_the_cancelled_task_without_calling_jimeng_again(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    history_answers(failed_with(CANCELLED, RID))
    resp = cancel(client, tid)
    assert resp.status_code == 200 and resp.get_json()["error_code"] == "cancelled"
    assert calls_to(CANCEL_URL) == []


@responses.activate
@pytest.mark.parametrize("record,words", [
    (queued_record(RID, position=0, queue_status=2), "already running"),
    (finished_record(RID), "already ended (completed)"),
    (failed_record(RID, "2038"), "already ended (failed)"),
])
def test_a_running_or_ended_video_is_409_task_not_cancellable(app, client, clock, record, words):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    history_answers(record)
    resp = cancel(client, tid)
    err = resp.get_json()["error"]
    assert resp.status_code == 409 and err["code"] == "task_not_cancellable" and words in err["message"]
    assert resp.headers["x-should-retry"] == "false"
    assert calls_to(CANCEL_URL) == [] and calls_to(LOCAL_ITEMS_URL) == []


@responses.activate
def test_an_image_task_is_409_with_the_reason_and_404_on_the_video_route(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now, kind="image", count=2)
    record = queued_record(RID)
    record["total_image_count"] = 2
    history_answers(record)
    resp = cancel(client, tid, kind="images")
    assert resp.status_code == 409 and "videos only" in resp.get_json()["error"]["message"]
    assert cancel(client, tid).status_code == 404
    assert calls_to(CANCEL_URL) == []


@responses.activate
def test_an_abroad_video_is_409_with_the_reason(app, client, clock):
    tid = task_id_for(app, "us-sess", RID, submitted_at=clock.now)
    responses.post("http://jimeng.test/mweb/v1/get_history_by_ids", json=envelope({RID: queued_record(RID)}))
    resp = cancel(client, tid, token="us-sess")
    assert resp.status_code == 409 and "mainland China" in resp.get_json()["error"]["message"]
    assert calls_to(CANCEL_URL) == []


@responses.activate
def test_a_task_jimeng_does_not_list_yet_is_409_with_retry_after(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({}))
    clock.advance(3)
    resp = cancel(client, tid)
    assert resp.status_code == 409 and resp.headers["Retry-After"] == "5"
    assert "does not list the task yet" in resp.get_json()["error"]["message"] and calls_to(CANCEL_URL) == []


@responses.activate
def test_unknown_and_foreign_ids_are_404_and_cost_nothing(app, client, clock):
    foreign = task_id_for(app, "someone-else", RID, submitted_at=clock.now)
    for text in (foreign, "not-a-task-id", "AAAA"):
        resp = cancel(client, text)
        assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "task_not_found"
    assert len(responses.calls) == 0


@responses.activate
def test_a_raw_history_id_is_cancelled_with_the_token_whose_account_holds_it(client):
    def history(request):
        holder = "sessionid=sess-b" in request.headers["Cookie"]
        return 200, {}, json.dumps(envelope({RID: queued_record(RID)} if holder else {}))
    responses.add_callback(responses.POST, HISTORY_URL, callback=history)
    responses.post(CANCEL_URL, json=envelope({}))
    resp = cancel(client, RID, token="sess-a,sess-b")
    assert resp.status_code == 200, resp.get_json()
    assert "sessionid=sess-b" in calls_to(CANCEL_URL)[0].request.headers["Cookie"]


# -- when Jimeng does not go along -----------------------------------------------------------------

@responses.activate
def test_a_history_read_that_fails_is_the_upstream_error_and_nothing_is_cancelled(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    responses.post(HISTORY_URL, status=502)
    resp = cancel(client, tid)
    assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "upstream_unavailable"
    assert calls_to(CANCEL_URL) == []


@responses.activate
def test_a_lost_cancel_answer_is_a_504_that_says_the_cancel_may_have_happened(app, client, clock):
    import requests
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    history_answers(queued_record(RID))
    responses.post(CANCEL_URL, body=requests.exceptions.ReadTimeout("slow"))
    resp = cancel(client, tid)
    err = resp.get_json()["error"]
    assert resp.status_code == 504 and "may or may not have reached Jimeng" in err["message"]
    assert len(calls_to(CANCEL_URL)) == 1            # never repeated by the service


@responses.activate
def test_a_refused_cancel_of_a_still_queued_task_is_a_502_with_jimengs_code(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    history_answers(queued_record(RID))
    responses.post(CANCEL_URL, json=envelope(None, ret="1000", errmsg="invalid parameter"))
    resp = cancel(client, tid)
    err = resp.get_json()["error"]
    assert resp.status_code == 502 and err["code"] == "upstream_error" and err["upstream_code"] == "1000"
    assert "refused to cancel" in err["message"]


@responses.activate
def test_a_refused_cancel_of_a_task_that_started_meanwhile_is_409(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    history_answers(queued_record(RID), queued_record(RID, position=0, queue_status=2))
    responses.post(CANCEL_URL, json=envelope(None, ret="1000", errmsg="invalid parameter"))
    resp = cancel(client, tid)
    assert resp.status_code == 409 and "no longer queued (processing)" in resp.get_json()["error"]["message"]


@responses.activate
def test_a_refused_cancel_of_a_task_cancelled_meanwhile_answers_the_cancelled_task(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    history_answers(queued_record(RID), failed_with(CANCELLED, RID))
    responses.post(CANCEL_URL, json=envelope(None, ret="1000", errmsg="invalid parameter"))
    resp = cancel(client, tid)
    assert resp.status_code == 200 and resp.get_json()["error_code"] == "cancelled"


@responses.activate
def test_an_expired_session_on_the_cancel_is_401_as_everywhere(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    history_answers(queued_record(RID))
    responses.post(CANCEL_URL, json=envelope(None, ret="1015", errmsg="login expired"))
    resp = cancel(client, tid)
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "token_invalid"


@responses.activate
def test_history_that_lags_behind_an_accepted_cancel_still_answers_cancelled(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    history_answers(queued_record(RID))                      # the read back still shows it queued
    responses.post(CANCEL_URL, json=envelope({}))
    body = cancel(client, tid).get_json()
    assert (body["status"], body["error_code"], body["task_id"]) == ("failed", "cancelled", tid)
    assert "queue" not in body and len(calls_to(HISTORY_URL)) == 2


# -- OpenAI's delete --------------------------------------------------------------------------------

@responses.activate
def test_openai_delete_cancels_and_answers_what_the_sdk_reads_plus_the_video(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    history_answers(queued_record(RID), failed_with(CANCELLED, RID))
    responses.post(CANCEL_URL, json=envelope({}))

    resp = client.delete(f"/v1/videos/{tid}", headers=auth("sess"))

    body = resp.get_json()
    assert resp.status_code == 200, body
    parsed = VideoDeleteResponse.model_validate(body)
    assert (parsed.id, parsed.deleted, parsed.object) == (tid, True, "video.deleted")
    assert body["status"] == "failed" and body["error"]["code"] == "cancelled" and body["model"]


@responses.activate
def test_openai_delete_of_a_finished_video_is_409(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    history_answers(finished_record(RID))
    resp = client.delete(f"/v1/videos/{tid}", headers=auth("sess"))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "task_not_cancellable"


def test_other_methods_on_the_cancel_route_are_405_with_allow(client):
    resp = client.get("/v1/videos/tasks/abc/cancel", headers=auth("sess"))
    assert resp.status_code == 405 and resp.headers["Allow"].split(", ") == ["OPTIONS", "POST"]


def test_cancel_needs_a_token(client):
    assert client.post("/v1/videos/tasks/abc/cancel").status_code == 401
    assert client.delete("/v1/videos/abc").status_code == 401
