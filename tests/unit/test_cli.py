"""The command-line client against a mocked service (`responses` stands in for its HTTP API)."""
from __future__ import annotations

import json

import pytest
import requests
import responses
from responses import matchers

from app import cli

BASE = "http://service.test"
TOKEN = "secret-session-id-123"
TASK_ID = "vid_AbC-123"
TASK_URL = f"{BASE}/v1/videos/tasks/{TASK_ID}"
VIDEO_URL = "https://cdn.test/video.mp4"
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 1000


class FakeTime:
    """Stands in for the `time` module inside `app.cli`: sleeping only advances the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    clock = FakeTime()
    monkeypatch.setattr(cli, "time", clock)
    return clock


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def run(*argv: str) -> int:
    return cli.main(["--base-url", BASE, "--token", TOKEN, *argv])


def state(status: str, progress: int, **extra) -> dict:
    return {"task_id": TASK_ID, "status": status, "progress": progress, "created": 1700000000,
            "model": "jimeng-video-3.0", **extra}


def test_submit_sends_the_prompt_and_options_as_json(mocked, capsys):
    mocked.post(f"{BASE}/v1/videos/generations",
                match=[matchers.json_params_matcher({
                    "prompt": "a red fox", "model": "jimeng-video-3.0", "ratio": "16:9",
                    "resolution": "1080p", "duration": 10, "function_mode": "first_last_frames",
                    "file_paths": ["https://img.test/a.png"]}),
                    matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})],
                json={"created": 1700000000, "task_id": TASK_ID, "status": "pending",
                      "model": "jimeng-video-3.0"})

    code = run("submit", "a red fox", "--model", "jimeng-video-3.0", "--ratio", "16:9",
               "--resolution", "1080p", "--duration", "10", "--mode", "first_last_frames",
               "--image", "https://img.test/a.png")

    assert code == 0
    assert capsys.readouterr().out == f"{TASK_ID}\n"


def test_submit_asks_for_a_webhook(mocked):
    mocked.post(f"{BASE}/v1/videos/generations",
                match=[matchers.json_params_matcher({"prompt": "a fox", "webhook_url": "https://hooks.test/in",
                                                     "webhook_events": ["video.completed"]})],
                json={"created": 1, "task_id": TASK_ID, "status": "pending", "model": "m"})

    assert run("submit", "a fox", "--webhook-url", "https://hooks.test/in", "--webhook-events", "video.completed") == 0


def test_submit_uploads_local_images_as_files_and_urls_as_file_paths(mocked, tmp_path):
    frame = tmp_path / "first.png"
    frame.write_bytes(b"\x89PNG fake")
    mocked.post(f"{BASE}/v1/videos/generations",
                json={"created": 1, "task_id": TASK_ID, "status": "pending", "model": "m"})

    code = run("submit", "a fox", "--image", str(frame), "--image", "https://img.test/last.png")

    assert code == 0
    request = mocked.calls[0].request
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    body = request.body
    assert b'name="image_file_1"; filename="first.png"' in body
    assert b"\x89PNG fake" in body
    assert b'name="file_paths"\r\n\r\nhttps://img.test/last.png' in body
    assert b'name="prompt"\r\n\r\na fox' in body


def test_submit_with_a_missing_local_image_is_a_usage_error(mocked, capsys):
    code = run("submit", "a fox", "--image", "/no/such/file.png")

    assert code == 2
    assert "/no/such/file.png" in capsys.readouterr().err
    assert len(mocked.calls) == 0


def test_wait_follows_the_task_to_completion_and_downloads(mocked, fake_time, tmp_path, capsys):
    for answer in (state("pending", 0, queue={"position": 3, "length": 10, "eta_seconds": 20}),
                   state("processing", 40),
                   state("completed", 100, result={"url": VIDEO_URL})):
        mocked.get(TASK_URL, json=answer)
    mocked.get(f"{TASK_URL}/content", body=MP4, content_type="video/mp4")
    target = tmp_path / "out" / "video.mp4"

    code = run("wait", TASK_ID, "--interval", "5", "--output", str(target))

    out, err = capsys.readouterr()
    assert code == 0
    assert out == f"{VIDEO_URL}\n"
    assert target.read_bytes() == MP4
    assert fake_time.sleeps == [5.0, 5.0]
    assert "status=pending" in err and "queue=3/10" in err and "status=completed" in err
    assert f"saved {target} ({len(MP4)} bytes)" in err


def test_wait_prints_the_final_state_as_json(mocked, fake_time, capsys):
    final = state("completed", 100, result={"url": VIDEO_URL})
    mocked.get(TASK_URL, json=final)

    code = run("wait", TASK_ID, "--json", "--quiet")

    assert code == 0
    assert json.loads(capsys.readouterr().out) == final


def test_a_failed_task_exits_1_with_its_error(mocked, fake_time, capsys):
    mocked.get(TASK_URL, json=state("processing", 30))
    mocked.get(TASK_URL, json=state("failed", 30, error="Jimeng rejected the content",
                                    error_code="content_rejected"))

    code = run("wait", TASK_ID)

    assert code == 1
    assert "failed: Jimeng rejected the content (content_rejected)" in capsys.readouterr().err


def test_wait_gives_up_at_its_timeout(mocked, fake_time, capsys):
    mocked.get(TASK_URL, json=state("pending", 0))

    code = run("wait", TASK_ID, "--interval", "10", "--timeout", "25", "--quiet")

    assert code == 2
    assert "still pending" in capsys.readouterr().err
    assert fake_time.sleeps == [10.0, 10.0]


def test_an_http_error_exits_2_showing_the_code(mocked, capsys):
    mocked.get(TASK_URL, status=404, json={"error": {"code": "task_not_found",
                                                     "message": "no such task", "param": None}})

    code = run("status", TASK_ID)

    err = capsys.readouterr().err
    assert code == 2
    assert "no such task" in err and "task_not_found" in err and "404" in err


def test_an_error_that_is_not_json_still_exits_2(mocked, capsys):
    mocked.get(TASK_URL, status=502, body="Bad Gateway")

    assert run("status", TASK_ID) == 2
    assert "Bad Gateway" in capsys.readouterr().err


def test_an_unreachable_service_exits_2(mocked, capsys):
    mocked.get(TASK_URL, body=requests.ConnectionError("refused"))

    assert run("status", TASK_ID) == 2
    assert f"cannot reach the service at {BASE}" in capsys.readouterr().err


def test_the_token_is_never_printed(mocked, capsys):
    mocked.get(TASK_URL, status=401, json={"error": {"code": "token_invalid",
                                                     "message": "session expired", "param": None}})

    run("status", TASK_ID)

    out, err = capsys.readouterr()
    assert TOKEN not in out and TOKEN not in err


def test_status_prints_one_line(mocked, capsys):
    mocked.get(TASK_URL, json=state("pending", 5, queue={"position": 2, "length": 9, "eta_seconds": 12}))

    assert run("status", TASK_ID) == 0
    assert capsys.readouterr().out == f"{TASK_ID}  pending  5%  queue 2/9 eta 12s\n"


def test_batch_prints_one_line_per_task_in_order(mocked, capsys):
    data = [state("completed", 100, result={"url": VIDEO_URL}),
            {"task_id": "bad", "status": "not_found", "error": "no such task", "error_code": "task_not_found"}]
    mocked.post(f"{BASE}/v1/videos/tasks/batch",
                match=[matchers.json_params_matcher({"task_ids": [TASK_ID, "bad"]})], json={"data": data})

    assert run("batch", TASK_ID, "bad") == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{TASK_ID}  completed  100%  {VIDEO_URL}",
        "bad  not_found  no such task (task_not_found)",
    ]


def test_frames_send_local_images_as_frame_image_files_and_frames_as_json(mocked, tmp_path):
    first = tmp_path / "a.png"
    first.write_bytes(b"\x89PNG a")
    mocked.post(f"{BASE}/v1/videos/generations",
                json={"created": 1, "task_id": TASK_ID, "status": "pending", "model": "m"})

    code = run("submit", "", "--mode", "multi_frame", "--frame", f"{first}:2.5:she turns",
               "--frame", "https://img.test:8443/b.png:3")

    assert code == 0
    body = mocked.calls[0].request.body
    assert b'name="frame_image_1"; filename="a.png"' in body
    frames = body.split(b'name="frames"\r\n\r\n')[1].split(b"\r\n")[0]
    assert json.loads(frames) == [{"duration": 2.5, "prompt": "she turns"},
                                  {"duration": 3.0, "prompt": "", "image": "https://img.test:8443/b.png"}]


def test_named_files_keep_their_field_and_urls_go_as_fields(mocked, tmp_path):
    cat = tmp_path / "cat.png"
    cat.write_bytes(b"\x89PNG cat")
    mocked.post(f"{BASE}/v1/videos/generations",
                json={"created": 1, "task_id": TASK_ID, "status": "pending", "model": "m"})

    code = run("submit", "@cat.png dances", "--mode", "omni_reference", "--file", f"image_file_1={cat}",
               "--file", "video_file_1=https://v.test/d.mp4")

    assert code == 0
    body = mocked.calls[0].request.body
    assert b'name="image_file_1"; filename="cat.png"' in body
    assert b'name="video_file_1"\r\n\r\nhttps://v.test/d.mp4' in body


def test_a_malformed_frame_is_a_usage_error(mocked, capsys):
    assert run("submit", "x", "--frame", "a.png") == 2
    assert "IMAGE:SECONDS" in capsys.readouterr().err


def test_cancel_posts_to_the_cancel_route_and_prints_the_cancelled_task(mocked, capsys):
    cancelled = state("failed", 3, error="cancelled while queued; credits returned", error_code="cancelled")
    mocked.post(f"{TASK_URL}/cancel", json=cancelled)

    assert run("cancel", TASK_ID) == 0
    assert capsys.readouterr().out.strip() == f"{TASK_ID}  failed  cancelled while queued; credits returned (cancelled)"


def test_cancel_of_a_running_task_exits_2_with_the_reason(mocked, capsys):
    mocked.post(f"{TASK_URL}/cancel", status=409, json={"error": {
        "code": "task_not_cancellable", "message": "the task is already running", "param": None}})

    assert run("cancel", TASK_ID) == 2
    err = capsys.readouterr().err
    assert "the task is already running" in err and "task_not_cancellable" in err and "HTTP 409" in err


def test_cancel_of_an_image_task_asks_the_image_routes(mocked, capsys):
    mocked.post(f"{BASE}/v1/images/tasks/{TASK_ID}/cancel", status=409, json={"error": {
        "code": "task_not_cancellable", "message": "videos only", "param": None}})
    assert run("cancel", "--kind", "image", TASK_ID) == 2
