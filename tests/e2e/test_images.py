"""Images end to end: the service under gunicorn in front of the sandbox, which checks every image
draft against the protocol (gen_count and where it sits, model keys, ratio codes, sizes, uploads)."""
from __future__ import annotations

import base64
import pathlib
import time

import pytest
import requests

from sandbox.checks import fingerprint
from tests.e2e.conftest import FAST, POLL_DEADLINE, POLL_INTERVAL, TIMEOUT, poll_until_finished

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


def upstream_record(stack, http, results: int) -> dict:
    """The sandbox's view of this session's newest image record of `results` images."""
    session = fingerprint(http.headers["Authorization"].removeprefix("Bearer "))
    records = requests.get(f"{stack.sandbox_url}/_sandbox/records", timeout=TIMEOUT).json()["records"]
    return max((r for r in records if r["session"] == session and r["kind"] == "image" and r["results"] == results),
               key=lambda r: r["created_time"])


def follow_beside_the_record(stack, http, task_id: str, results: int) -> list[tuple[dict, dict, dict]]:
    """Per poll until the task ends: (the upstream record just before, the service's state, the
    upstream record just after). Records only move forward, so what both readings agree on held when
    the service answered."""
    polls = []
    deadline = time.monotonic() + POLL_DEADLINE
    while time.monotonic() < deadline:
        before = upstream_record(stack, http, results)
        resp = http.get(f"{stack.service_url}/v1/images/tasks/{task_id}", timeout=TIMEOUT)
        assert resp.status_code == 200, resp.text
        polls.append((before, resp.json(), upstream_record(stack, http, results)))
        if polls[-1][1]["status"] in ("completed", "failed"):
            return polls
        time.sleep(POLL_INTERVAL)
    pytest.fail(f"task still {polls[-1][1]['status'] if polls else 'unseen'} after {POLL_DEADLINE} s")


def test_async_eight_images_are_completed_only_when_all_eight_are_there(stack, http):
    # Two rounds of 4 over a 2 s generation: about 1 s with 4 images there and 4 to come.
    resp = post(stack, http, "generations", json={"prompt": "[sandbox:queue=1] [sandbox:generate=2] eight foxes",
                                                  "n": 8, "resolution": "1.5k", "async": True})
    assert resp.status_code == 200, resp.text

    polls = follow_beside_the_record(stack, http, resp.json()["task_id"], 8)

    final = polls[-1][1]
    assert final["status"] == "completed" and final["progress"] == 100
    assert len(final["result"]["images"]) == 8
    # Some poll came while the first round was delivered and the second was not: still processing.
    assert any(state["status"] == "processing" and 0 < before["delivered"] < 8 for before, state, _ in polls)
    progress = [state["progress"] for _, state, _ in polls]
    assert progress == sorted(progress)


def test_a_round_marked_finished_with_more_to_come_is_processing_until_the_rest_arrives(stack, http):
    # protocol 6.4: the first 4 come back as a finished record (50, 4 of 8), then the rest follows.
    prompt = "[sandbox:queue=1] [sandbox:generate=1] [sandbox:pause=2] eight foxes after a pause"
    resp = post(stack, http, "generations", json={"prompt": prompt, "n": 8, "async": True})
    assert resp.status_code == 200, resp.text

    polls = follow_beside_the_record(stack, http, resp.json()["task_id"], 8)

    in_pause = [state for before, state, after in polls
                if before["phase"] == after["phase"] == "paused" and before["delivered"] == after["delivered"] == 4]
    assert in_pause, [(b["phase"], s["status"]) for b, s, _ in polls]
    assert all(state["status"] == "processing" and "result" not in state for state in in_pause)
    assert all(state["progress"] >= 49 for state in in_pause)        # half the images: at least half way
    final = polls[-1][1]
    assert final["status"] == "completed" and len(final["result"]["images"]) == 8


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
