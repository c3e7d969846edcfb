"""litellm, unchanged, as an OpenAI-compatible video and image client (`openai/<model>` + `api_base`)."""
from __future__ import annotations

import io
import os
import secrets
import time

# litellm fetches its price table from the internet at import unless told to use its bundled copy;
# CI has no internet, so the fetch only costs retries.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402
import pytest  # noqa: E402
import requests  # noqa: E402

from tests.e2e.conftest import FAST, POLL_DEADLINE, POLL_INTERVAL, TIMEOUT

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


def test_litellm_image_generation_answers_the_images(stack):
    where = {"api_base": f"{stack.service_url}/v1", "api_key": f"e2e-litellm-{secrets.token_hex(8)}"}
    answer = litellm.image_generation(prompt=f"{FAST} a paper crane", model="openai/jimeng-5.0-pro", n=2,
                                      size="1024x1024", **where)
    assert len(answer.data) == 2 and all(d.url.startswith("http") for d in answer.data)
    assert requests.get(answer.data[0].url, timeout=TIMEOUT).content[:8] == b"\x89PNG\r\n\x1a\n"


def test_litellm_image_edit_sends_the_file_and_answers_images(stack):
    where = {"api_base": f"{stack.service_url}/v1", "api_key": f"e2e-litellm-{secrets.token_hex(8)}"}
    png = requests.get(f"{stack.sandbox_url}/assets/sample.png", timeout=TIMEOUT).content
    counts = lambda: requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["counts"]  # noqa: E731
    before = counts().get("/?Action=CommitImageUpload", 0)
    image = io.BytesIO(png)
    image.name = "crane.png"        # litellm sends file objects (its tuple form fails in httpx)
    answer = litellm.image_edit(image=image, prompt=f"{FAST} the same crane, in ink",
                                model="openai/jimeng-5.0-pro", **where)
    assert answer.data and answer.data[0].url.startswith("http")
    assert counts().get("/?Action=CommitImageUpload", 0) - before == 1
