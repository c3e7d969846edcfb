"""Blocking mode (`wait`) and the content route: the same status logic, old sync answer shapes."""
import base64

import responses

from tests.api.helpers import auth, task_id_for
from tests.jimeng_fakes import (CANCELLED, GENERATE_URL, HISTORY_URL, PROMPT_REFUSED, envelope, failed_record,
                                failed_with, finished_record, generate_answer, queued_record)

RID = "4722540945676"
VIDEO_BYTES = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 1000


def video_url_of(record):
    return record["item_list"][0]["video"]["transcoded_video"]["origin"]["video_url"]


@responses.activate
def test_wait_true_answers_in_the_old_sync_shape(client):
    responses.post(GENERATE_URL, json=generate_answer(RID))
    responses.post(HISTORY_URL, json=envelope({RID: queued_record(RID)}))
    responses.post(HISTORY_URL, json=envelope({RID: finished_record(RID)}))
    responses.post(HISTORY_URL, json=envelope({RID: finished_record(RID)}))
    resp = client.post("/v1/videos/generations", json={"prompt": "a cat", "wait": True}, headers=auth("s"))
    body = resp.get_json()
    assert resp.status_code == 200 and set(body) == {"created", "task_id", "data"}
    assert client.get(f"/v1/videos/tasks/{body['task_id']}", headers=auth("s")).status_code == 200
    assert body["data"][0]["url"].startswith("https://v9-artist") and body["data"][0]["revised_prompt"] == "a cat"


@responses.activate
def test_prefer_wait_header_blocks_too_and_b64_json_embeds_the_bytes(client):
    record = finished_record(RID)
    responses.post(GENERATE_URL, json=generate_answer(RID))
    responses.post(HISTORY_URL, json=envelope({RID: record}))
    responses.get(video_url_of(record), body=VIDEO_BYTES, content_type="video/mp4")
    resp = client.post("/v1/videos/generations", json={"prompt": "a", "response_format": "b64_json"},
                       headers={**auth("s"), "Prefer": "wait"})
    assert base64.b64decode(resp.get_json()["data"][0]["b64_json"]) == VIDEO_BYTES


@responses.activate
def test_wait_on_a_prompt_refused_at_submit_is_a_400_prompt_rejected_naming_the_task(client):
    responses.post(GENERATE_URL, json=envelope({"aigc_data": failed_with(PROMPT_REFUSED, RID)}))
    responses.post(HISTORY_URL, json=envelope({RID: failed_with(PROMPT_REFUSED, RID)}))
    resp = client.post("/v1/videos/generations", json={"prompt": "a", "wait": True}, headers=auth("s"))
    err = resp.get_json()["error"]
    assert resp.status_code == 400 and err["code"] == "prompt_rejected" and err["task_id"]


@responses.activate
def test_wait_on_a_task_cancelled_meanwhile_is_a_409_cancelled(client):
    responses.post(GENERATE_URL, json=generate_answer(RID))
    responses.post(HISTORY_URL, json=envelope({RID: failed_with(CANCELLED, RID)}))
    resp = client.post("/v1/videos/generations", json={"prompt": "a", "wait": True}, headers=auth("s"))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "cancelled"


@responses.activate
def test_wait_on_a_failed_task_answers_the_error_json(client):
    responses.post(GENERATE_URL, json=generate_answer(RID))
    responses.post(HISTORY_URL, json=envelope({RID: failed_record(RID, "2038")}))
    resp = client.post("/v1/videos/generations", json={"prompt": "a", "wait": True}, headers=auth("s"))
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "content_rejected"


@responses.activate
def test_wait_gives_up_at_wait_timeout_with_the_task_id(app, client):
    app.extensions["app_config"].WAIT_TIMEOUT = 0
    responses.post(GENERATE_URL, json=generate_answer(RID))
    responses.post(HISTORY_URL, json=envelope({RID: queued_record(RID)}))
    resp = client.post("/v1/videos/generations", json={"prompt": "a", "wait": True}, headers=auth("s"))
    err = resp.get_json()["error"]
    assert resp.status_code == 504 and err["code"] == "upstream_timeout" and err["task_id"]
    assert client.get(f"/v1/videos/tasks/{err['task_id']}", headers=auth("s")).status_code == 200


@responses.activate
def test_a_full_house_refuses_before_submitting_anything(app, client):
    waiters = app.extensions["waiters"]
    while waiters.acquire(blocking=False):
        pass
    resp = client.post("/v1/videos/generations", json={"prompt": "a", "wait": True}, headers=auth("s"))
    assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "service_busy"
    assert len(responses.calls) == 0  # nothing was created, so a retry costs nothing


@responses.activate
def test_an_error_while_waiting_still_names_the_paid_task(client):
    responses.post(GENERATE_URL, json=generate_answer(RID))
    responses.post(HISTORY_URL, status=502)
    resp = client.post("/v1/videos/generations", json={"prompt": "a", "wait": True}, headers=auth("s"))
    err = resp.get_json()["error"]
    assert resp.status_code == 503 and err["task_id"]


@responses.activate
def test_content_streams_the_video_with_range(app, client, clock):
    record = finished_record(RID)
    tid = task_id_for(app, "s", RID, submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({RID: record}))
    responses.get(video_url_of(record), body=VIDEO_BYTES[:100], status=206, content_type="video/mp4",
                  headers={"Content-Range": f"bytes 0-99/{len(VIDEO_BYTES)}", "Accept-Ranges": "bytes"},
                  match=[responses.matchers.header_matcher({"Range": "bytes=0-99"})])
    resp = client.get(f"/v1/videos/tasks/{tid}/content", headers={**auth("s"), "Range": "bytes=0-99"})
    assert resp.status_code == 206 and resp.data == VIDEO_BYTES[:100]
    assert resp.headers["Content-Type"] == "video/mp4"
    assert resp.headers["Content-Range"] == f"bytes 0-99/{len(VIDEO_BYTES)}"


@responses.activate
def test_content_as_b64_json_for_old_clients(app, client, clock):
    record = finished_record(RID)
    tid = task_id_for(app, "s", RID, submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({RID: record}))
    responses.get(video_url_of(record), body=VIDEO_BYTES, content_type="video/mp4")
    body = client.get(f"/v1/videos/tasks/{tid}/content?format=b64_json", headers=auth("s")).get_json()
    assert base64.b64decode(body["b64_json"]) == VIDEO_BYTES


@responses.activate
def test_content_of_an_unfinished_task_is_409_with_its_state(app, client, clock):
    tid = task_id_for(app, "s", RID, submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({RID: queued_record(RID)}))
    resp = client.get(f"/v1/videos/tasks/{tid}/content", headers=auth("s"))
    err = resp.get_json()["error"]
    assert resp.status_code == 409 and err["code"] == "task_not_finished" and err["task"]["status"] == "pending"


def test_content_of_an_unknown_task_is_404(client):
    assert client.get("/v1/videos/tasks/nope/content", headers=auth("s")).status_code == 404


@responses.activate
def test_expired_video_link_is_a_clear_502(app, client, clock):
    record = finished_record(RID)
    tid = task_id_for(app, "s", RID, submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({RID: record}))
    responses.get(video_url_of(record), status=403)
    resp = client.get(f"/v1/videos/tasks/{tid}/content", headers=auth("s"))
    assert resp.status_code == 502 and "expired" in resp.get_json()["error"]["message"]


@responses.activate
def test_one_users_cdn_cookies_never_reach_another_users_download(app, client, clock):
    record = finished_record(RID)
    responses.post(HISTORY_URL, json=envelope({RID: record}))
    responses.get(video_url_of(record), body=VIDEO_BYTES, content_type="video/mp4", headers={"Set-Cookie": "acct=alice; Path=/"})
    for user in ("alice", "bob"):
        tid = task_id_for(app, user, RID, submitted_at=clock.now)
        resp = client.get(f"/v1/videos/tasks/{tid}/content", headers=auth(user))
        assert resp.status_code == 200 and resp.data == VIDEO_BYTES   # read to the end: the stream closes
    downloads = [c for c in responses.calls if c.request.method == "GET"]
    assert "acct=alice" not in (downloads[1].request.headers.get("Cookie") or "")


@responses.activate
def test_prefer_wait_n_answers_the_sync_shape_when_done_in_time(client):
    responses.post(GENERATE_URL, json=generate_answer(RID))
    responses.post(HISTORY_URL, json=envelope({RID: finished_record(RID)}))
    resp = client.post("/v1/videos/generations", json={"prompt": "a"}, headers={**auth("s"), "Prefer": "wait=3"})
    assert resp.status_code == 200 and resp.headers["Preference-Applied"] == "wait=3"
    assert resp.get_json()["task_id"] and resp.get_json()["data"][0]["url"]


@responses.activate
def test_prefer_wait_n_answers_the_running_task_when_time_runs_out(client):
    responses.post(GENERATE_URL, json=generate_answer(RID))
    responses.post(HISTORY_URL, json=envelope({RID: queued_record(RID)}))
    resp = client.post("/v1/videos/generations", json={"prompt": "a"},
                       headers={**auth("s"), "Prefer": "respond-async, wait=0"})
    body = resp.get_json()
    assert resp.status_code == 202 and resp.headers["Preference-Applied"] == "wait=0"
    assert body["status"] == "pending" and body["task_id"]


@responses.activate
def test_prefer_wait_n_is_capped_by_wait_timeout(app, client):
    app.extensions["app_config"].WAIT_TIMEOUT = 2
    responses.post(GENERATE_URL, json=generate_answer(RID))
    responses.post(HISTORY_URL, json=envelope({RID: queued_record(RID)}))
    resp = client.post("/v1/videos", json={"prompt": "a"}, headers={**auth("s"), "Prefer": "wait=999"})
    assert resp.status_code == 200 and resp.headers["Preference-Applied"] == "wait=2"
    assert resp.get_json()["status"] == "queued"
