"""One task, one id, against the sandbox under gunicorn: for every mode and kind, the id the submit
answered is the id the list, a query, both batches and the OpenAI routes show, while the task
is queued and once it has ended (Jimeng's forecast changes in between)."""
from __future__ import annotations

import pathlib
import secrets

import pytest

from tests.e2e.conftest import FAST, TIMEOUT, poll_until_finished, session_for

pytestmark = pytest.mark.e2e
ASSETS = pathlib.Path(__file__).resolve().parents[2] / "sandbox" / "assets"


def video_submits(stack) -> dict[str, tuple[str, dict]]:
    png, jpg = f"{stack.sandbox_url}/assets/sample.png", f"{stack.sandbox_url}/assets/sample.jpg"
    return {
        "text": ("/v1/videos/generations", {"json": {"prompt": f"{FAST} a cat"}}),
        "first_last_frames": ("/v1/videos/generations", {"json": {
            "prompt": f"{FAST} morph", "model": "jimeng-video-3.0", "file_paths": [png, jpg]}}),
        "multi_frame": ("/v1/videos/generations", {"json": {
            "prompt": FAST, "function_mode": "multi_frame", "model": "jimeng-video-3.0",
            "frames": [{"image": png, "prompt": "sit", "duration": 2}, {"image": png, "duration": 2}]}}),
        "main_reference": ("/v1/videos/generations", {"json": {
            "prompt": f"{FAST} [图0] 在[图1]里跑", "function_mode": "main_reference", "model": "jimeng-video-3.0",
            "file_paths": [png, jpg]}}),
        "omni_reference": ("/v1/videos/generations", {"data": {
            "prompt": f"{FAST} @image_file_1 dances like @video_file_1", "function_mode": "omni_reference",
            "model": "jimeng-video-seedance-2.0-fast", "duration": "5", "image_file_1": png,
            "video_file_1": f"{stack.sandbox_url}/assets/sample.mp4"}}),
        "openai_create": ("/v1/videos", {"json": {"prompt": f"{FAST} a boat", "model": "jimeng-video-3.0",
                                                  "seconds": "5", "size": "1280x720"}}),
    }


def shown_ids(stack, http, task_id: str, kind: str) -> dict[str, str]:
    """Where each route shows the task: route -> the id it shows."""
    base = f"{stack.service_url}/v1/{kind}s"
    one = http.get(f"{base}/tasks/{task_id}", timeout=TIMEOUT).json()
    batch = http.post(f"{base}/tasks/batch", json={"task_ids": [task_id]}, timeout=TIMEOUT).json()["data"][0]
    by_get = http.get(f"{base}/tasks", params={"ids": task_id}, timeout=TIMEOUT).json()["data"][0]
    shown = {"query": one["task_id"], "batch": batch["task_id"], "batch_get": by_get["task_id"]}
    assert "not_found" not in (one["status"], batch["status"], by_get["status"]), (one, batch, by_get)
    if kind == "video":
        listed = http.get(f"{base}", params={"limit": 100}, timeout=TIMEOUT).json()["data"]
        shown["list"] = next((v["id"] for v in listed if v["id"] == task_id), f"not listed among {len(listed)}")
        shown["openai_retrieve"] = http.get(f"{base}/{task_id}", timeout=TIMEOUT).json()["id"]
    return shown


@pytest.mark.parametrize("mode", ["text", "first_last_frames", "multi_frame", "main_reference", "omni_reference",
                                  "openai_create"])
def test_a_video_shows_its_submit_id_everywhere_while_queued_and_when_ended(stack, mode):
    http = session_for(f"e2e-ids-{secrets.token_hex(6)}")
    path, request = video_submits(stack)[mode]
    resp = http.post(f"{stack.service_url}{path}", timeout=TIMEOUT, **request)
    assert resp.status_code == 200, resp.text
    task_id = resp.json().get("task_id") or resp.json()["id"]

    while_queued = shown_ids(stack, http, task_id, "video")
    poll_until_finished(stack, http, task_id)
    when_ended = shown_ids(stack, http, task_id, "video")

    assert set(while_queued.values()) == set(when_ended.values()) == {task_id}, (while_queued, when_ended)


@pytest.mark.parametrize("path,request_", [
    ("/v1/images/generations", {"json": {"prompt": f"{FAST} a fox", "n": 2, "async": True}}),
    ("/v1/images/compositions", {"json": {"prompt": f"{FAST} blend", "async": True}}),
], ids=["text", "composition"])
def test_an_image_task_shows_its_submit_id_everywhere(stack, path, request_):
    http = session_for(f"e2e-ids-{secrets.token_hex(6)}")
    if "compositions" in path:
        request_ = {"json": {**request_["json"], "images": [f"{stack.sandbox_url}/assets/sample.png"]}}
    resp = http.post(f"{stack.service_url}{path}", timeout=TIMEOUT, **request_)
    assert resp.status_code == 200, resp.text
    task_id = resp.json()["task_id"]

    while_queued = shown_ids(stack, http, task_id, "image")
    poll_until_finished(stack, http, task_id, kind="images")
    when_ended = shown_ids(stack, http, task_id, "image")

    assert set(while_queued.values()) == set(when_ended.values()) == {task_id}, (while_queued, when_ended)
