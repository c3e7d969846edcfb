"""The image routes against Jimeng's real shapes (protocol 6, update 4.2), mocked at the HTTP boundary."""
import base64
import io
import json
from dataclasses import replace

import pytest
import responses
from responses import matchers

from app.jimeng.regions import parse_token
from app.services.tasks import fingerprint_key
from app.task_ids import TaskId
from tests.api.helpers import auth, task_id_for
from tests.jimeng_fakes import (ALGO_URL, GENERATE_URL, HISTORY_URL, IMAGE_STORE_URI, envelope, generate_answer,
                                register_image_flow)
from tests.media_samples import make_png

RID = "4722540945676"
PNG = make_png(8, 8)
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()
CDN = "https://p9-dreamina-sign.byteimg.com/tos-cn-i-tb4s082cfz/result"


def image_record(record_id: str = RID, *, status: int = 50, delivered: int = 4, total: int = 4,
                 fail_code: str = "") -> dict:
    """An image record as get_history_by_ids answers it: items with `image.large_images` (5.5)."""
    items = [{"common_attr": {"id": f"75{i:017d}"},
              "image": {"format": "png", "large_images": [{"image_uri": f"tos/{i}",
                                                           "image_url": f"{CDN}/{i}.png?x-expires=1\\u0026sig=a",
                                                           "width": 2560, "height": 1440, "format": "png"}]}}
             for i in range(delivered)]
    return {"history_record_id": record_id, "status": status, "fail_code": fail_code, "created_time": 1770000000.5,
            "finish_time": 0, "item_list": items, "total_image_count": total, "finished_image_count": delivered,
            "queue_info": {"queue_idx": 0, "queue_status": 2, "queue_length": 0},
            "draft_content": json.dumps({"component_list": [{"abilities": {"generate": {"core_param": {
                "model": "high_aes_general_v50p_large"}}}}]})}


def image_id(app, count: int, token: str = "sess", *, submitted_at: float) -> str:
    secret = app.config["SECRET_KEY"]
    return TaskId(kind="image", region="cn", upstream_id=RID, submitted_at=int(submitted_at),
                  token_fp=parse_token(token).fingerprint(fingerprint_key(secret)), count=count).encode(secret)


@pytest.fixture
def jimeng():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        register_image_flow(rsps)
        rsps.post(ALGO_URL, json=envelope({}))
        rsps.post(GENERATE_URL, json=generate_answer())
        yield rsps


def generate_body(rsps) -> tuple[dict, dict]:
    """(body, main component) of the generate call."""
    body = json.loads(next(c for c in rsps.calls if c.request.url.startswith(GENERATE_URL)).request.body)
    return body, json.loads(body["draft_content"])["component_list"][0]


def core_param(component: dict) -> dict:
    abilities = component["abilities"]
    return (abilities.get("generate") or abilities["blend"])["core_param"]


# -- text to image -------------------------------------------------------------------------------

def test_async_text_to_image_asks_jimeng_for_exactly_n(app, client, jimeng):
    resp = client.post("/v1/images/generations", headers=auth("sess"),
                       json={"prompt": "a fox", "n": 3, "ratio": "16:9", "resolution": "4k", "async": True})

    assert resp.status_code == 200, resp.get_json()
    answer = resp.get_json()
    assert (answer["status"], answer["model"]) == ("pending", "jimeng-5.0-pro")
    body, component = generate_body(jimeng)
    assert component["abilities"]["gen_option"] == {"type": "", "id": component["abilities"]["gen_option"]["id"],
                                                    "generate_all": False, "gen_count": 3}
    core = core_param(component)
    assert (core["model"], core["image_ratio"], core["large_image_info"]["width"]) == \
        ("high_aes_general_v50p_large", 103, 5120)
    assert body["extend"] == {"root_model": "high_aes_general_v50p_large"}
    tid = TaskId.decode(answer["task_id"], app.config["SECRET_KEY"])
    assert (tid.kind, tid.count, tid.upstream_id) == ("image", 3, RID)


def test_prefer_respond_async_answers_with_a_task(client, jimeng):
    resp = client.post("/v1/images/generations", headers={**auth("sess"), "Prefer": "respond-async"},
                       json={"prompt": "a fox"})

    assert resp.status_code == 200 and resp.get_json()["status"] == "pending"


def test_sync_answer_is_openais_shape_with_every_image(client, jimeng):
    jimeng.post(HISTORY_URL, json=envelope({RID: image_record(delivered=2, total=2)}))

    resp = client.post("/v1/images/generations", headers=auth("sess"), json={"prompt": "a fox", "n": 2})

    assert resp.status_code == 200, resp.get_json()
    answer = resp.get_json()
    assert [d["url"] for d in answer["data"]] == [f"{CDN}/0.png?x-expires=1&sig=a", f"{CDN}/1.png?x-expires=1&sig=a"]
    assert all(d["revised_prompt"] == "a fox" for d in answer["data"])
    assert isinstance(answer["created"], int) and answer["task_id"]


def test_sync_b64_json_holds_the_image_bytes(client, jimeng):
    jimeng.post(HISTORY_URL, json=envelope({RID: image_record(delivered=1, total=1)}))
    jimeng.get(f"{CDN}/0.png", body=PNG, content_type="image/png")

    resp = client.post("/v1/images/generations", headers=auth("sess"),
                       json={"prompt": "a fox", "response_format": "b64_json"})

    assert base64.b64decode(resp.get_json()["data"][0]["b64_json"]) == PNG


def test_openai_size_and_quality_are_mapped(client, jimeng):
    resp = client.post("/v1/images/generations", headers=auth("sess"),
                       json={"prompt": "a fox", "model": "jimeng-4.5", "size": "1792x1024", "quality": "hd",
                             "async": True, "user": "someone", "style": "vivid"})

    assert resp.status_code == 200, resp.get_json()
    info = core_param(generate_body(jimeng)[1])["large_image_info"]
    assert (info["width"], info["height"], info["resolution_type"]) == (5120, 2880, "4k")


def test_a_sync_failure_with_a_content_policy_code_is_content_rejected(client, jimeng):
    jimeng.post(HISTORY_URL, json=envelope({RID: image_record(status=30, delivered=0, fail_code="2038")}))

    resp = client.post("/v1/images/generations", headers=auth("sess"), json={"prompt": "a fox"})

    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert error["code"] == "content_rejected" and error["task_id"]


@pytest.mark.parametrize("body, param, words", [
    ({"prompt": "x", "n": 9}, "n", ""),
    ({"prompt": "x", "resolution": "1k"}, "resolution", "1.5k, 2k, 4k"),
    ({"prompt": "x", "size": "640x480"}, "size", "1024x1024"),
    ({"prompt": "x", "model": "dall-e-3"}, "model", "jimeng-5.0-pro"),
    ({"prompt": "x", "model": "nanobanana"}, "model", "not available in region cn"),
    ({"prompt": ""}, "prompt", ""),
    ({"prompt": "x", "images": ["https://example.com/a.png"]}, "images", "compositions"),
])
def test_bad_requests_are_400s_that_say_why_and_cost_nothing(client, jimeng, body, param, words):
    resp = client.post("/v1/images/generations", headers=auth("sess"), json=body)

    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert error["param"] == param and words in error["message"]
    assert not [c for c in jimeng.calls if c.request.url.startswith(GENERATE_URL)]


# -- image to image -------------------------------------------------------------------------------

def test_composition_uploads_checks_and_blends_each_reference(client, jimeng):
    resp = client.post("/v1/images/compositions", headers=auth("sess"),
                       json={"prompt": "mix", "images": [PNG_URI, {"url": PNG_URI}], "async": True})

    assert resp.status_code == 200, resp.get_json()
    _, component = generate_body(jimeng)
    blend = component["abilities"]["blend"]
    assert component["generate_type"] == "blend" and len(blend["ability_list"]) == 2
    assert blend["ability_list"][0]["image_uri_list"] == [IMAGE_STORE_URI]
    assert core_param(component)["prompt"] == "####mix"
    assert sum(c.request.url.startswith(ALGO_URL) for c in jimeng.calls) == 2   # CN content check each


def test_composition_takes_multipart_files(client, jimeng):
    resp = client.post("/v1/images/compositions", headers=auth("sess"), content_type="multipart/form-data",
                       data={"prompt": "mix", "n": "2", "async": "true",
                             "images": [(io.BytesIO(PNG), "a.png"), (io.BytesIO(PNG), "b.png")]})

    assert resp.status_code == 200, resp.get_json()
    _, component = generate_body(jimeng)
    assert len(component["abilities"]["blend"]["ability_list"]) == 2
    assert component["abilities"]["gen_option"]["gen_count"] == 2


def test_openai_edit_takes_image_brackets(client, jimeng):
    jimeng.post(HISTORY_URL, json=envelope({RID: image_record(delivered=1, total=1)}))

    resp = client.post("/v1/images/edits", headers=auth("sess"), content_type="multipart/form-data",
                       data={"prompt": "mix", "size": "1024x1024", "image[]": [(io.BytesIO(PNG), "a.png")]})

    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["data"][0]["url"].startswith(CDN)
    assert generate_body(jimeng)[1]["generate_type"] == "blend"


def test_edit_with_a_mask_is_refused_before_any_upload(client, jimeng):
    resp = client.post("/v1/images/edits", headers=auth("sess"), content_type="multipart/form-data",
                       data={"prompt": "mix", "image": (io.BytesIO(PNG), "a.png"), "mask": (io.BytesIO(PNG), "m.png")})

    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "mask"
    assert not jimeng.calls


def test_composition_needs_a_reference(client, jimeng):
    resp = client.post("/v1/images/compositions", headers=auth("sess"), json={"prompt": "mix"})

    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "images"


# -- image tasks -------------------------------------------------------------------------------

@responses.activate
def test_a_task_is_processing_until_every_image_asked_for_is_there(app, client, clock):
    tid = image_id(app, 8, submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({RID: image_record(status=20, delivered=4, total=8)}))
    responses.post(HISTORY_URL, json=envelope({RID: image_record(status=50, delivered=8, total=8)}))

    half = client.get(f"/v1/images/tasks/{tid}", headers=auth("sess")).get_json()
    done = client.get(f"/v1/images/tasks/{tid}", headers=auth("sess")).get_json()

    assert half["status"] == "processing" and "result" not in half and 49 <= half["progress"] < 100
    assert done["status"] == "completed" and done["progress"] == 100 and done["model"] == "jimeng-5.0-pro"
    assert len(done["result"]["images"]) == 8
    assert done["result"]["images"][0] == {"url": f"{CDN}/0.png?x-expires=1&sig=a", "width": 2560, "height": 1440}
    sent = json.loads(responses.calls[0].request.body)
    assert sent["history_ids"] == [RID] and sent["image_info"]["format"] == "webp"


@responses.activate
def test_a_round_marked_done_with_more_to_come_is_still_processing(app, client, clock):
    tid = image_id(app, 8, submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({RID: image_record(status=10, delivered=4, total=8)}))

    assert client.get(f"/v1/images/tasks/{tid}", headers=auth("sess")).get_json()["status"] == "processing"


@responses.activate
def test_a_round_done_whose_rest_never_comes_fails_with_timeout(app, client, clock):
    tid = image_id(app, 8, submitted_at=clock.now - app.config["IMAGE_TASK_TIMEOUT"] - 1)
    responses.post(HISTORY_URL, json=envelope({RID: image_record(status=50, delivered=4, total=8)}))

    body = client.get(f"/v1/images/tasks/{tid}", headers=auth("sess")).get_json()

    assert (body["status"], body["error_code"]) == ("failed", "timeout")


@responses.activate
def test_finished_with_fewer_images_than_asked_is_failed_not_completed(app, client, clock):
    tid = image_id(app, 4, submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({RID: image_record(status=50, delivered=3, total=3)}))

    body = client.get(f"/v1/images/tasks/{tid}", headers=auth("sess")).get_json()

    assert body["status"] == "failed" and body["error_code"] == "generation_failed" and "3 of 4" in body["error"]


@responses.activate
def test_a_content_policy_failure_names_its_fail_code(app, client, clock):
    tid = image_id(app, 2, submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({RID: image_record(status=30, delivered=0, fail_code="2038")}))

    body = client.get(f"/v1/images/tasks/{tid}", headers=auth("sess")).get_json()

    assert (body["status"], body["error_code"], body["upstream_code"]) == ("failed", "content_rejected", "2038")


@responses.activate
def test_image_and_video_ids_are_404_on_each_others_routes(app, client, clock):
    responses.post(HISTORY_URL, json=envelope({RID: image_record()}))
    image_task, video_task = image_id(app, 4, submitted_at=clock.now), task_id_for(app, "sess", RID,
                                                                                     submitted_at=clock.now)

    assert client.get(f"/v1/videos/tasks/{image_task}", headers=auth("sess")).status_code == 404
    assert client.get(f"/v1/images/tasks/{video_task}", headers=auth("sess")).status_code == 404
    assert client.get(f"/v1/images/tasks/{image_task}", headers=auth("sess")).status_code == 200


def video_record(record_id: str = RID) -> dict:
    return {"history_record_id": record_id, "status": 20, "created_time": 1770000000, "item_list": [],
            "draft_content": json.dumps({"component_list": [{"abilities": {"gen_video": {"text_to_video_params": {
                "model_req_key": "dreamina_ic_generate_video_model_vgfm_3.5_pro"}}}}]})}


@pytest.mark.parametrize("route,record", [("videos", image_record), ("images", video_record)])
@responses.activate
def test_a_raw_history_id_of_the_other_kind_is_404(client, route, record):
    responses.post(HISTORY_URL, json=envelope({RID: record()}))

    resp = client.get(f"/v1/{route}/tasks/{RID}", headers=auth("sess"))

    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "task_not_found"


@pytest.mark.parametrize("route,record", [("images", image_record), ("videos", video_record)])
@responses.activate
def test_a_raw_history_id_of_the_same_kind_is_answered(client, route, record):
    responses.post(HISTORY_URL, json=envelope({RID: record()}))

    assert client.get(f"/v1/{route}/tasks/{RID}", headers=auth("sess")).status_code == 200


@responses.activate
def test_batch_answers_in_order_with_other_kinds_not_found(app, client, clock):
    other = "4722540945677"
    responses.post(HISTORY_URL, json=envelope({RID: image_record(), other: image_record(other, status=20, delivered=0)}),
                   match=[matchers.json_params_matcher({"history_ids": [RID, other]}, strict_match=False)])
    first = image_id(app, 4, submitted_at=clock.now)
    second = TaskId.decode(first, app.config["SECRET_KEY"])
    second = replace(second, upstream_id=other).encode(app.config["SECRET_KEY"])
    video = task_id_for(app, "sess", RID, submitted_at=clock.now)

    posted = client.post("/v1/images/tasks/batch", headers=auth("sess"),
                         json={"task_ids": [first, video, second]}).get_json()["data"]
    got = client.get(f"/v1/images/tasks?ids={first},{second}", headers=auth("sess")).get_json()["data"]

    assert [d["status"] for d in posted] == ["completed", "not_found", "processing"]
    assert [d["task_id"] for d in got] == [first, second]
    assert len(responses.calls) == 2          # one history call per batch


def test_docs_show_the_image_routes_with_examples_and_file_pickers(client):
    doc = client.get("/openapi.json").get_json()
    for path in ("/v1/images/generations", "/v1/images/compositions", "/v1/images/edits"):
        content = doc["paths"][path]["post"]["requestBody"]["content"]
        assert content["application/json"]["example"]["prompt"]
        assert "multipart/form-data" in content
    form = doc["components"]["schemas"]["ImageForm"]["properties"]
    assert form["images"]["items"] == {"type": "string", "format": "binary"}
    assert {"/v1/images/tasks/{task_id}", "/v1/images/tasks/batch", "/v1/images/tasks"} <= set(doc["paths"])


def test_prefer_wait_n_answers_202_with_the_task_when_the_images_are_not_there_yet(client, jimeng):
    jimeng.post(HISTORY_URL, json=envelope({RID: image_record(status=20, delivered=0)}))

    resp = client.post("/v1/images/generations", headers={**auth("sess"), "Prefer": "wait=0"}, json={"prompt": "a fox"})

    assert resp.status_code == 202 and resp.headers["Preference-Applied"] == "wait=0"
    assert resp.get_json()["status"] in ("pending", "processing") and resp.get_json()["task_id"]


def test_models_list_the_image_models_with_their_limits(client):
    models = {m["id"]: m for m in client.get("/v1/models").get_json()["data"] if m["type"] == "image"}

    assert {"jimeng-5.0-pro", "jimeng-5.0-lite", "jimeng-4.7", "jimeng-4.6"} <= set(models)
    pro = models["jimeng-5.0-pro"]
    assert pro["resolutions"] == ["1.5k", "2k", "4k"] and pro["max_n"] == 8
    assert pro["default_for_regions"] == ["cn", "hk", "jp", "sg", "us"]


@pytest.mark.parametrize("image", ["http://127.0.0.1:9/x.png", "file:///etc/passwd", "data:text/plain;base64,aGk="])
def test_hostile_references_are_refused_before_anything_is_sent(client, jimeng, image):
    resp = client.post("/v1/images/compositions", headers=auth("sess"), json={"prompt": "mix", "images": [image]})

    assert 400 <= resp.status_code < 500 and resp.get_json()["error"]["param"] == "images[0]"
    assert not [c for c in jimeng.calls if c.request.url.startswith(GENERATE_URL)]


@pytest.mark.parametrize("route,body", [("generations", {"prompt": "a fox"}),
                                        ("compositions", {"prompt": "a fox", "images": [PNG_URI]})])
def test_prefer_respond_async_is_named_in_preference_applied(client, jimeng, route, body):
    resp = client.post(f"/v1/images/{route}", headers={**auth("sess"), "Prefer": "respond-async, wait=5"},
                       json=body)

    assert resp.status_code == 200 and resp.get_json()["status"] == "pending"
    assert resp.headers["Preference-Applied"] == "respond-async"


def test_async_in_the_body_alone_applies_no_preference(client, jimeng):
    resp = client.post("/v1/images/generations", headers=auth("sess"), json={"prompt": "a fox", "async": True})

    assert resp.status_code == 200 and resp.get_json()["status"] == "pending"
    assert "Preference-Applied" not in resp.headers


@pytest.mark.parametrize("quality", ["xhigh", "max"])
def test_the_sdks_edit_with_svg_sub_keys_and_its_newest_qualities_makes_the_largest_images(client, jimeng, quality):
    """images.edit(svg={...}, quality=...) over multipart: `svg` arrives flattened as svg[model] and
    svg[reasoning][effort] (accepted and ignored); `xhigh` and `max` (SDK 3.57) mean the largest size."""
    jimeng.post(HISTORY_URL, json=envelope({RID: image_record(delivered=1, total=1)}))

    resp = client.post("/v1/images/edits", headers=auth("sess"), content_type="multipart/form-data",
                       data={"prompt": "mix", "quality": quality, "svg[model]": "m", "svg[reasoning][effort]": "low",
                             "image": (io.BytesIO(PNG), "a.png")})

    assert resp.status_code == 200, resp.get_json()
    body, component = generate_body(jimeng)
    assert core_param(component)["large_image_info"]["resolution_type"] == "4k"
    assert b"svg" not in json.dumps(body).encode() and b"reasoning" not in json.dumps(body).encode()


def test_openai_edit_takes_a_json_image_url_before_the_images(client, jimeng):
    """OpenAI's `image` as JSON (a URL or a data URI), as multipart's `image` file is taken."""
    jimeng.post(HISTORY_URL, json=envelope({RID: image_record(delivered=1, total=1)}))
    jimeng.get("https://x.test/a.png", body=PNG, content_type="image/png")

    resp = client.post("/v1/images/edits", headers=auth("sess"),
                       json={"prompt": "mix", "image": "https://x.test/a.png", "images": [PNG_URI]})

    assert resp.status_code == 200, resp.get_json()
    assert len(generate_body(jimeng)[1]["abilities"]["blend"]["ability_list"]) == 2


@pytest.mark.parametrize("images", [[{}], [None], [5], [{"file_id": "f"}]])
def test_an_images_item_that_is_no_image_says_what_an_item_must_be(client, images):
    resp = client.post("/v1/images/edits", headers=auth("sess"), json={"prompt": "mix", "images": images})
    err = resp.get_json()["error"]
    assert (resp.status_code, err["param"]) == (400, "images[0]"), err
    assert 'a URL or a data URI (a string), or {"url": ...}' in err["message"]


@pytest.mark.parametrize("image", [None, [], 5, {"url": "https://x.test/a.png"}, [5]])
def test_a_json_image_that_is_no_image_is_a_400_naming_it(client, image):
    resp = client.post("/v1/images/edits", headers=auth("sess"), json={"prompt": "mix", "image": image})
    assert (resp.status_code, resp.get_json()["error"]["param"]) == (400, "image")
