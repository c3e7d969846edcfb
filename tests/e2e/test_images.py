"""Images end to end: the service under gunicorn in front of the sandbox, which checks every image
draft against the protocol (gen_count and where it sits, model keys, ratio codes, sizes, uploads)."""
from __future__ import annotations

import base64
import pathlib

import pytest

from tests.e2e.conftest import FAST, TIMEOUT, poll_until_finished

pytestmark = pytest.mark.e2e
ASSETS = pathlib.Path(__file__).resolve().parents[2] / "sandbox" / "assets"


def post(stack, http, path: str, **request):
    return http.post(f"{stack.service_url}/v1/images/{path}", timeout=TIMEOUT, **request)


def test_sync_text_to_image_answers_every_image(stack, http):
    resp = post(stack, http, "generations", json={"prompt": f"{FAST} a fox in snow", "n": 3, "ratio": "16:9"})

    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert len(data) == 3 and all(d["revised_prompt"].endswith("a fox in snow") for d in data)
    image = http.get(data[2]["url"], timeout=TIMEOUT)
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


def test_sync_b64_json_with_openai_size_and_quality(stack, http):
    resp = post(stack, http, "generations", json={"prompt": f"{FAST} a fox", "model": "jimeng-4.7",
                                                  "size": "1024x1536", "quality": "hd", "response_format": "b64_json"})

    assert resp.status_code == 200, resp.text
    assert base64.b64decode(resp.json()["data"][0]["b64_json"]).startswith(b"\x89PNG")


def test_async_eight_images_are_completed_only_when_all_eight_are_there(stack, http):
    resp = post(stack, http, "generations", json={"prompt": f"{FAST} eight foxes", "n": 8, "resolution": "1.5k",
                                                  "async": True})
    assert resp.status_code == 200, resp.text

    seen = poll_until_finished(stack, http, resp.json()["task_id"], kind="images")

    final = seen[-1]
    assert final["status"] == "completed" and final["progress"] == 100
    assert len(final["result"]["images"]) == 8
    assert all(s["status"] != "completed" for s in seen[:-1])
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress)


def test_composition_from_a_url_and_a_file(stack, http):
    with open(ASSETS / "sample.jpg", "rb") as jpg:
        resp = post(stack, http, "compositions", data={
            "prompt": f"{FAST} the cat on the sofa", "images": f"{stack.sandbox_url}/assets/sample.png",
            "n": "2", "async": "true"}, files={"images": ("sofa.jpg", jpg, "image/jpeg")})
    assert resp.status_code == 200, resp.text

    final = poll_until_finished(stack, http, resp.json()["task_id"], kind="images")[-1]

    assert final["status"] == "completed" and len(final["result"]["images"]) == 2


def test_openai_edit_answers_at_once_with_the_images(stack, http):
    with open(ASSETS / "sample.png", "rb") as png:
        resp = post(stack, http, "edits", data={"prompt": f"{FAST} make it blue", "size": "1024x1024"},
                    files={"image[]": ("a.png", png, "image/png")})

    assert resp.status_code == 200, resp.text
    assert resp.json()["data"][0]["url"].startswith("http")


def test_batch_mixes_image_states_and_refuses_video_ids(stack, http):
    tasks = [post(stack, http, "generations", json={"prompt": f"{FAST} fox {i}", "async": True}).json()["task_id"]
             for i in range(2)]
    video = http.post(f"{stack.service_url}/v1/videos/generations", json={"prompt": f"{FAST} a fox"},
                      timeout=TIMEOUT).json()["task_id"]

    answer = http.post(f"{stack.service_url}/v1/images/tasks/batch", json={"task_ids": [*tasks, video]},
                       timeout=TIMEOUT)

    assert answer.status_code == 200, answer.text
    statuses = [d["status"] for d in answer.json()["data"]]
    assert statuses[2] == "not_found" and all(s in ("pending", "processing", "completed") for s in statuses[:2])
    assert http.get(f"{stack.service_url}/v1/videos/tasks/{tasks[0]}", timeout=TIMEOUT).status_code == 404


def test_content_policy_failure_has_its_fail_code(stack, http):
    resp = post(stack, http, "generations", json={"prompt": f"{FAST} [sandbox:fail=2038] a forbidden scene",
                                                  "async": True})

    final = poll_until_finished(stack, http, resp.json()["task_id"], kind="images")[-1]

    assert (final["status"], final["error_code"], final["upstream_code"]) == ("failed", "content_rejected", "2038")
    sync = post(stack, http, "generations", json={"prompt": f"{FAST} [sandbox:fail=2038] again"})
    assert sync.status_code == 400 and sync.json()["error"]["code"] == "content_rejected"
