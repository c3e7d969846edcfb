"""POST /v1/videos/generations: validation first, then one generate call, answered with a task id."""
import base64
import io
import json
import zlib

import pytest
import responses

from tests.api.helpers import auth
from tests.media_samples import make_png
from tests.jimeng_fakes import (GENERATE_URL, HISTORY_URL, IMAGE_STORE_URI, envelope, finished_record,
                                generate_answer, register_image_flow)


DATA_URI = "data:image/png;base64," + base64.b64encode(make_png(8, 8)).decode()


def error_of(resp):
    body = resp.get_json()
    return resp.status_code, body["error"]["code"], body["error"]["param"]


@responses.activate
def test_text_to_video_answers_at_once_with_a_pending_task(client):
    responses.post(GENERATE_URL, json=generate_answer())
    resp = client.post("/v1/videos/generations", json={"prompt": "a cat surfing", "duration": 10},
                       headers=auth("sess"))
    body = resp.get_json()
    assert resp.status_code == 200 and body["status"] == "pending" and body["model"] == "jimeng-video-3.5-pro"
    assert body["task_id"] and len(body["task_id"]) <= 128 and isinstance(body["created"], int)
    sent = json.loads(responses.calls[0].request.body)
    draft = json.loads(sent["draft_content"])
    gen = draft["component_list"][0]["abilities"]["gen_video"]["text_to_video_params"]
    assert gen["video_gen_inputs"][0]["prompt"] == "a cat surfing"
    assert gen["video_gen_inputs"][0]["duration_ms"] == 10000
    assert sent["extend"]["root_model"] == "dreamina_ic_generate_video_model_vgfm_3.5_pro"


@pytest.mark.parametrize("fps", [24, "24"])
def test_fps_the_model_makes_is_sent_in_the_draft(client, fps):
    with responses.RequestsMock() as rsps:
        rsps.post(GENERATE_URL, json=generate_answer())
        resp = client.post("/v1/videos/generations", json={"prompt": "a cat", "fps": fps}, headers=auth("sess"))
        sent = json.loads(rsps.calls[0].request.body)
    assert resp.status_code == 200, resp.get_json()
    gen = json.loads(sent["draft_content"])["component_list"][0]["abilities"]["gen_video"]["text_to_video_params"]
    assert gen["video_gen_inputs"][0]["fps"] == 24


@pytest.mark.parametrize("fps", [30, 0, 23.5, "fast", True])
def test_fps_the_model_lacks_is_a_400_naming_fps_before_anything_is_sent(client, fps):
    with responses.RequestsMock() as rsps:        # no upstream call registered: none may be made
        resp = client.post("/v1/videos/generations", json={"prompt": "a cat", "fps": fps}, headers=auth("sess"))
        assert len(rsps.calls) == 0
    assert error_of(resp) == (400, "invalid_request", "fps")
    if fps == 30:
        assert "24" in resp.get_json()["error"]["message"]


def test_fps_is_read_from_a_form_too(client):
    resp = client.post("/v1/videos/generations", data={"prompt": "a cat", "fps": "60"}, headers=auth("sess"))
    assert error_of(resp) == (400, "invalid_request", "fps")


@responses.activate
def test_the_returned_task_id_can_be_queried(client):
    responses.post(GENERATE_URL, json=generate_answer("123456"))
    task_id = client.post("/v1/videos/generations", json={"prompt": "x"}, headers=auth("sess")).get_json()["task_id"]
    responses.post(HISTORY_URL, json=envelope({"123456": finished_record("123456")}))
    body = client.get(f"/v1/videos/tasks/{task_id}", headers=auth("sess")).get_json()
    assert body["status"] == "completed"
    assert json.loads(responses.calls[1].request.body) == {"history_ids": ["123456"]}


@responses.activate
def test_first_frame_from_a_data_uri_is_uploaded_then_referenced(client):
    register_image_flow(responses)
    responses.post(GENERATE_URL, json=generate_answer())
    resp = client.post("/v1/videos/generations", json={"prompt": "move", "file_paths": [DATA_URI]},
                       headers=auth("sess"))
    assert resp.status_code == 200, resp.get_json()
    upload = next(c for c in responses.calls if "/upload/v1/" in c.request.url)
    assert upload.request.headers["Content-CRC32"] == format(zlib.crc32(make_png(8, 8)), "08x")
    sent = json.loads(responses.calls[-1].request.body)
    first = json.loads(sent["draft_content"])["component_list"][0]["abilities"]["gen_video"][
        "text_to_video_params"]["video_gen_inputs"][0]
    assert first["first_frame_image"]["image_uri"] == IMAGE_STORE_URI
    assert "end_frame_image" not in first


@responses.activate
def test_multipart_takes_the_same_fields_and_files(client):
    register_image_flow(responses)
    responses.post(GENERATE_URL, json=generate_answer())
    resp = client.post("/v1/videos/generations", headers=auth("sess"), content_type="multipart/form-data",
                       data={"prompt": "go", "duration": "5", "functionMode": "first_last_frames",
                             "first": (io.BytesIO(make_png(8, 8)), "a.png", "image/png")})
    assert resp.status_code == 200, resp.get_json()


@pytest.mark.parametrize("body,status,code,param", [
    ({"prompt": "x", "model": "sora-9"}, 400, "unsupported_model", "model"),
    ({"prompt": "x", "duration": 7}, 400, "invalid_request", "duration"),
    ({"prompt": "x", "ratio": "2:1"}, 400, "invalid_request", "ratio"),
    ({"prompt": "x", "model": "jimeng-video-3.5-pro", "resolution": "1080p"}, 400, "invalid_request", "resolution"),
    ({"prompt": ""}, 400, "invalid_request", "prompt"),
    ({"prompt": "x", "function_mode": "dance"}, 400, "invalid_request", "function_mode"),
    ({"prompt": "x", "file_paths": ["https://a/1.png", "https://a/2.png", "https://a/3.png"]}, 400,
     "invalid_request", "images"),
    ({"prompt": "[图2] runs", "function_mode": "main_reference", "model": "jimeng-video-3.0",
      "file_paths": ["https://a/1.png", "https://a/2.png"]}, 400, "invalid_request", "prompt"),
    ({"prompt": "x", "function_mode": "omni_reference", "model": "jimeng-video-seedance-2.0"}, 400,
     "invalid_request", "materials"),
    ({"prompt": "x", "function_mode": "omni_reference"}, 400, "invalid_request", "function_mode"),
    ({"function_mode": "multi_frame", "model": "jimeng-video-3.0",
      "frames": [{"image": "https://a/1.png", "duration": 7}, {"image": "https://a/2.png", "duration": 2}]},
     400, "invalid_request", "frames[0].duration"),
    ({"function_mode": "multi_frame", "model": "jimeng-video-3.0", "frames": [{"image": "https://a/1.png"}]},
     400, "invalid_request", "frames[0].duration"),
])
@responses.activate
def test_bad_requests_are_refused_before_any_upstream_call(client, body, status, code, param):
    resp = client.post("/v1/videos/generations", json=body, headers=auth("sess"))
    assert error_of(resp) == (status, code, param), resp.get_json()
    assert len(responses.calls) == 0


@responses.activate
def test_model_of_another_region_names_what_exists(client):
    resp = client.post("/v1/videos/generations", json={"prompt": "x", "model": "jimeng-video-veo3"},
                       headers=auth("sess"))
    assert error_of(resp) == (400, "unsupported_model", "model")
    assert "jimeng-video-3.5-pro" in resp.get_json()["error"]["message"]


def test_missing_token_is_401(client):
    assert error_of(client.post("/v1/videos/generations", json={"prompt": "x"})) == (401, "missing_token", None)


def test_malformed_json_is_400(client):
    resp = client.post("/v1/videos/generations", data="{oops", content_type="application/json", headers=auth("s"))
    assert error_of(resp)[:2] == (400, "invalid_request")


def test_wrong_content_type_is_415(client):
    resp = client.post("/v1/videos/generations", data="prompt", content_type="text/plain", headers=auth("s"))
    assert error_of(resp)[:2] == (415, "unsupported_media_type")


@pytest.mark.parametrize("route", ["/v1/videos/generations", "/v1/images/generations", "/v1/videos",
                                   "/v1/videos/tasks/batch", "/token/check"])
def test_json_sent_as_a_form_says_it_was_not_read_as_json_and_why(client, route):
    """`curl -d '{...}'` labels its body application/x-www-form-urlencoded: not "prompt is required"."""
    resp = client.post(route, data='{"prompt": "a cat", "task_ids": ["x"]}', headers=auth("s"),
                       content_type="application/x-www-form-urlencoded")
    assert error_of(resp)[:2] == (415, "unsupported_media_type")
    message = resp.get_json()["error"]["message"]
    assert "not read as JSON" in message and "application/x-www-form-urlencoded" in message
    assert "Content-Type: application/json" in message


@pytest.mark.parametrize("route", ["/v1/videos/generations", "/v1/images/generations", "/v1/videos"])
def test_a_multipart_body_without_a_boundary_says_so_instead_of_prompt_is_required(client, route):
    """`curl -H 'Content-Type: multipart/form-data' -d '{...}'`: the form cannot be read at all."""
    resp = client.post(route, data=b'{"prompt":"x","duration":5}', headers={**auth("s"),
                       "Content-Type": "multipart/form-data"})
    assert error_of(resp)[:2] == (415, "unsupported_media_type")
    assert "no boundary" in resp.get_json()["error"]["message"]


@pytest.mark.parametrize("content_type", ["text/plain", None])
def test_json_with_another_or_no_content_type_says_it_was_not_read_as_json(client, content_type):
    headers = auth("s") if content_type is None else {**auth("s"), "Content-Type": content_type}
    resp = client.post("/v1/videos/generations", data=b'{"prompt": "a cat"}', headers=headers)
    assert error_of(resp)[:2] == (415, "unsupported_media_type")
    message = resp.get_json()["error"]["message"]
    assert "not read as JSON" in message and "Content-Type: application/json" in message


def test_a_real_form_still_submits(client):
    with responses.RequestsMock() as rsps:
        rsps.post(GENERATE_URL, json=generate_answer("4722540945676"))
        resp = client.post("/v1/videos/generations", data={"prompt": "a {curly} cat"}, headers=auth("s"),
                           content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 200, resp.get_json()


def test_oversized_body_is_413(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    resp = client.post("/v1/videos/generations", data={"prompt": "x" * 4096}, headers=auth("s"))
    assert error_of(resp)[:2] == (413, "payload_too_large")


@responses.activate
def test_jimeng_refusal_maps_to_its_class(client):
    responses.post(GENERATE_URL, json=envelope(None, ret="5000", errmsg="not enough credits"))
    resp = client.post("/v1/videos/generations", json={"prompt": "x"}, headers=auth("s"))
    assert error_of(resp)[:2] == (402, "insufficient_credits")


@responses.activate
def test_a_submit_that_may_have_arrived_is_not_resent_and_can_be_found(client):
    import requests
    responses.post(GENERATE_URL, body=requests.ReadTimeout("slow"))
    resp = client.post("/v1/videos/generations", json={"prompt": "x"}, headers=auth("s"))
    status, code, _ = error_of(resp)
    assert (status, code) == (504, "upstream_timeout") and len(responses.calls) == 1
    task_id = resp.get_json()["error"]["task_id"]
    submit_id = json.loads(responses.calls[0].request.body)["submit_id"]
    responses.post(HISTORY_URL, json=envelope({submit_id: finished_record("9")}))
    body = client.get(f"/v1/videos/tasks/{task_id}", headers=auth("s")).get_json()
    assert body["status"] == "completed"
    assert json.loads(responses.calls[1].request.body) == {"submit_ids": [submit_id]}


@responses.activate
def test_an_odd_generate_answer_still_gives_a_usable_task_id(client):
    answer = generate_answer("")
    answer["data"]["aigc_data"]["forecast_queue_cost"] = "n/a"
    responses.post(GENERATE_URL, json=answer)
    resp = client.post("/v1/videos/generations", json={"prompt": "x"}, headers=auth("s"))
    assert resp.status_code == 200, resp.get_json()
    submit_id = json.loads(responses.calls[0].request.body)["submit_id"]
    responses.post(HISTORY_URL, json=envelope({submit_id: finished_record("9")}))
    body = client.get(f"/v1/videos/tasks/{resp.get_json()['task_id']}", headers=auth("s")).get_json()
    assert body["status"] == "completed"


@pytest.mark.parametrize("body,param", [
    ({"function_mode": "multi_frame", "model": "jimeng-video-3.0",
      "frames": [{"image": "https://a/1.png", "duration": 1e308}, {"image": "https://a/2.png", "duration": 2}]},
     "frames[0].duration"),
    ({"function_mode": "main_reference", "model": "jimeng-video-3.0", "prompt": "[图" + "9" * 5000 + "] x",
      "file_paths": ["https://a/1.png", "https://a/2.png"]}, "prompt"),
])
@responses.activate
def test_absurd_inputs_are_4xx_not_500(client, body, param):
    resp = client.post("/v1/videos/generations", json=body, headers=auth("s"))
    assert 400 <= resp.status_code < 500 and resp.get_json()["error"]["param"] == param


def test_a_truncated_image_header_is_not_a_500(client):
    from app.media.intake import from_data_uri
    media = from_data_uri("data:image/webp;base64,UklGRggAAABXRUJQVlA4TA==", field="f", max_bytes=1024)
    assert (media.kind, media.width, media.height) == ("image", 0, 0)


def test_deeply_nested_json_is_a_400(client):
    body = "[" * 100_000 + "]" * 100_000
    resp = client.post("/v1/videos/tasks/batch", data=body, content_type="application/json", headers=auth("s"))
    assert resp.status_code == 400


@responses.activate
def test_empty_optional_form_fields_mean_not_given(client):
    responses.post(GENERATE_URL, json=generate_answer())
    resp = client.post("/v1/videos/generations", headers=auth("s"), content_type="multipart/form-data",
                       data={"prompt": "x", "duration": "", "ratio": "", "model": "", "file_paths": ""})
    assert resp.status_code == 200, resp.get_json()


@responses.activate
def test_a_data_uri_larger_than_flasks_form_default_fits_in_multipart(client):
    responses.post(GENERATE_URL, json=generate_answer())
    register_image_flow(responses)
    responses.post("http://jimeng.test/mweb/v1/algo_proxy", json=envelope({}))
    big = "data:image/png;base64," + base64.b64encode(make_png(400, 400) + b"\0" * 600_000).decode()
    resp = client.post("/v1/videos/generations", headers=auth("s"), content_type="multipart/form-data",
                       data={"prompt": "x", "file_paths": big})
    assert resp.status_code == 200, resp.get_json()


@pytest.mark.parametrize("duration", [5.5, "5.5", "five"])
def test_a_fractional_duration_is_refused_not_cut(client, duration):
    resp = client.post("/v1/videos/generations", json={"prompt": "x", "duration": duration}, headers=auth("s"))
    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "duration"
