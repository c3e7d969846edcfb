"""Issue 21, section 2: a value of the wrong type is a 400 naming its field; never a 500, never the
default model (and a charged task), never a number cut short. Nothing reaches Jimeng."""
from __future__ import annotations

import pytest
import responses

from tests.api.helpers import auth

WRONG_TYPES = [False, 0, [], {}, [None, None], {"a": 1}, [["x"]], 2.5]
DEEP = "[" * 100_000


def refused(resp, param: str) -> None:
    body = resp.get_json()
    assert resp.status_code == 400, body
    assert body["error"]["code"] == "invalid_request" and body["error"]["param"] == param, body


@responses.activate
@pytest.mark.parametrize("model", WRONG_TYPES, ids=repr)
def test_a_wrong_typed_model_on_openai_create_is_a_400_not_the_default_model(client, model):
    resp = client.post("/v1/videos", json={"prompt": "a cat", "model": model}, headers=auth("sess"))

    refused(resp, "model")
    assert len(responses.calls) == 0, "a wrong-typed model was submitted (and charged) as the default"


OUR_VIDEO_FIELDS = [("duration", 5.5), ("duration", True), ("duration", "5.5"), ("ratio", ["16:9"]),
                    ("prompt", {"a": 1}), ("function_mode", 1), ("wait", [])]
OPENAI_VIDEO_FIELDS = [("seconds", 5.5), ("seconds", True), ("seconds", [5]), ("size", {}), ("size", ["1280x720"])]
VIDEO_CASES = ([("/v1/videos", *case) for case in OUR_VIDEO_FIELDS + OPENAI_VIDEO_FIELDS]
               + [("/v1/videos/generations", *case) for case in OUR_VIDEO_FIELDS])


@responses.activate
@pytest.mark.parametrize("route, name, value", VIDEO_CASES)
def test_openai_and_our_video_fields_of_the_wrong_type_are_a_400_naming_them(client, route, name, value):
    resp = client.post(route, json={"prompt": "a cat", name: value}, headers=auth("sess"))

    refused(resp, name)
    assert len(responses.calls) == 0


@responses.activate
@pytest.mark.parametrize("route", ["/v1/images/generations", "/v1/images/compositions", "/v1/images/edits"])
@pytest.mark.parametrize("n", [2.9, "2.9", True, [2], "two"], ids=repr)
def test_a_fractional_or_odd_image_count_is_a_400_not_truncated(client, route, n):
    resp = client.post(route, json={"prompt": "a fox", "n": n, "images": ["https://example.com/a.png"]},
                       headers=auth("sess"))

    refused(resp, "n")
    assert len(responses.calls) == 0


@responses.activate
@pytest.mark.parametrize("route", ["/v1/images/generations", "/v1/images/compositions", "/v1/images/edits"])
def test_a_fractional_image_count_in_multipart_is_a_400_too(client, route):
    resp = client.post(route, data={"prompt": "a fox", "n": "2.9"}, content_type="multipart/form-data",
                       headers=auth("sess"))

    refused(resp, "n")


@responses.activate
@pytest.mark.parametrize("route", ["/v1/images/generations", "/v1/images/compositions", "/v1/images/edits"])
def test_images_nested_deeper_than_the_parser_goes_is_a_400(client, route):
    resp = client.post(route, data={"prompt": "a fox", "images": DEEP}, content_type="multipart/form-data",
                       headers=auth("sess"))

    refused(resp, "images")
    assert len(responses.calls) == 0


@pytest.mark.parametrize("route", ["/v1/videos", "/v1/videos/generations"])
@pytest.mark.parametrize("name", ["file_paths", "frames"])
def test_video_list_fields_nested_deeper_than_the_parser_goes_are_a_400(client, route, name):
    resp = client.post(route, data={"prompt": "a cat", name: DEEP}, content_type="multipart/form-data",
                       headers=auth("sess"))

    refused(resp, name)


@responses.activate
def test_a_whole_number_given_as_text_or_as_a_whole_float_is_still_read(client):
    # Multipart sends numbers as text; 2.0 is a whole number. Neither is a wrong type.
    resp = client.post("/v1/images/generations", json={"prompt": "a fox", "n": 2.0, "ratio": "9:9"},
                       headers=auth("sess"))
    assert resp.get_json()["error"]["param"] == "ratio", resp.get_json()      # n passed, ratio did not
    resp = client.post("/v1/images/generations", data={"prompt": "a fox", "n": "2", "ratio": "9:9"},
                       content_type="multipart/form-data", headers=auth("sess"))
    assert resp.get_json()["error"]["param"] == "ratio", resp.get_json()
