"""One task, one id: the id a submit answers is the id every query, batch, list and OpenAI route
shows, for every mode and kind; ids issued before ids became stable keep working."""
import base64
import copy
import io

import pytest
import responses

from app.factory import create_app
from tests.api.helpers import auth
from tests.conftest import UPSTREAM, load_fixture
from tests.jimeng_fakes import (ALGO_URL, GENERATE_URL, HISTORY_URL, envelope, finished_record, generate_answer,
                                queued_record, register_image_flow, register_video_flow)
from tests.media_samples import make_mp4, make_png

RID = "4722540945676"
LIST_URL = "http://jimeng.test/mweb/v1/get_history"
# Jimeng's clock is not ours: the record says it was created 7 s after the service's clock reading.
CREATED = 1_770_000_007.25


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


PNG_URI = data_uri(make_png(8, 8), "image/png")


def the_record(*, image: bool = False) -> dict:
    """The record Jimeng answers the generate with, and later lists: same id, same created_time,
    but a forecast that the generate answer knows and later reads revise."""
    record = generate_answer(RID)["data"]["aigc_data"]
    record["created_time"] = CREATED
    if image:
        record.update(total_image_count=2, generate_type=1)
    return record


@pytest.fixture
def jimeng():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        register_image_flow(rsps)
        register_video_flow(rsps, duration=5.0)
        rsps.post(ALGO_URL, json=envelope({}))
        yield rsps


VIDEO_SUBMITS = {
    "text": ("/v1/videos/generations", {"json": {"prompt": "a cat"}}),
    "first_last_frames": ("/v1/videos/generations", {"json": {
        "prompt": "morph", "file_paths": [PNG_URI, PNG_URI], "model": "jimeng-video-3.0"}}),
    "multi_frame": ("/v1/videos/generations", {"json": {
        "function_mode": "multi_frame", "model": "jimeng-video-3.0",
        "frames": [{"image": PNG_URI, "prompt": "sit", "duration": 2}, {"image": PNG_URI, "duration": 3}]}}),
    "main_reference": ("/v1/videos/generations", {"json": {
        "function_mode": "main_reference", "model": "jimeng-video-3.0", "prompt": "[图0] 在[图1]里跑",
        "file_paths": [PNG_URI, PNG_URI]}}),
    "omni_reference": ("/v1/videos/generations", {"content_type": "multipart/form-data", "data": {
        "function_mode": "omni_reference", "model": "jimeng-video-seedance-2.0", "duration": "8",
        "prompt": "@cat.png dances like @video_file_1",
        "image_file_1": (io.BytesIO(make_png()), "cat.png", "image/png"),
        "video_file_1": data_uri(make_mp4(4.0), "video/mp4")}}),
    "openai_create": ("/v1/videos", {"json": {"prompt": "a cat", "model": "jimeng-video-3.0", "seconds": "5"}}),
}


def submitted_id(client, path: str, request: dict) -> str:
    resp = client.post(path, headers=auth("sess"), **copy.deepcopy(request))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    return body.get("task_id") or body["id"]


@pytest.mark.parametrize("mode", VIDEO_SUBMITS)
def test_a_video_keeps_the_id_its_submit_answered_on_every_route(client, clock, jimeng, mode):
    jimeng.post(GENERATE_URL, json=envelope({"aigc_data": the_record()}))
    path, request = VIDEO_SUBMITS[mode]
    task_id = submitted_id(client, path, request)

    clock.advance(40)
    later = the_record()
    later.update(forecast_queue_cost=900, forecast_generate_cost=40)     # Jimeng revised its forecast
    jimeng.post(LIST_URL, json=envelope({"records_list": [later], "has_more": False, "next_offset": 0}))
    jimeng.post(HISTORY_URL, json=envelope({RID: later}))
    listed = client.get("/v1/videos", headers=auth("sess")).get_json()["data"]
    one = client.get(f"/v1/videos/tasks/{task_id}", headers=auth("sess")).get_json()
    batch = client.post("/v1/videos/tasks/batch", headers=auth("sess"), json={"task_ids": [task_id]}).get_json()
    by_get = client.get(f"/v1/videos/tasks?ids={task_id}", headers=auth("sess")).get_json()
    openai = client.get(f"/v1/videos/{task_id}", headers=auth("sess")).get_json()

    assert [v["id"] for v in listed] == [task_id]
    assert one["task_id"] == batch["data"][0]["task_id"] == by_get["data"][0]["task_id"] == openai["id"] == task_id
    assert one["status"] == batch["data"][0]["status"] == "processing" and openai["status"] == "in_progress"
    assert one["created"] == int(CREATED)


IMAGE_SUBMITS = {
    "text": ("/v1/images/generations", {"json": {"prompt": "a fox", "n": 2, "async": True}}),
    "composition": ("/v1/images/compositions", {"json": {"prompt": "blend", "n": 2, "images": [PNG_URI],
                                                         "async": True}}),
    "openai_edit": ("/v1/images/edits", {"content_type": "multipart/form-data", "headers": {
        "Prefer": "respond-async"}, "data": {"prompt": "blue", "n": "2", "image[]": (io.BytesIO(make_png()), "a.png")}}),
}


@pytest.mark.parametrize("mode", IMAGE_SUBMITS)
def test_an_image_task_keeps_the_id_its_submit_answered(client, clock, jimeng, mode):
    jimeng.post(GENERATE_URL, json=envelope({"aigc_data": the_record(image=True)}))
    path, request = IMAGE_SUBMITS[mode]
    request = copy.deepcopy(request)
    headers = {**auth("sess"), **request.pop("headers", {})}
    resp = client.post(path, headers=headers, **request)
    assert resp.status_code == 200, resp.get_json()
    task_id = resp.get_json()["task_id"]

    clock.advance(20)
    jimeng.post(HISTORY_URL, json=envelope({RID: the_record(image=True)}))
    one = client.get(f"/v1/images/tasks/{task_id}", headers=auth("sess")).get_json()
    batch = client.post("/v1/images/tasks/batch", headers=auth("sess"), json={"task_ids": [task_id]}).get_json()

    assert one["task_id"] == batch["data"][0]["task_id"] == task_id
    assert one["status"] == batch["data"][0]["status"] == "processing" and one["created"] == int(CREATED)


# -- ids made before this change ------------------------------------------------------------------

LEGACY = load_fixture("task_ids_v1.json")


@pytest.fixture
def legacy_client(clock):
    app = create_app({"JIMENG_UPSTREAM_URL": UPSTREAM, "SECRET_KEY": LEGACY["secret_key"]})
    app.extensions["clock"] = clock
    app.extensions["jimeng_client"].clock = clock
    app.extensions["jimeng_client"].sleep = lambda s: None
    return app.test_client()


def legacy(kind: str, id_type: str, region: str = "cn") -> dict:
    return next(m for m in LEGACY["ids"] if (m["kind"], m["id_type"], m["region"]) == (kind, id_type, region))


@responses.activate
def test_a_version_1_video_id_is_still_found_on_every_route(legacy_client, clock):
    made = legacy("video", "history")
    record = finished_record(made["upstream_id"])
    responses.post(HISTORY_URL, json=envelope({made["upstream_id"]: record}))
    responses.post("http://jimeng.test/mweb/v1/get_local_item_list", json=envelope({"item_list": []}))
    headers = auth(made["token"])

    one = legacy_client.get(f"/v1/videos/tasks/{made['task_id']}", headers=headers)
    batch = legacy_client.post("/v1/videos/tasks/batch", headers=headers, json={"task_ids": [made["task_id"]]})
    openai = legacy_client.get(f"/v1/videos/{made['task_id']}", headers=headers)

    assert one.status_code == 200 and one.get_json()["status"] == "completed"
    assert one.get_json()["task_id"] == made["task_id"] and one.get_json()["created"] == made["submitted_at"]
    assert batch.get_json()["data"][0]["status"] == "completed" and openai.get_json()["id"] == made["task_id"]


@responses.activate
@pytest.mark.parametrize("kind,id_type,region", [("video", "submit", "cn"), ("image", "history", "cn"),
                                                 ("image", "submit", "cn"), ("video", "history", "us")])
def test_every_kind_of_version_1_id_is_still_answered(legacy_client, clock, kind, id_type, region):
    made = legacy(kind, id_type, region)
    clock.now = made["submitted_at"] + 30
    responses.post(HISTORY_URL, json=envelope({made["upstream_id"]: queued_record(made["upstream_id"])}))
    resp = legacy_client.get(f"/v1/{kind}s/tasks/{made['task_id']}", headers=auth(made["token"]))
    assert resp.status_code == 200 and resp.get_json()["task_id"] == made["task_id"], resp.get_json()
    asked = responses.calls[0].request.body.decode()
    assert ("submit_ids" if id_type == "submit" else "history_ids") in asked and made["upstream_id"] in asked


@responses.activate
def test_a_version_1_id_keeps_the_progress_curve_of_the_forecast_it_carries(legacy_client, clock):
    """A task polled across the upgrade keeps its curve: no step back at the upgrade."""
    made = legacy("video", "history")           # its forecast: 323 s
    clock.now = made["submitted_at"] + 323
    record = queued_record(made["upstream_id"], position=0, queue_status=2)
    responses.post(HISTORY_URL, json=envelope({made["upstream_id"]: record}))
    progress = legacy_client.get(f"/v1/videos/tasks/{made['task_id']}", headers=auth(made["token"])).get_json()
    assert progress["progress"] == 62          # 99 * (1 - 1/e) at the forecast; the default 300 s gives 65
