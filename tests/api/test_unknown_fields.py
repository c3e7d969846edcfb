"""A field a route does not know is a 400 naming it and the fields it knows (OpenAI's API answers so), never
silently dropped; what OpenAI's SDK, litellm and gateways send on the OpenAI routes is still accepted."""
import io

import pytest
import responses

from tests.api.helpers import auth
from tests.captures import har_bytes
from tests.jimeng_fakes import GENERATE_URL, envelope, generate_answer
from tests.media_samples import make_png


def refused_field(resp) -> tuple[str, str]:
    err = resp.get_json()["error"]
    assert (resp.status_code, err["code"]) == (400, "invalid_request"), err
    return err["param"], err["message"]


@pytest.mark.parametrize("route", ["/v1/videos/generations", "/v1/videos", "/v1/images/generations",
                                   "/v1/images/compositions", "/v1/images/edits"])
def test_a_misspelled_prompt_is_named_with_the_known_fields_and_nothing_is_sent(client, route):
    with responses.RequestsMock():          # nothing registered: any upstream call would fail the test
        resp = client.post(route, json={"promt": "a cat"}, headers=auth("s"))
    param, message = refused_field(resp)
    assert param == "promt"
    assert "did you mean prompt?" in message and "known fields:" in message and "model" in message


def test_a_form_field_is_checked_the_same_way(client):
    resp = client.post("/v1/videos/generations", data={"prompt": "a cat", "durration": "5"}, headers=auth("s"))
    param, message = refused_field(resp)
    assert param == "durration" and "did you mean duration?" in message
    assert "image_file_1..9" in message and "fps" in message      # numbered fields read as one run


def test_an_unknown_field_inside_a_frame_names_its_place(client):
    frames = [{"image": "https://x/a.png", "duration": 2, "promt": "dawn"}, {"image": "https://x/b.png", "duration": 2}]
    resp = client.post("/v1/videos/generations", json={"function_mode": "multi_frame", "model": "jimeng-video-3.0",
                                                       "frames": frames}, headers=auth("s"))
    assert refused_field(resp)[0] == "frames[0].promt"


@responses.activate
def test_older_spellings_are_still_read(client):
    responses.post(GENERATE_URL, json=generate_answer())
    resp = client.post("/v1/videos/generations", json={"prompt": "a cat", "functionMode": "first_last_frames",
                                                       "filePaths": [], "responseFormat": "url"}, headers=auth("s"))
    assert resp.status_code == 200, resp.get_json()


@responses.activate
def test_what_openais_sdk_sends_to_the_images_api_is_accepted(client):
    """The official SDK's images.generate fields that mean nothing to Jimeng (openai/types/image_generate_params.py)."""
    responses.post(GENERATE_URL, json=generate_answer())
    body = {"prompt": "a fox", "model": "jimeng-5.0-pro", "n": 1, "size": "1024x1024", "quality": "hd",
            "response_format": "url", "style": "vivid", "user": "u-1", "background": "auto", "moderation": "low",
            "output_format": "png", "output_compression": 90, "partial_images": 0, "safety_identifier": "s-1",
            "stream": False}
    resp = client.post("/v1/images/generations", json=body, headers={**auth("s"), "Prefer": "respond-async"})
    assert resp.status_code == 200, resp.get_json()


@responses.activate
def test_the_sdks_video_create_form_is_accepted_and_fps_passes(client):
    responses.post(GENERATE_URL, json=generate_answer())
    resp = client.post("/v1/videos", data={"prompt": "a cat", "model": "jimeng-video-3.0", "seconds": "5",
                                           "size": "1280x720", "fps": "24"}, headers=auth("s"))
    assert resp.status_code == 200, resp.get_json()


def test_openais_create_names_a_field_neither_shape_knows(client):
    param, message = refused_field(client.post("/v1/videos", json={"prompt": "a", "second": "5"}, headers=auth("s")))
    assert param == "second" and "did you mean seconds?" in message and "input_reference" in message


def test_a_batch_with_a_misspelled_ids_field_is_named(client):
    resp = client.post("/v1/videos/tasks/batch", json={"task_id": ["x"]}, headers=auth("s"))
    param, message = refused_field(resp)
    assert param == "task_id" and "did you mean task_ids?" in message


def test_a_token_check_with_another_field_is_named(client):
    param, message = refused_field(client.post("/token/check", json={"token": "abc", "region": "us"}))
    assert param == "region" and "known fields: token" in message


@pytest.mark.parametrize("route", ["/token/points", "/token/receive", "/v1/videos/tasks/AQIAx/cancel"])
def test_routes_that_take_no_fields_refuse_one_and_still_take_an_empty_body(client, route):
    with responses.RequestsMock():
        resp = client.post(route, json={"force": True}, headers=auth("s"))
    param, message = refused_field(resp)
    assert param == "force" and "takes no fields" in message


@responses.activate
def test_an_empty_body_on_a_route_that_takes_no_fields_is_fine(client):
    responses.post("http://jimeng.test/commerce/v1/benefits/user_credit", json=envelope(
        {"credit": {"gift_credit": 5, "purchase_credit": 0, "vip_credit": 0}}))
    for body in ({"json": {}}, {}):
        assert client.post("/token/points", headers=auth("s"), **body).status_code == 200


def test_a_capture_in_another_multipart_field_is_named(client):
    resp = client.post("/v1/doctor/capture", headers=auth("s"),
                       data={"har": (io.BytesIO(har_bytes([])), "capture.har")})
    err = resp.get_json()["error"]
    assert resp.status_code == 400 and err["param"] == "har" and "unknown field" in err["message"]
    assert "'file'" in err["message"]


def test_a_multipart_edit_names_an_unknown_text_field_beside_its_file(client):
    """The file goes under a name the route knows (image); the text fields are checked as JSON's are."""
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        resp = client.post("/v1/images/edits", headers=auth("s"), data={
            "prompt": "ink", "promt": "x", "image": (io.BytesIO(make_png(8, 8)), "a.png")})
    assert refused_field(resp)[0] == "promt"


@pytest.mark.parametrize("route", ["/v1/videos", "/v1/videos/generations", "/v1/images/generations"])
def test_a_body_of_thousands_of_unknown_fields_names_the_first_and_counts_the_rest(client, route):
    """80,000 unknown keys (a 1 MB body) used to cost seconds of CPU; the answer names the first few."""
    body = {"prompt": "x", **{f"k{i}": 1 for i in range(80_000)}}
    with responses.RequestsMock():
        param, message = refused_field(client.post(route, json=body, headers=auth("s")))
    assert param == "k0"
    assert "also unknown: k1, k2, k3 and 79996 more" in message and "known fields:" in message


@responses.activate
@pytest.mark.parametrize("as_form", [False, True])
def test_litellms_user_on_the_video_create_is_accepted_and_not_sent(client, as_form):
    """litellm.video_generation(user=...) sends `user` to POST /v1/videos."""
    responses.post(GENERATE_URL, json=generate_answer())
    body = {"prompt": "a cat", "model": "jimeng-video-3.0", "seconds": "5", "user": "u1"}
    resp = client.post("/v1/videos", **({"data": body} if as_form else {"json": body}), headers=auth("s"))
    assert resp.status_code == 200, resp.get_json()
    assert b"u1" not in responses.calls[-1].request.body


def test_a_bracketed_key_of_a_field_that_is_not_ignored_is_still_unknown(client):
    resp = client.post("/v1/images/generations", data={"prompt": "x", "size[w]": "1"}, headers=auth("s"))
    assert refused_field(resp)[0] == "size[w]"
