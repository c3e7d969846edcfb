"""Issue 8, "make it stay fixed": every upstream call type against every fault a real upstream can
throw. Each case asserts the status and code the client gets, that the answer came within the
configured deadline (generous slack: this is a bound, not a benchmark), and, on the generate call,
that the fake saw exactly one generate call (a submit that may have reached Jimeng is never resent).
"""
from __future__ import annotations

import base64
import time
from dataclasses import dataclass

import pytest

from sandbox.stack import ROOT
from tests.api.helpers import auth
from tests.fault_upstream import FAULTS
from tests.faults.conftest import DEADLINE, SLACK

PNG = (ROOT / "sandbox" / "assets" / "sample.png").read_bytes()
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()
MP4_URI = "data:video/mp4;base64," + base64.b64encode((ROOT / "sandbox" / "assets" / "sample.mp4").read_bytes()).decode()
OMNI = {"prompt": "a cat like @video_file", "function_mode": "omni_reference", "duration": 6,
        "model": "jimeng-video-seedance-2.0-fast", "image_file": PNG_URI, "video_file": MP4_URI}
GENERATE = "/mweb/v1/aigc_draft/generate"
RETRIED = 3              # attempts of a safe call (client) or an upload step

# What each fault becomes when a call fails for good: (status, code).
TRANSPORT = {"hang": (504, "upstream_timeout"), "trickle": (504, "upstream_timeout"),
             "reset_before": (503, "upstream_unavailable"), "reset_mid_body": (503, "upstream_unavailable"),
             "http_500": (503, "upstream_unavailable"), "http_429": (429, "rate_limited"),
             "garbage_json": (502, "upstream_error"), "html_200": (502, "upstream_error"),
             "huge_body": (502, "upstream_error")}


def _odd_generate(answer):
    answer["data"]["aigc_data"]["history_record_id"] = {"not": "an id"}


def _odd_history(answer):
    for record in answer["data"].values():
        record.update({"created_time": "abc", "item_list": 5, "draft_content": {"x": 1}})


def _odd_upload_token(answer):
    answer["data"]["access_key_id"] = {"not": "a key"}


def _odd_apply(answer):
    answer["Result"]["UploadAddress"] = "nowhere"


def _odd_commit(answer):
    answer["Result"]["Results"] = 5


def _odd_vod_apply(answer):
    answer["Result"]["InnerUploadAddress"] = {"UploadNodes": "none"}


def _odd_vod_commit(answer):
    answer["Result"]["Results"] = [{"Vid": {"odd": 1}}]


def _odd_account(answer):
    answer["data"] = {"user_id": {"odd": True}}


def _odd_credits(answer):
    answer["data"]["credit"] = "lots"


@dataclass(frozen=True)
class CallType:
    name: str
    key: str                              # the path (or /?Action=) the fault is queued for
    request: str                          # which client request reaches it
    odd: object                           # how "odd record fields" mutates its answer
    odd_expect: tuple[int, str | None]
    attempts: int = RETRIED               # how many times the service may ask


CALLS = [
    CallType("generate", GENERATE, "submit", _odd_generate, (502, "upstream_error"), attempts=1),
    CallType("history", "/mweb/v1/get_history_by_ids", "status", _odd_history, (502, "upstream_error")),
    CallType("account", "/passport/account/info/v2", "check", _odd_account, (200, None)),
    CallType("credits", "/commerce/v1/benefits/user_credit", "points", _odd_credits, (200, None)),
    CallType("upload_token", "/mweb/v1/get_upload_token", "submit_image", _odd_upload_token,
             (502, "upstream_error")),
    CallType("imagex_apply", "/?Action=ApplyImageUpload", "submit_image", _odd_apply, (502, "upstream_error")),
    CallType("upload_bytes", "/upload/v1/*", "submit_image", None, (200, None)),
    CallType("imagex_commit", "/?Action=CommitImageUpload", "submit_image", _odd_commit, (502, "upstream_error")),
    CallType("content_check", "/mweb/v1/algo_proxy", "submit_image", None, (200, None)),
    CallType("vod_apply", "/?Action=ApplyUploadInner", "submit_video", _odd_vod_apply, (502, "upstream_error")),
    CallType("vod_upload_bytes", "/upload/v1/tos-cn-v-*", "submit_video", None, (200, None)),
    CallType("vod_commit", "/?Action=CommitUploadInner", "submit_video", _odd_vod_commit, (502, "upstream_error")),
    CallType("result_download", "/media/*", "content_b64", None, (200, None), attempts=1),
]


def expected(call: CallType, fault: str) -> tuple[int, str | None]:
    if fault == "odd_records":
        return call.odd_expect
    if call.name == "content_check":
        return 200, None                  # a failing check is logged and skipped, as iptag does
    if call.name == "result_download":
        return {"reset_before": (503, "upstream_unavailable"), "reset_mid_body": (502, "upstream_error"),
                "http_500": (502, "upstream_error"), "http_429": (502, "upstream_error")}.get(
            fault, TRANSPORT[fault])
    if call.name == "generate" and fault == "reset_mid_body":
        return 503, "upstream_unavailable"
    return TRANSPORT[fault]


CASES = [(c, f) for c in CALLS for f in FAULTS if not (f == "odd_records" and c.odd is None)]


def finished_task(service, token: str) -> str:
    task_id = service.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth(token)).get_json()["task_id"]
    assert service.get(f"/v1/videos/tasks/{task_id}", headers=auth(token)).get_json()["status"] == "completed"
    return task_id


def play(service, call: CallType, token: str, prepare: dict):
    if call.request == "submit":
        return service.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth(token))
    if call.request == "submit_image":
        return service.post("/v1/videos/generations", json={"prompt": "a cat", "file_paths": [PNG_URI]},
                            headers=auth(token))
    if call.request == "submit_video":
        return service.post("/v1/videos/generations", json=OMNI, headers=auth(token))
    if call.request == "status":
        return service.get(f"/v1/videos/tasks/{prepare['task_id']}", headers=auth(token))
    if call.request == "check":
        return service.post("/token/check", json={"token": token})
    if call.request == "points":
        return service.post("/token/points", headers=auth(token))
    if call.request == "content_b64":
        return service.get(f"/v1/videos/tasks/{prepare['task_id']}/content?format=b64_json", headers=auth(token))
    raise AssertionError(call.request)


@pytest.mark.parametrize("call, fault", CASES, ids=[f"{c.name}-{f}" for c, f in CASES])
def test_every_call_type_holds_under_every_fault(service, upstream, token, call, fault):
    prepare = {}
    if call.request in ("status", "content_b64"):
        prepare["task_id"] = finished_task(service, token)
    upstream.inject(call.key, fault, count=call.attempts, mutate=call.odd)
    generates_before = upstream.calls[GENERATE]

    started = time.monotonic()
    resp = play(service, call, token, prepare)
    elapsed = time.monotonic() - started

    status, code = expected(call, fault)
    body = resp.get_json()
    assert resp.status_code == status, body
    if code is not None:
        assert body["error"]["code"] == code
    # Each attempt gets DEADLINE (an upload step a little more per MB); slack for everything else.
    assert elapsed < call.attempts * (2 * DEADLINE) + SLACK, f"{elapsed:.1f} s"
    generates = upstream.calls[GENERATE] - generates_before
    if call.name == "generate":
        assert generates == 1
        if status >= 500:
            assert body["error"].get("task_id"), "a submit that may have reached Jimeng names its task"
    elif call.request in ("submit_image", "submit_video"):
        assert generates == (1 if status == 200 else 0)
