"""Cancel and the failure classes end to end: the service under gunicorn in front of the sandbox, which
cancels queued CN videos as Jimeng does (credits back) and refuses every other cancel."""
from __future__ import annotations

import secrets
import warnings

import openai
import pytest
import requests

from tests.e2e.conftest import FAST, TIMEOUT, poll_until_finished, session_for

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
QUEUED = "[sandbox:queue=120] [sandbox:generate=1]"
RUNNING = "[sandbox:queue=0] [sandbox:generate=120]"
CANCEL_PATH = "/mweb/v1/aigc_draft/cancel_generate"


@pytest.fixture
def http() -> requests.Session:
    return session_for(f"e2e-cancel-{secrets.token_hex(6)}")


def submit(stack, http, prompt: str) -> str:
    resp = http.post(f"{stack.service_url}/v1/videos/generations", json={"prompt": prompt}, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    return resp.json()["task_id"]


def cancel(stack, http, task_id: str, kind: str = "videos") -> requests.Response:
    return http.post(f"{stack.service_url}/v1/{kind}/tasks/{task_id}/cancel", timeout=TIMEOUT)


def credits(stack, http) -> int:
    return http.post(f"{stack.service_url}/token/points", timeout=TIMEOUT).json()[0]["points"]["totalCredit"]


def cancel_calls(stack) -> int:
    return requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["counts"].get(CANCEL_PATH, 0)


def test_a_queued_video_is_cancelled_its_credits_come_back_and_a_repeat_answers_the_same(stack, http):
    before = credits(stack, http)
    task_id = submit(stack, http, f"{QUEUED} a cat")
    assert credits(stack, http) < before
    calls = cancel_calls(stack)

    first = cancel(stack, http, task_id)
    again = cancel(stack, http, task_id)
    queried = http.get(f"{stack.service_url}/v1/videos/tasks/{task_id}", timeout=TIMEOUT).json()

    assert first.status_code == again.status_code == 200, first.text
    body = first.json()
    assert (body["task_id"], body["status"], body["error_code"]) == (task_id, "failed", "cancelled")
    assert "returned the credits" in body["error"]
    assert (again.json()["status"], again.json()["error_code"]) == ("failed", "cancelled")
    assert (queried["status"], queried["error_code"]) == ("failed", "cancelled")
    assert cancel_calls(stack) == calls + 1                      # the repeat read the record, sent nothing
    assert credits(stack, http) == before


def test_a_running_video_and_a_finished_one_are_409_and_run_on(stack, http):
    running = submit(stack, http, f"{RUNNING} a dog")
    finished = submit(stack, http, f"{FAST} a bird")
    poll_until_finished(stack, http, finished)
    calls = cancel_calls(stack)

    refused_running, refused_finished = cancel(stack, http, running), cancel(stack, http, finished)

    assert refused_running.status_code == refused_finished.status_code == 409
    assert refused_running.json()["error"]["code"] == "task_not_cancellable"
    assert "already running" in refused_running.json()["error"]["message"]
    assert "already ended (completed)" in refused_finished.json()["error"]["message"]
    assert http.get(f"{stack.service_url}/v1/videos/tasks/{running}", timeout=TIMEOUT).json()["status"] == \
        "processing"
    assert cancel_calls(stack) == calls


def test_an_image_task_is_409_and_an_unknown_id_404(stack, http):
    resp = http.post(f"{stack.service_url}/v1/images/generations", json={"prompt": f"{QUEUED} a fox", "async": True},
                     timeout=TIMEOUT)
    image = resp.json()["task_id"]
    refused = cancel(stack, http, image, kind="images")
    assert refused.status_code == 409 and "videos only" in refused.json()["error"]["message"]
    assert cancel(stack, http, "not-a-task").status_code == 404


def test_the_openai_sdk_deletes_a_queued_video_by_cancelling_it(stack, http):
    token = http.headers["Authorization"].removeprefix("Bearer ")
    client = openai.OpenAI(api_key=token, base_url=f"{stack.service_url}/v1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        video = client.videos.create(prompt=f"{QUEUED} a lighthouse")
        deleted = client.videos.delete(video.id)
        again = client.videos.delete(video.id)
        after = client.videos.retrieve(video.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (video.id, True, "video.deleted")
    assert again.deleted is True
    assert after.status == "failed" and after.error.code == "cancelled"


@pytest.mark.parametrize("directive,error_code", [("[sandbox:refuse=prompt]", "prompt_rejected"),
                                                  ("[sandbox:refuse=output]", "output_rejected"),
                                                  ("[sandbox:fail=2038]", "content_rejected")])
def test_each_failure_class_reaches_the_client_by_its_code(stack, http, directive, error_code):
    before = credits(stack, http)
    task_id = submit(stack, http, f"{FAST} {directive} a storm")
    final = poll_until_finished(stack, http, task_id)[-1]
    assert (final["status"], final["error_code"]) == ("failed", error_code), final
    if error_code != "content_rejected":          # the addendum's two refusals cost nothing
        assert credits(stack, http) == before
