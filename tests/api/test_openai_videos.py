"""OpenAI's video routes over our tasks: create, retrieve, list, content, delete (Jimeng mocked at HTTP;
delete cancels: tests/api/test_cancel.py)."""
import json

import responses

from tests.api.helpers import auth, task_id_for
from tests.jimeng_fakes import (GENERATE_URL, HISTORY_URL, envelope, failed_record, finished_record, generate_answer,
                                queued_record)

RID = "4722540945676"
LIST_URL = "http://jimeng.test/mweb/v1/get_history"


def generated_draft() -> dict:
    body = json.loads(responses.calls[-1].request.body)
    return json.loads(body["draft_content"])


@responses.activate
def test_create_answers_a_queued_video_object_and_maps_size_and_seconds(client):
    responses.post(GENERATE_URL, json=generate_answer(RID))
    resp = client.post("/v1/videos", json={"prompt": "a cat", "model": "jimeng-video-3.0", "seconds": "10",
                                           "size": "1280x720"}, headers=auth("s"))
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert {k: body[k] for k in ("object", "status", "progress", "model", "seconds", "size", "error")} == {
        "object": "video", "status": "queued", "progress": 0, "model": "jimeng-video-3.0", "seconds": "10",
        "size": "1280x720", "error": None}
    assert body["id"] and body["created_at"] > 0
    assert resp.headers["openai-poll-after-ms"] == "5000"
    draft = json.dumps(generated_draft())
    assert '"video_aspect_ratio": "16:9"' in draft and '"duration_ms": 10000' in draft


@responses.activate
def test_create_passes_fps_through_and_an_fps_the_model_lacks_costs_nothing(client):
    resp = client.post("/v1/videos", json={"prompt": "a", "fps": 30}, headers=auth("s"))
    err = resp.get_json()["error"]
    assert resp.status_code == 400 and err["param"] == "fps" and len(responses.calls) == 0
    responses.post(GENERATE_URL, json=generate_answer(RID))
    assert client.post("/v1/videos", json={"prompt": "a", "fps": 24}, headers=auth("s")).status_code == 200
    assert '"fps": 24' in json.dumps(generated_draft())


@responses.activate
def test_create_with_a_size_the_model_lacks_costs_nothing(client):
    resp = client.post("/v1/videos", json={"prompt": "a", "size": "1920x1080"}, headers=auth("s"))
    err = resp.get_json()["error"]
    assert resp.status_code == 400 and err["param"] == "size" and "1280x720" in err["message"]
    assert len(responses.calls) == 0


@responses.activate
def test_an_alias_is_refused_unless_configured(app, client):
    resp = client.post("/v1/videos", json={"prompt": "a", "model": "sora-2"}, headers=auth("s"))
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "unsupported_model"
    app.extensions["app_config"].OPENAI_MODEL_ALIASES = {"sora-2": "default"}
    responses.post(GENERATE_URL, json=generate_answer(RID))
    resp = client.post("/v1/videos", json={"prompt": "a", "model": "sora-2"}, headers=auth("s"))
    assert resp.status_code == 200 and resp.get_json()["model"] == "jimeng-video-3.5-pro"


@responses.activate
def test_retrieve_a_finished_video_reads_seconds_and_size_from_the_record(app, client, clock):
    responses.post(HISTORY_URL, json=envelope({RID: finished_record(RID)}))
    video_id = task_id_for(app, "s", RID, submitted_at=clock.now - 60)
    resp = client.get(f"/v1/videos/{video_id}", headers=auth("s"))
    body = resp.get_json()
    assert (body["id"], body["status"], body["progress"], body["seconds"], body["size"]) == (
        video_id, "completed", 100, "5", "720x720")
    assert body["completed_at"] == 1770798728 and "openai-poll-after-ms" not in resp.headers


@responses.activate
def test_retrieve_an_unfinished_video_tells_the_sdk_when_to_poll(app, client, clock):
    responses.post(HISTORY_URL, json=envelope({RID: queued_record(RID)}))
    resp = client.get(f"/v1/videos/{task_id_for(app, 's', RID, submitted_at=clock.now)}", headers=auth("s"))
    assert resp.get_json()["status"] == "queued" and resp.headers["openai-poll-after-ms"] == "5000"


@responses.activate
def test_a_failed_video_carries_an_error_object(app, client, clock):
    responses.post(HISTORY_URL, json=envelope({RID: failed_record(RID, "2038")}))
    body = client.get(f"/v1/videos/{task_id_for(app, 's', RID, submitted_at=clock.now)}", headers=auth("s")).get_json()
    assert body["status"] == "failed" and body["error"]["code"] == "content_rejected" and body["error"]["message"]


def test_an_unknown_video_is_404(client):
    resp = client.get("/v1/videos/nope", headers=auth("s"))
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "task_not_found"


@responses.activate
def test_content_of_an_unfinished_video_is_409_and_not_retried(app, client, clock):
    responses.post(HISTORY_URL, json=envelope({RID: queued_record(RID)}))
    resp = client.get(f"/v1/videos/{task_id_for(app, 's', RID, submitted_at=clock.now)}/content", headers=auth("s"))
    assert resp.status_code == 409 and resp.headers["x-should-retry"] == "false"


def test_content_variants_other_than_video_are_a_400(client):
    resp = client.get("/v1/videos/x/content?variant=thumbnail", headers=auth("s"))
    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "variant"


def test_delete_of_an_unknown_video_is_404_as_everywhere(client):
    resp = client.delete("/v1/videos/x", headers=auth("s"))
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "task_not_found"


@responses.activate
def test_list_pages_through_jimengs_history_with_a_stateless_cursor(client):
    first = [finished_record("1001"), failed_record("1000")]
    responses.post(LIST_URL, json=envelope({"records_list": first, "has_more": True, "next_offset": 777}))
    responses.post(LIST_URL, json=envelope({"records_list": [queued_record("999")], "has_more": False,
                                            "next_offset": 0}))
    page1 = client.get("/v1/videos?limit=2", headers=auth("s")).get_json()
    assert [v["status"] for v in page1["data"]] == ["completed", "failed"] and page1["has_more"] is True
    assert page1["first_id"] == page1["data"][0]["id"]
    page2 = client.get(f"/v1/videos?limit=2&after={page1['last_id']}", headers=auth("s")).get_json()
    assert [v["status"] for v in page2["data"]] == ["queued"] and page2["has_more"] is False
    asked = [json.loads(c.request.body) for c in responses.calls]
    assert [(a["count"], a["offset"], a["history_type_list"]) for a in asked] == [(2, 0, [10]), (2, 777, [10])]
    # a listed video is a task like any other
    responses.post(HISTORY_URL, json=envelope({"1001": finished_record("1001")}))
    assert client.get(f"/v1/videos/{page1['data'][0]['id']}", headers=auth("s")).get_json()["status"] == "completed"


@responses.activate
def test_a_cursor_is_refused_for_another_account_and_when_forged(client):
    responses.post(LIST_URL, json=envelope({"records_list": [finished_record("5")], "has_more": True,
                                            "next_offset": 5}))
    cursor = client.get("/v1/videos?limit=1", headers=auth("alice")).get_json()["last_id"]
    for after, token in ((cursor, "bob"), (cursor[:-2] + "AA", "alice"), ("page_zzz", "alice")):
        resp = client.get(f"/v1/videos?after={after}", headers=auth(token))
        assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "after"
    assert len(responses.calls) == 1


def test_list_limits_are_checked(client):
    for query in ("limit=0", "limit=101", "order=asc", "limit=x"):
        assert client.get(f"/v1/videos?{query}", headers=auth("s")).status_code == 400


@responses.activate
def test_an_error_after_a_submit_may_have_landed_says_do_not_retry(client):
    responses.post(GENERATE_URL, status=502)
    resp = client.post("/v1/videos", json={"prompt": "a"}, headers=auth("s"))
    assert resp.status_code == 503 and resp.headers["x-should-retry"] == "false"
    assert resp.get_json()["error"]["task_id"] and resp.headers["Retry-After"]


@responses.activate
def test_a_refusal_that_created_nothing_may_be_retried_after_retry_after(client):
    responses.post(GENERATE_URL, json=envelope(None, ret="1310", errmsg="exceed_model_parallel_max"))
    resp = client.post("/v1/videos", json={"prompt": "a"}, headers=auth("s"))
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "30"
    assert "x-should-retry" not in resp.headers and "task_id" not in resp.get_json()["error"]


@responses.activate
def test_models_retrieve_and_list_carry_created_and_owned_by(client):
    listed = client.get("/v1/models").get_json()["data"]
    assert all(isinstance(m["created"], int) and m["owned_by"] for m in listed)
    one = client.get("/v1/models/jimeng-video-3.0").get_json()
    assert one == next(m for m in listed if m["id"] == "jimeng-video-3.0")
    resp = client.get("/v1/models/gpt-4")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


@responses.activate
def test_after_may_be_a_listed_videos_id_for_clients_that_page_by_item(client):
    records = [finished_record(str(1000 - i)) for i in range(5)]
    responses.post(LIST_URL, json=envelope({"records_list": records, "has_more": False, "next_offset": 0}))
    listed = client.get("/v1/videos?limit=5", headers=auth("s")).get_json()["data"]
    page = client.get(f"/v1/videos?limit=2&after={listed[1]['id']}", headers=auth("s")).get_json()
    assert [v["id"] for v in page["data"]] == [listed[2]["id"], listed[3]["id"]] and page["has_more"] is True
    rest = client.get(f"/v1/videos?limit=2&after={page['last_id']}", headers=auth("s")).get_json()
    assert [v["id"] for v in rest["data"]] == [listed[4]["id"]] and rest["has_more"] is False
    resp = client.get(f"/v1/videos?after={listed[1]['id']}", headers=auth("someone-else"))
    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "after"
