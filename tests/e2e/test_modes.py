"""Every video mode end to end: real uploads (ImageX/VOD signing checked by the sandbox), real drafts
(checked against the protocol by the sandbox), followed to completed; blocking mode gives the same video."""
from __future__ import annotations

import pathlib

import pytest
import requests

from sandbox.stack import Stack
from tests.e2e.conftest import FAST, TIMEOUT, poll_until_finished

pytestmark = pytest.mark.e2e
ASSETS = pathlib.Path(__file__).resolve().parents[2] / "sandbox" / "assets"


def asset_url(stack: Stack, name: str) -> str:
    return f"{stack.sandbox_url}/assets/{name}"


def run_to_the_end(stack: Stack, http: requests.Session, **request) -> dict:
    resp = http.post(f"{stack.service_url}/v1/videos/generations", timeout=TIMEOUT, **request)
    assert resp.status_code == 200, resp.text
    final = poll_until_finished(stack, http, resp.json()["task_id"])[-1]
    assert final["status"] == "completed", final
    return final


def test_text_to_video_and_first_last_frames(stack, http):
    png = asset_url(stack, "sample.png")
    run_to_the_end(stack, http, json={"prompt": f"{FAST} the flower opens", "model": "jimeng-video-3.0",
                                      "resolution": "1080p", "filePaths": [png, asset_url(stack, "sample.jpg")]})


def test_first_frame_uploaded_as_a_multipart_file(stack, http):
    with open(ASSETS / "sample.png", "rb") as image:
        run_to_the_end(stack, http, data={"prompt": f"{FAST} it moves", "duration": "10"},
                       files={"first": ("first.png", image, "image/png")})


def test_multi_frame(stack, http):
    png = asset_url(stack, "sample.png")
    run_to_the_end(stack, http, json={
        "prompt": FAST, "function_mode": "multi_frame", "model": "jimeng-video-3.0",
        "frames": [{"image": png, "prompt": "sit", "duration": 2}, {"image": png, "prompt": "stand", "duration": 3},
                   {"image": png, "prompt": "", "duration_ms": 1500}]})


def test_main_reference(stack, http):
    png = asset_url(stack, "sample.png")
    run_to_the_end(stack, http, json={
        "prompt": f"{FAST} [图0] 中的猫在[图1]的地板上跑", "function_mode": "main_reference",
        "model": "jimeng-video-3.0", "file_paths": [png, asset_url(stack, "sample.jpg")]})


def test_omni_reference_with_images_and_a_video(stack, http):
    with open(ASSETS / "sample.png", "rb") as image:
        run_to_the_end(stack, http, data={
            "prompt": f"{FAST} @cat.png dances like @video_file_1 under @image_file_2",
            "function_mode": "omni_reference", "model": "jimeng-video-seedance-2.0-fast", "duration": "6",
            "image_file_2": asset_url(stack, "sample.jpg"), "video_file_1": asset_url(stack, "sample.mp4")},
            files={"image_file_1": ("cat.png", image, "image/png")})


def test_an_omni_video_over_15_s_is_refused_before_upload(stack, http):
    resp = http.post(f"{stack.service_url}/v1/videos/generations", timeout=TIMEOUT, json={
        "prompt": "x", "function_mode": "omni_reference", "model": "jimeng-video-seedance-2.0",
        "video_file": asset_url(stack, "long.mp4")})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "video_file"


def test_blocking_mode_returns_the_same_video_as_async(stack, http):
    request = {"prompt": f"{FAST} a lighthouse", "duration": 5}
    async_final = run_to_the_end(stack, http, json=request)
    resp = http.post(f"{stack.service_url}/v1/videos/generations", json={**request, "wait": True},
                     timeout=(5, 60))
    body = resp.json()
    assert resp.status_code == 200 and set(body) == {"created", "task_id", "data"}, body
    assert body["data"][0]["revised_prompt"] == request["prompt"]
    blocking_bytes = requests.get(body["data"][0]["url"], timeout=TIMEOUT).content
    async_bytes = requests.get(async_final["result"]["url"], timeout=TIMEOUT).content
    assert blocking_bytes == async_bytes and blocking_bytes[4:8] == b"ftyp"
