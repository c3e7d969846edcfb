"""The official `openai` SDK, unchanged, against gunicorn + sandbox: videos, models, lost answers."""
from __future__ import annotations

import secrets
import warnings

import openai
import pytest
import requests

from sandbox.stack import Stack
from tests.e2e.conftest import FAST, TIMEOUT

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
GENERATE = "/mweb/v1/aigc_draft/generate"


def sdk(stack: Stack, token: str, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(api_key=token, base_url=f"{stack.service_url}/v1", **kwargs)


@pytest.fixture(scope="module")
def token() -> str:
    return f"e2e-sdk-{secrets.token_hex(8)}"


@pytest.fixture(scope="module")
def finished(stack, token):
    client = sdk(stack, token)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return client.videos.create_and_poll(prompt=f"{FAST} a lighthouse in a storm", model="jimeng-video-3.0",
                                             seconds="5", size="1280x720")


def generates_for(stack: Stack) -> int:
    return requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["counts"].get(GENERATE, 0)


def test_create_and_poll_follows_a_video_to_completed(finished):
    assert finished.status == "completed" and finished.progress == 100
    assert (finished.model, finished.seconds, finished.size) == ("jimeng-video-3.0", "5", "1280x720")
    assert finished.completed_at and finished.completed_at >= finished.created_at and finished.error is None


def test_download_content_gives_the_mp4(stack, token, finished):
    content = sdk(stack, token).videos.download_content(finished.id)
    assert content.content[4:8] == b"ftyp" and len(content.content) > 1000


def test_an_input_reference_file_becomes_the_first_frame(stack, token):
    png = requests.get(f"{stack.sandbox_url}/assets/sample.png", timeout=TIMEOUT).content
    video = sdk(stack, token).videos.create(prompt=f"{FAST} the picture comes alive",
                                           input_reference=("first.png", png, "image/png"))
    assert video.status == "queued"
    records = requests.get(f"{stack.sandbox_url}/_sandbox/records", timeout=TIMEOUT).json()["records"]
    assert any(r["history_record_id"] and r["mode"] == "first_last_frames" for r in records)


def test_a_failed_video_reports_an_error_object(stack, token):
    video = sdk(stack, token).videos.create_and_poll(prompt=f"{FAST} [sandbox:fail=2038] forbidden")
    assert video.status == "failed" and video.error.code == "content_rejected" and video.error.message


def test_videos_list_pages_through_the_account_history(stack):
    client = sdk(stack, f"e2e-list-{secrets.token_hex(8)}")
    made = [client.videos.create(prompt=f"{FAST} clip {i}").id for i in range(3)]
    first = client.videos.list(limit=2)
    assert len(first.data) == 2 and first.has_more is True
    seen = [v for v in client.videos.list(limit=2)]          # auto-paging follows last_id
    assert len(seen) == 3 and all(v.object == "video" for v in seen)
    assert {client.videos.retrieve(v.id).status for v in seen} <= {"queued", "in_progress", "completed"}
    assert [v.id for v in seen] == made[::-1]          # newest first, under the ids create answered


def test_models_list_and_retrieve(stack, token):
    client = sdk(stack, token)
    ids = [m.id for m in client.models.list()]
    assert "jimeng-video-3.0" in ids
    model = client.models.retrieve("jimeng-video-3.0")
    assert (model.id, model.object, model.owned_by) == ("jimeng-video-3.0", "model", "jimeng-api")
    assert isinstance(model.created, int)
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4")


def test_a_lost_submit_answer_is_not_retried_and_leaves_one_task(stack):
    client = sdk(stack, f"e2e-lost-{secrets.token_hex(8)}", max_retries=2)
    before = generates_for(stack)
    fault = {"path": GENERATE, "status": 502, "after": True}
    assert requests.post(f"{stack.sandbox_url}/_sandbox/faults", json=fault, timeout=TIMEOUT).ok
    with pytest.raises(openai.APIStatusError) as caught:
        client.videos.create(prompt=f"{FAST} lost answer")
    assert caught.value.response.headers["x-should-retry"] == "false"
    task_id = caught.value.body["task_id"] if "task_id" in (caught.value.body or {}) else \
        caught.value.response.json()["error"]["task_id"]
    assert generates_for(stack) - before == 1
    assert client.videos.retrieve(task_id).status in ("queued", "in_progress", "completed")


def test_the_sdks_own_retries_do_run_when_nothing_was_submitted(stack, token, finished):
    """Control for the test above: a 503 naming no task (a read) is retried by the SDK itself."""
    client = sdk(stack, token, max_retries=1)
    history = "/mweb/v1/get_history_by_ids"
    calls = requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["counts"].get(history, 0)
    # Our Jimeng client tries a read 3 times: all fail, the service answers 503; the SDK tries again.
    fault = {"path": history, "status": 500, "count": 3}
    assert requests.post(f"{stack.sandbox_url}/_sandbox/faults", json=fault, timeout=TIMEOUT).ok
    assert client.videos.retrieve(finished.id).status == "completed"
    after = requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["counts"][history]
    assert after - calls == 4


def test_a_lost_answer_retried_by_the_sdk_with_an_idempotency_key_leaves_one_task(stack):
    """The SDK times out while Jimeng has already accepted; its own retry (same key) gets that task."""
    token = f"e2e-idem-{secrets.token_hex(8)}"
    client = sdk(stack, token, max_retries=2, timeout=1.5)
    before = generates_for(stack)
    fault = {"path": GENERATE, "delay": 4, "after": True}
    assert requests.post(f"{stack.sandbox_url}/_sandbox/faults", json=fault, timeout=TIMEOUT).ok
    video = client.videos.create(prompt=f"{FAST} an answer lost on the way",
                                 extra_headers={"Idempotency-Key": secrets.token_hex(16)})
    assert video.status in ("queued", "in_progress")
    assert generates_for(stack) - before == 1
    done = sdk(stack, token).videos.poll(video.id)
    assert done.status == "completed"


def test_a_retry_inside_the_listing_window_is_409_not_a_second_task(stack):
    """Jimeng lists the first attempt late ([sandbox:hide]): the retry cannot prove it failed."""
    client = sdk(stack, f"e2e-window-{secrets.token_hex(8)}", max_retries=2, timeout=1.5)
    before = generates_for(stack)
    fault = {"path": GENERATE, "delay": 4, "after": True}
    assert requests.post(f"{stack.sandbox_url}/_sandbox/faults", json=fault, timeout=TIMEOUT).ok
    with pytest.raises(openai.ConflictError) as caught:
        client.videos.create(prompt=f"{FAST} [sandbox:hide=60] listed late",
                             extra_headers={"Idempotency-Key": secrets.token_hex(16)})
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert caught.value.response.json()["error"]["task_id"]
    assert generates_for(stack) - before == 1


def test_a_gateway_sending_json_with_an_image_url_reference_gets_a_first_frame(stack):
    """Gateways send OpenAI's JSON form: input_reference {"image_url": ...} (the SDK only sends files)."""
    counts = lambda: requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["counts"]  # noqa: E731
    before = counts().get("/?Action=CommitImageUpload", 0)
    resp = requests.post(f"{stack.service_url}/v1/videos", timeout=TIMEOUT,
                         headers={"Authorization": f"Bearer e2e-json-{secrets.token_hex(8)}"},
                         json={"prompt": f"{FAST} from a gateway", "seconds": "5", "size": "720x720",
                               "input_reference": {"image_url": f"{stack.sandbox_url}/assets/sample.png"}})
    assert resp.status_code == 200, resp.text
    assert (resp.json()["object"], resp.json()["size"]) == ("video", "720x720")
    assert counts()["/?Action=CommitImageUpload"] - before == 1
