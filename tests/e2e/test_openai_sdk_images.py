"""The official `openai` SDK's image calls, unchanged, against gunicorn + sandbox: answers, lost answers."""
from __future__ import annotations

import secrets

import openai
import pytest
import requests

from tests.e2e.conftest import FAST, TIMEOUT
from tests.e2e.test_openai_sdk import GENERATE, generates_for

pytestmark = pytest.mark.e2e


def sdk(stack, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(api_key=f"e2e-images-{secrets.token_hex(8)}", base_url=f"{stack.service_url}/v1", **kwargs)


def test_images_generate_answers_openais_shape(stack):
    answer = sdk(stack).images.generate(prompt=f"{FAST} a red fox in fresh snow", n=2, size="1024x1024")
    assert len(answer.data) == 2 and all(d.url.startswith("http") for d in answer.data)
    assert requests.get(answer.data[0].url, timeout=TIMEOUT).content[:8] == b"\x89PNG\r\n\x1a\n"


def test_images_edit_sends_the_file_and_answers_images(stack):
    png = requests.get(f"{stack.sandbox_url}/assets/sample.png", timeout=TIMEOUT).content
    before = requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["counts"]
    answer = sdk(stack).images.edit(image=("cat.png", png, "image/png"), prompt=f"{FAST} the same cat, in watercolour")
    after = requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["counts"]
    assert answer.data and answer.data[0].url.startswith("http")
    key = "/?Action=CommitImageUpload"
    assert after.get(key, 0) - before.get(key, 0) == 1


def lose_the_next_generate_answer(stack) -> None:
    """Jimeng accepts (and charges) the task, then answers only after the SDK has given up reading."""
    fault = {"path": GENERATE, "delay": 6, "after": True}
    assert requests.post(f"{stack.sandbox_url}/_sandbox/faults", json=fault, timeout=TIMEOUT).ok


def test_a_lost_images_answer_retried_by_the_sdk_with_an_idempotency_key_leaves_one_task(stack):
    """images.generate() times out while Jimeng already has the task; the SDK's own retry (same key)
    answers that task's images instead of paying for another."""
    client = sdk(stack, max_retries=2, timeout=3.0)
    before = generates_for(stack)
    lose_the_next_generate_answer(stack)
    answer = client.images.generate(prompt=f"{FAST} an answer lost on the way", n=2,
                                    extra_headers={"Idempotency-Key": secrets.token_hex(16)})
    assert len(answer.data) == 2 and all(d.url.startswith("http") for d in answer.data)
    assert generates_for(stack) - before == 1


def test_an_images_retry_inside_the_listing_window_is_409_not_a_second_task(stack):
    """Jimeng lists the first attempt late ([sandbox:hide]): the retry cannot prove it failed."""
    client = sdk(stack, max_retries=2, timeout=3.0)
    before = generates_for(stack)
    lose_the_next_generate_answer(stack)
    with pytest.raises(openai.ConflictError) as caught:
        client.images.generate(prompt=f"{FAST} [sandbox:hide=60] listed late",
                               extra_headers={"Idempotency-Key": secrets.token_hex(16)})
    refused = caught.value.response
    assert refused.headers["x-should-retry"] == "false" and refused.json()["error"]["task_id"]
    assert generates_for(stack) - before == 1
