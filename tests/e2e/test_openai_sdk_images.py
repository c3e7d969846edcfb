"""The official `openai` SDK's image calls, unchanged, against gunicorn + sandbox."""
from __future__ import annotations

import secrets

import openai
import pytest
import requests

from tests.e2e.conftest import FAST, TIMEOUT

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
