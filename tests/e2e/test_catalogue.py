"""End to end: the live catalogue decides per account (VIP or not), removed models are refused, and
Seedance 2.5 completes with a CN token. Real gunicorn and sandbox processes on loopback."""
from __future__ import annotations

import secrets

import pytest
import requests

from sandbox.stack import Stack
from tests.e2e.conftest import FAST, TIMEOUT, poll_until_finished, session_for

pytestmark = pytest.mark.e2e


def post(stack: Stack, token: str, body: dict):
    return session_for(token).post(f"{stack.service_url}/v1/videos/generations", json=body, timeout=TIMEOUT)


def test_seedance_25_with_a_cn_token_completes(stack):
    token = f"e2e-s25-{secrets.token_hex(6)}"
    resp = post(stack, token, {"prompt": f"{FAST} waves at dusk", "model": "jimeng-video-seedance-2.5",
                               "resolution": "1080p", "duration": 6})
    assert resp.status_code == 200, resp.text
    final = poll_until_finished(stack, session_for(token), resp.json()["task_id"])[-1]
    assert final["status"] == "completed" and final["model"] == "jimeng-video-seedance-2.5"


def test_a_vip_model_works_for_a_vip_account(stack):
    token = f"vip-e2e-{secrets.token_hex(6)}"
    resp = post(stack, token, {"prompt": f"{FAST} a fox", "model": "jimeng-video-seedance-2.0-vip",
                               "resolution": "4k"})
    assert resp.status_code == 200, resp.text
    final = poll_until_finished(stack, session_for(token), resp.json()["task_id"])[-1]
    assert final["status"] == "completed"


def test_a_vip_model_is_unavailable_to_a_plain_account(stack):
    resp = post(stack, f"e2e-plain-{secrets.token_hex(6)}", {"prompt": "a fox",
                                                             "model": "jimeng-video-seedance-2.0-fast-vip"})
    error = resp.json()["error"]
    assert resp.status_code == 400 and error["code"] == "model_unavailable"
    assert "jimeng-video-seedance-2.5" in error["message"]


def test_a_removed_model_is_400_model_unavailable(stack):
    resp = post(stack, f"e2e-old-{secrets.token_hex(6)}", {"prompt": "a fox", "model": "jimeng-video-2.0"})
    error = resp.json()["error"]
    assert resp.status_code == 400 and error["code"] == "model_unavailable"
    assert "available: " in error["message"] and "jimeng-video-2.0," not in error["message"]


def test_models_with_a_token_shows_the_accounts_tier(stack):
    def video_ids(token: str) -> set[str]:
        resp = session_for(token).get(f"{stack.service_url}/v1/models", timeout=TIMEOUT)
        assert resp.status_code == 200, resp.text
        return {m["id"] for m in resp.json()["data"] if m["type"] == "video"}

    plain, vip = video_ids(f"e2e-m-{secrets.token_hex(6)}"), video_ids(f"vip-m-{secrets.token_hex(6)}")
    assert "jimeng-video-seedance-2.0-vip" in vip and "jimeng-video-seedance-2.0-vip" not in plain
    assert "jimeng-video-2.0" not in plain and "jimeng-video-seedance-2.5" in plain


def test_an_abroad_account_submits_with_its_workspace(stack):
    token = f"us-e2e-{secrets.token_hex(6)}"
    resp = post(stack, token, {"prompt": f"{FAST} a canyon", "model": "jimeng-video-seedance-2.0-mini"})
    assert resp.status_code == 200, resp.text
    final = poll_until_finished(stack, session_for(token), resp.json()["task_id"])[-1]
    assert final["status"] == "completed"


def test_a_failing_catalogue_read_does_not_fail_the_submit(stack):
    fault = {"path": "/mweb/v1/video_generate/get_common_config", "ret": "4002", "errmsg": "sandbox fault",
             "count": 1}
    assert requests.post(f"{stack.sandbox_url}/_sandbox/faults", json=fault, timeout=TIMEOUT).ok
    token = f"e2e-nocfg-{secrets.token_hex(6)}"
    resp = post(stack, token, {"prompt": f"{FAST} a heron"})
    assert resp.status_code == 200, resp.text
    queued = requests.get(f"{stack.sandbox_url}/_sandbox/faults", timeout=TIMEOUT).json()["queued"]
    assert not any(f.get("path") == fault["path"] for f in queued)     # the fault was really played
    assert poll_until_finished(stack, session_for(token), resp.json()["task_id"])[-1]["status"] == "completed"
