"""A list field longer than any mode takes is a 400 naming the field and its limit, before a single item
is loaded: 30,000 frames in a 0.9 MB body used to cost seconds of CPU before the 2-10 frames rule."""
from __future__ import annotations

import json

import pytest
import responses

from tests.api.helpers import auth

FRAME = {"image": "h", "duration": 1}
LONG = [
    ("/v1/videos/generations", {"function_mode": "multi_frame", "frames": [FRAME] * 30_000}, "frames", 10),
    ("/v1/videos", {"function_mode": "multi_frame", "frames": [FRAME] * 11}, "frames", 10),
    ("/v1/videos/generations", {"file_paths": ["https://x/a.png"] * 13}, "file_paths", 12),
    ("/v1/images/compositions", {"images": ["https://x/a.png"] * 11}, "images", 10),
    ("/v1/images/edits", {"images": [{"url": "https://x/a.png"}] * 5000}, "images", 10),
]


@pytest.mark.parametrize("route, body, field, limit", LONG)
def test_a_list_longer_than_any_mode_takes_is_refused_naming_its_limit(client, route, body, field, limit):
    with responses.RequestsMock():          # nothing registered: any upstream call would fail the test
        resp = client.post(route, json={"prompt": "x", **body}, headers=auth("s"))
    err = resp.get_json()["error"]
    assert (resp.status_code, err["code"], err["param"]) == (400, "invalid_request", field), err
    assert f"at most {limit} items, got {len(body[field])}" in err["message"]


def test_a_long_frames_array_in_a_form_is_refused_the_same_way(client):
    form = {"prompt": "x", "function_mode": "multi_frame", "frames": json.dumps([FRAME] * 500)}
    with responses.RequestsMock():
        resp = client.post("/v1/videos/generations", data=form, headers=auth("s"))
    err = resp.get_json()["error"]
    assert (resp.status_code, err["param"]) == (400, "frames") and "at most 10 items, got 500" in err["message"]


def test_the_spec_shows_the_bounds(client):
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    video = next(s for name, s in schemas.items() if name.startswith("VideoSubmit"))
    assert video["properties"]["frames"]["maxItems"] == 10 and video["properties"]["file_paths"]["maxItems"] == 12
