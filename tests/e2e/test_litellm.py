"""litellm, unchanged, as an OpenAI-compatible video client (`openai/<model>` + `api_base`)."""
from __future__ import annotations

import secrets
import time

import litellm
import pytest

from tests.e2e.conftest import FAST, POLL_DEADLINE, POLL_INTERVAL

pytestmark = pytest.mark.e2e


def test_litellm_creates_follows_and_downloads_a_video(stack):
    where = {"api_base": f"{stack.service_url}/v1", "api_key": f"e2e-litellm-{secrets.token_hex(8)}"}
    video = litellm.video_generation(prompt=f"{FAST} a paper boat", model="openai/jimeng-video-3.0",
                                     seconds="5", size="720x1280", **where)
    assert (video.status, video.seconds, video.size) == ("queued", "5", "720x1280")
    deadline = time.monotonic() + POLL_DEADLINE
    status = litellm.video_status(video_id=video.id, **where)
    while status.status in ("queued", "in_progress") and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)
        status = litellm.video_status(video_id=video.id, **where)
    assert status.status == "completed" and status.progress == 100
    assert litellm.video_content(video_id=video.id, **where)[4:8] == b"ftyp"
    listed = litellm.video_list(custom_llm_provider="openai", **where)
    assert [v["status"] for v in listed["data"]] == ["completed"]
