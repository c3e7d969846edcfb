"""GET /v1/videos/tasks/<id>: what a client sees through a task's life."""

import pytest
import responses
from responses import matchers

from tests.api.helpers import auth, task_id_for
from tests.jimeng_fakes import (CANCELLED, HISTORY_URL, LOCAL_ITEMS_URL, OUTPUT_REFUSED, PROMPT_REFUSED, envelope,
                                failed_record, failed_with, finished_record, local_item, local_items_answer,
                                queued_record)

RID = "4722540945676"


def given_history(records: dict, **kw):
    return responses.post(HISTORY_URL, json=envelope(records), **kw)


@responses.activate
def test_queued_task_is_pending_with_its_queue(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    given_history({RID: queued_record(RID, position=47, length=90000)})
    clock.advance(30)
    body = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()
    assert body["status"] == "pending" and body["task_id"] == tid
    assert body["queue"] == {"position": 47, "length": 90000, "eta_seconds": 323}
    assert 0 <= body["progress"] < 100 and body["model"] == "jimeng-video-3.5-pro"
    assert "result" not in body and "error" not in body


@responses.activate
def test_running_task_is_processing_without_queue(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    given_history({RID: queued_record(RID, position=0, length=0, queue_status=2)})
    body = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()
    assert body["status"] == "processing" and "queue" not in body


@responses.activate
def test_completed_task_has_the_video_url_and_100(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    given_history({RID: finished_record(RID)})
    body = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()
    assert body["status"] == "completed" and body["progress"] == 100
    assert body["result"]["url"].startswith("https://v9-artist.vlabvod.com/")


@responses.activate
def test_failed_task_says_why_in_words_and_code(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    given_history({RID: failed_record(RID, "2038")})
    body = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()
    assert body["status"] == "failed" and body["error_code"] == "content_rejected"
    assert "content policy" in body["error"] and body["upstream_code"] == "2038"
    assert body["progress"] < 100


@responses.activate
def test_video_progress_seconds_paces_the_curve(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    given_history({RID: queued_record(RID, position=0, queue_status=2)})
    clock.advance(10)
    default = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()["progress"]
    app.extensions["app_config"].VIDEO_PROGRESS_SECONDS = 10
    paced = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()["progress"]
    assert default == 3 and paced == 62        # 99 * (1 - e^-(10/300)), 99 * (1 - e^-1)


@responses.activate
def test_a_failed_tasks_progress_stays_where_it_ended(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    record = failed_record(RID, "2038")
    record["finish_time"] = clock.now + 60             # Jimeng says when it failed
    given_history({RID: record})
    clock.advance(120)
    first = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()["progress"]
    clock.advance(3600)
    later = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()["progress"]
    assert first == later and 0 < first < 99


@responses.activate
def test_a_timed_out_tasks_progress_stays_where_the_timeout_put_it(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    given_history({RID: queued_record(RID, position=0, queue_status=2)})
    clock.advance(app.config["VIDEO_TASK_TIMEOUT"] + 10)
    first = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()
    clock.advance(3600)
    later = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()
    assert first["error_code"] == "timeout" and first["progress"] == later["progress"]


@responses.activate
def test_unknown_fail_code_keeps_the_raw_code(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    given_history({RID: failed_record(RID, "2043")})
    body = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()
    assert (body["error_code"], body["upstream_code"]) == ("generation_failed", "2043")


@responses.activate
def test_progress_does_not_go_backwards_across_polls(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    seen = []
    for record in (queued_record(RID, position=9), queued_record(RID, position=2),
                   queued_record(RID, position=0, queue_status=2), queued_record(RID, position=0, queue_status=2),
                   finished_record(RID)):
        responses.replace(responses.POST, HISTORY_URL, json=envelope({RID: record})) if seen else given_history(
            {RID: record})
        seen.append(client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()["progress"])
        clock.advance(40)
    assert seen == sorted(seen) and seen[-1] == 100 and seen[-2] < 100


@responses.activate
def test_fresh_task_not_listed_yet_is_pending(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    given_history({})
    clock.advance(5)
    body = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()
    assert body["status"] == "pending"


@responses.activate
def test_old_task_not_listed_is_404(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    given_history({})
    clock.advance(app.config["HISTORY_GRACE_SECONDS"] + 1)
    resp = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess"))
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "task_not_found"


@responses.activate
def test_unfinished_task_past_the_timeout_fails_with_timeout(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    given_history({RID: queued_record(RID)})
    clock.advance(app.config["VIDEO_TASK_TIMEOUT"] + 1)
    body = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()
    assert (body["status"], body["error_code"]) == ("failed", "timeout")


@responses.activate
def test_another_accounts_task_is_404_without_asking_jimeng(app, client, clock):
    tid = task_id_for(app, "alice", RID, submitted_at=clock.now)
    resp = client.get(f"/v1/videos/tasks/{tid}", headers=auth("bob"))
    assert resp.status_code == 404 and len(responses.calls) == 0


@responses.activate
def test_tampered_id_is_404(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    tampered = tid[:-2] + ("AA" if tid[-2:] != "AA" else "BB")
    resp = client.get(f"/v1/videos/tasks/{tampered}", headers=auth("sess"))
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "task_not_found"


@responses.activate
def test_query_uses_the_submitting_token_among_several(app, client, clock):
    tid = task_id_for(app, "us-second", RID, submitted_at=clock.now)
    given_history({RID: finished_record(RID)})
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item()))
    resp = client.get(f"/v1/videos/tasks/{tid}", headers=auth("first", "us-second"))
    assert resp.status_code == 200 and len(responses.calls) == 2   # the record, then its HD URL
    for call in responses.calls:
        assert "sessionid=second" in call.request.headers["Cookie"]
        assert "region=US" in call.request.url


@responses.activate
def test_raw_history_id_of_old_clients_is_asked_with_each_token(client):
    responses.post(HISTORY_URL, json=envelope({}), match=[matchers.header_matcher({"Appid": "513695"})])
    responses.post(HISTORY_URL, json=envelope({RID: finished_record(RID)}),
                   match=[matchers.header_matcher({"Appid": "513641"})])
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item()),
                   match=[matchers.header_matcher({"Appid": "513641"})])   # the HD URL: the owner's token
    body = client.get(f"/v1/videos/tasks/{RID}", headers=auth("cn-one", "hk-two")).get_json()
    assert body["status"] == "completed" and len(responses.calls) == 3 and body["result"]["hd"] is True


@responses.activate
def test_expired_session_is_401(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope(None, ret="1015", errmsg="login expired"))
    resp = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess"))
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "token_invalid"


@responses.activate
def test_jimeng_down_is_503_not_500(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    responses.post(HISTORY_URL, status=503)
    resp = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess"))
    assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "upstream_unavailable"


def test_no_token_is_401(client):
    resp = client.get("/v1/videos/tasks/abc")
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "missing_token"


@responses.activate
def test_the_session_id_never_appears_in_answers_or_task_ids(app, client, clock):
    tid = task_id_for(app, "verysecretsession", RID, submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope(None, ret="1015", errmsg="login expired"))
    resp = client.get(f"/v1/videos/tasks/{tid}", headers=auth("verysecretsession"))
    assert "verysecretsession" not in resp.get_data(as_text=True) and "verysecret" not in tid


@responses.activate
def test_progress_ignores_jimengs_revised_forecasts(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({}))
    clock.advance(60)
    before = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()["progress"]
    record = queued_record(RID)
    record["forecast_queue_cost"], record["forecast_generate_cost"] = 5000, 5000
    responses.replace(responses.POST, HISTORY_URL, json=envelope({RID: record}))
    clock.advance(1)
    after = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()["progress"]
    assert after >= before > 0


@responses.activate
def test_the_same_session_under_another_region_prefix_is_not_the_owner(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    resp = client.get(f"/v1/videos/tasks/{tid}", headers=auth("us-sess"))
    assert resp.status_code == 404 and len(responses.calls) == 0


@responses.activate
def test_raw_id_with_an_expired_session_is_401(client):
    responses.post(HISTORY_URL, json=envelope(None, ret="1015", errmsg="login expired"))
    resp = client.get(f"/v1/videos/tasks/{RID}", headers=auth("sess"))
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "token_invalid"


@responses.activate
@pytest.mark.parametrize("sub_code,error_code,words", [
    (PROMPT_REFUSED, "prompt_rejected", "refused the prompt"),
    (OUTPUT_REFUSED, "output_rejected", "no credits were charged"),
    (CANCELLED, "cancelled", "returned the credits"),
])
def test_each_failure_class_of_the_2026_addendum_has_its_own_code(app, client, clock, sub_code, error_code, words):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    given_history({RID: failed_with(sub_code, RID)})
    ours = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()
    openai = client.get(f"/v1/videos/{tid}", headers=auth("sess")).get_json()
    assert (ours["status"], ours["error_code"]) == ("failed", error_code) and words in ours["error"]
    assert ours["error"].endswith(sub_code[1]) and "upstream_code" not in ours
    assert openai["status"] == "failed" and openai["error"] == {"code": error_code, "message": ours["error"]}
