"""Holes of issue 8 that a misbehaving upstream opens (4: b64 reset; 6: content type, upload 429,
huge upload-token answer). Each of these tests failed before its fix."""
from __future__ import annotations

import base64

from sandbox.stack import ROOT
from tests.api.helpers import auth

PNG = (ROOT / "sandbox" / "assets" / "sample.png").read_bytes()
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()


def finished_task(service, token: str) -> str:
    resp = service.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth(token))
    task_id = resp.get_json()["task_id"]
    state = service.get(f"/v1/videos/tasks/{task_id}", headers=auth(token)).get_json()
    assert state["status"] == "completed", state
    return task_id


def test_b64_content_with_the_host_resetting_mid_body_is_502(service, upstream, token):
    task_id = finished_task(service, token)
    upstream.inject("/media/*", "reset_mid_body")

    resp = service.get(f"/v1/videos/tasks/{task_id}/content?format=b64_json", headers=auth(token))

    assert resp.status_code == 502 and resp.get_json()["error"]["code"] == "upstream_error"


def test_content_labelled_html_by_the_host_is_502_not_passed_through(service, upstream, token):
    task_id = finished_task(service, token)
    upstream.inject("/media/*", "html_200")

    resp = service.get(f"/v1/videos/tasks/{task_id}/content", headers=auth(token))

    assert resp.status_code == 502 and resp.get_json()["error"]["code"] == "upstream_error"
    assert "text/html" in resp.get_json()["error"]["message"]


def test_429_on_an_upload_step_is_429_not_503(service, upstream, token):
    upstream.inject("/?Action=ApplyImageUpload", "http_429", count=3)

    resp = service.post("/v1/videos/generations", json={"prompt": "a cat", "file_paths": [PNG_URI]},
                        headers=auth(token))

    assert resp.status_code == 429 and resp.get_json()["error"]["code"] == "rate_limited"
    assert resp.headers.get("Retry-After") == "7"


def test_a_huge_upload_token_answer_is_502_not_401(service, upstream, token):
    upstream.inject("/mweb/v1/get_upload_token", "huge_body", count=3)

    resp = service.post("/v1/videos/generations", json={"prompt": "a cat", "file_paths": [PNG_URI]},
                        headers=auth(token))

    assert resp.status_code == 502 and resp.get_json()["error"]["code"] == "upstream_error"


MP4 = (ROOT / "sandbox" / "assets" / "sample.mp4").read_bytes()
OMNI = {"prompt": "a cat like @video_file", "function_mode": "omni_reference", "duration": 6,
        "model": "jimeng-video-seedance-2.0-fast", "image_file": PNG_URI,
        "video_file": "data:video/mp4;base64," + base64.b64encode(MP4).decode()}


def test_a_vid_that_is_not_text_is_refused_before_generate(service, upstream, token):
    def odd(answer):
        answer["Result"]["Results"] = [{"Vid": {"odd": 1}}]

    upstream.inject("/?Action=CommitUploadInner", "odd_records", mutate=odd)
    before = upstream.calls["/mweb/v1/aigc_draft/generate"]

    resp = service.post("/v1/videos/generations", json=OMNI, headers=auth(token))

    assert resp.status_code == 502 and resp.get_json()["error"]["code"] == "upstream_error"
    assert upstream.calls["/mweb/v1/aigc_draft/generate"] == before


def test_an_image_size_that_is_not_a_number_is_not_a_500(service, upstream, token):
    def odd(answer):
        answer["Result"]["PluginResult"] = [{"ImageWidth": "wide", "ImageHeight": [1]}]

    upstream.inject("/?Action=CommitImageUpload", "odd_records", mutate=odd)

    resp = service.post("/v1/videos/generations", json={"prompt": "a cat", "file_paths": [PNG_URI]},
                        headers=auth(token))

    assert resp.status_code == 200, resp.get_json()
