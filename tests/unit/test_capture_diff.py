"""The capture diff: what differs between a browser's call and ours, which setting fixes it, and that
applying the named settings makes ours like theirs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.jimeng import payloads
from app.jimeng.assets import UploadedImage, VideoDraft
from app.jimeng.har import captured_call
from app.jimeng.models import VIDEO_MODELS
from app.jimeng.regions import parse_token
from app.jimeng.wire_diff import RecordingClient
from app.jimeng.wire_settings import WireSettings, parse
from app.services.capture_diff import diff_capture

TOKEN = parse_token("placeholder-0123456789")
OPERATOR = parse_token("the-operators-own-session-42")


def browser_call(make_call, *, query=None, headers=None, body=None, drop_query=(), wire=None):
    """A browser's call: ours for the operator's account, changed as a newer Jimeng client would."""
    sent = RecordingClient(wire=wire).record(make_call)
    url = sent.url
    for name, value in (query or {}).items():
        url = _with_param(url, name, value)
    for name in drop_query:
        url = _with_param(url, name, None)
    sent_headers = {**sent.headers, **(headers or {})}
    text = sent.body.decode()
    if body is not None:
        text = json.dumps(body(json.loads(text)), separators=(",", ":"), ensure_ascii=False)
    return captured_call("POST", url, sent_headers.items(), text)


def _with_param(url: str, name: str, value: str | None) -> str:
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    if value is not None:
        query.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


def report(*calls, wire: WireSettings | None = None):
    return diff_capture(list(calls), upstream_url="", wire=wire or parse({}))


def video_body(**changes) -> dict:
    draft = VideoDraft(model=VIDEO_MODELS["jimeng-video-seedance-2.0"], mode="first_last_frames", prompt="a cat",
                       ratio="16:9", duration_s=5, images=(UploadedImage("tos-cn-i-x/abc", 640, 480, "png"),))
    return payloads.build_video_generate_body(draft, submit_id="operators-submit-id", **changes)


def test_per_session_values_and_page_signatures_are_not_differences():
    theirs = browser_call(lambda c: c.history_list(OPERATOR, count=20),
                          query={"msToken": "x" * 184, "a_bogus": "y" * 192},
                          headers={"Device-Time": "1790000000", "Sign": "0" * 32})

    assert report(theirs).compared[0].differences == ()


def test_a_generate_with_another_prompt_ids_and_seed_is_the_same_call():
    body = video_body()
    theirs = browser_call(lambda c: c.generate(OPERATOR, body))

    compared = report(theirs).compared[0]

    assert (compared.call, compared.status) == ("generate", "same")


def test_a_newer_draft_version_names_its_constant():
    body = video_body()

    def newer(sent: dict) -> dict:
        draft = json.loads(sent["draft_content"])
        draft["version"] = "3.3.31"
        return {**sent, "draft_content": json.dumps(draft)}

    result = report(browser_call(lambda c: c.generate(OPERATOR, body), body=newer))

    assert result.settings == ("JIMENG_DRAFT_VERSION=3.3.31",)
    assert result.compared[0].differences[0].name == "draft_content.version"


def test_another_benefit_type_names_the_model_setting():
    body = video_body()

    def rebilled(sent: dict) -> dict:
        extend = dict(sent["extend"])
        extend["m_video_commerce_info"] = {**extend["m_video_commerce_info"], "benefit_type": "seedance_20_pro_v2"}
        return {**sent, "extend": extend}

    result = report(browser_call(lambda c: c.generate(OPERATOR, body), body=rebilled))

    assert "JIMENG_BENEFIT_TYPES=jimeng-video-seedance-2.0=seedance_20_pro_v2" in result.settings


def test_a_field_the_browser_sends_and_we_do_not_is_listed_but_not_applied():
    theirs = browser_call(lambda c: c.history_list(OPERATOR, count=20),
                          body=lambda sent: {**sent, "fav_option": {"only_fav": False}})

    result = report(theirs)

    (difference,) = result.compared[0].differences
    assert (difference.name, difference.ours, difference.theirs) == ("fav_option", None, '{"only_fav":false}')
    assert difference.suggestion.line == 'JIMENG_BODY_FIELDS=history_list:fav_option={"only_fav":false}'
    assert result.settings == ()


def test_a_parameter_we_send_and_the_browser_no_longer_does_is_listed_with_the_setting_that_drops_it():
    theirs = browser_call(lambda c: c.history_list(OPERATOR, count=20), drop_query=("aigc_features",))

    (difference,) = report(theirs).compared[0].differences

    assert difference.suggestion.line == "JIMENG_EXTRA_QUERY=history_list:-aigc_features"


@pytest.mark.parametrize("drift, query, headers, body", [
    ("new header", None, {"X-Jm-Client": "web2"}, None),
    ("new parameter", {"web_tab": "video"}, None, None),
    ("renamed field", None, None, lambda b: {("page_size" if k == "count" else k): v for k, v in b.items()}),
    ("changed value", {"os": "mac"}, None, None),
])
def test_applying_the_named_wire_edits_makes_ours_like_theirs(drift, query, headers, body):
    calls = [browser_call(lambda c: c.history_list(OPERATOR, count=20), query=query, headers=headers, body=body),
             browser_call(lambda c: c.video_config(OPERATOR), query=query, headers=headers)]
    named = report(*calls).settings
    assert named, drift

    fixed = parse(dict(line.split("=", 1) for line in named))
    assert fixed.problems == ()

    again = report(*calls, wire=fixed)
    assert again.settings == () and all(c.status == "same" for c in again.compared), again.as_dict()


def test_applying_the_named_constants_at_start_makes_ours_like_theirs():
    calls = [browser_call(lambda c: c.history_list(OPERATOR, count=20), query={"da_version": "3.3.31"},
                          headers={"Appvr": "8.5.0"})]
    named = report(*calls).settings
    assert named == ("JIMENG_APP_VERSION=8.5.0", "JIMENG_DA_VERSION=3.3.31")

    restarted = subprocess.run(
        [sys.executable, "-c", RESTARTED], input=json.dumps([c.__dict__ for c in calls]), text=True,
        capture_output=True, cwd=ROOT, env={**os.environ, **dict(line.split("=", 1) for line in named)}, timeout=60)

    assert json.loads(restarted.stdout or "null") == {"settings": [], "statuses": ["same"]}, restarted.stderr


ROOT = Path(__file__).resolve().parents[2]
RESTARTED = """
import json, sys
from app.jimeng.har import CapturedCall
from app.jimeng.wire_settings import SETTINGS
from app.services.capture_diff import diff_capture
calls = [CapturedCall(**{k: tuple(map(tuple, v)) if k in ("query", "headers") else v for k, v in c.items()})
         for c in json.load(sys.stdin)]
report = diff_capture(calls, upstream_url="", wire=SETTINGS)
print(json.dumps({"settings": list(report.settings), "statuses": [c.status for c in report.compared]}))
"""


def test_the_settings_in_force_are_kept_when_new_ones_are_named():
    wire = parse({"JIMENG_EXTRA_HEADERS": "generate:X-Old=1"})
    theirs = browser_call(lambda c: c.history_list(OPERATOR, count=20), headers={"X-Jm-Client": "web2"}, wire=wire)

    assert report(theirs, wire=wire).settings == ("JIMENG_EXTRA_HEADERS=generate:X-Old=1|history_list:X-Jm-Client=web2",)


def test_a_large_comparison_pauses_every_few_steps_for_the_caller():
    pauses = []
    theirs = browser_call(lambda c: c.history_list(OPERATOR, count=20),
                          body=lambda sent: {**sent, **{f"z{i}": [i] for i in range(6000)}})

    result = diff_capture([theirs], upstream_url="", wire=parse({}), pause=lambda: pauses.append(1))

    assert len(pauses) >= 12_000 // 64
    assert result.compared[0].status == "different"


def test_renames_are_looked_for_without_listing_anything_while_looking():
    """A rename is a field of ours gone and one of theirs with the same value: telling whether two
    values are the same stops at their first difference and lists nothing."""
    theirs = browser_call(lambda c: c.history_list(OPERATOR, count=20),
                          body=lambda sent: {("page_size" if k == "count" else k): v for k, v in sent.items()}
                          | {f"z{i}": {"a": [i, i + 1]} for i in range(3000)})

    compared = report(theirs).compared[0]

    renamed = [d for d in compared.differences if d.name == "count"]
    assert renamed and renamed[0].theirs == "named page_size"
    assert len(compared.differences) == 200 and compared.not_compared[0].name == "(differences)"
