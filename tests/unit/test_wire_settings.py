"""Protocol settings an operator sets without a release: validated at start, applied on the wire."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import responses

from app.jimeng import wire_settings
from app.jimeng.client import JimengClient
from app.jimeng.regions import parse_token

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = "http://jimeng.test"
OK = {"ret": "0", "errmsg": "success", "data": {"records_list": [], "has_more": False}}


def client_with(**environ) -> JimengClient:
    settings = wire_settings.parse(environ)
    assert settings.problems == ()
    return JimengClient(upstream_url=UPSTREAM, wire=settings, sleep=lambda s: None)


@responses.activate
def test_an_extra_header_reaches_every_call_it_names():
    responses.post(f"{UPSTREAM}/mweb/v1/get_history", json=OK)
    responses.post(f"{UPSTREAM}/mweb/v1/video_generate/get_common_config", json=OK)
    client = client_with(JIMENG_EXTRA_HEADERS="history_list:X-Jm-Client=web2 | *:X-Everyone=1")
    token = parse_token("session-0123456789")

    client.history_list(token, count=5)
    client.video_config(token)

    history, catalogue = (call.request for call in responses.calls)
    assert history.headers["X-Jm-Client"] == "web2" and history.headers["X-Everyone"] == "1"
    assert "X-Jm-Client" not in catalogue.headers and catalogue.headers["X-Everyone"] == "1"


@responses.activate
def test_query_edits_add_replace_and_drop_parameters():
    responses.post(f"{UPSTREAM}/mweb/v1/get_history", json=OK)
    client = client_with(JIMENG_EXTRA_QUERY="history_list:os=mac|history_list:-aigc_features|*:new_flag=1")

    client.history_list(parse_token("session-0123456789"), count=5)

    query = responses.calls[0].request.params
    assert query["os"] == "mac" and query["new_flag"] == "1" and "aigc_features" not in query
    assert query["da_version"]          # the rest is untouched


@responses.activate
def test_body_edits_rename_set_and_reach_inside_json_string_fields():
    responses.post(f"{UPSTREAM}/mweb/v1/get_history", json=OK)
    responses.post(f"{UPSTREAM}/mweb/v1/aigc_draft/generate", json={"ret": "0", "data": {"aigc_data": {}}})
    client = client_with(JIMENG_BODY_FIELDS='history_list:count>page_size|history_list:extra.flag=true|'
                                            'generate:draft_content.version="3.3.31"|generate:-http_common_info')
    token = parse_token("session-0123456789")
    body = {"submit_id": "s", "draft_content": json.dumps({"type": "draft", "version": "3.3.14", "id": "d"}),
            "http_common_info": {"aid": 513695}}

    client.history_list(token, count=5)
    client.generate(token, body)

    sent = json.loads(responses.calls[0].request.body)
    assert list(sent)[:1] == ["page_size"] and sent["page_size"] == 5 and "count" not in sent
    assert sent["extra"] == {"flag": True}
    generate = json.loads(responses.calls[1].request.body)
    assert json.loads(generate["draft_content"])["version"] == "3.3.31" and "http_common_info" not in generate
    assert json.loads(body["draft_content"])["version"] == "3.3.14"   # the caller's body is left as it was


@pytest.mark.parametrize("environ, named", [
    ({"JIMENG_EXTRA_HEADERS": "history_list X-A=1"}, "JIMENG_EXTRA_HEADERS"),
    ({"JIMENG_EXTRA_HEADERS": "nocall:X-A=1"}, "unknown call 'nocall'"),
    ({"JIMENG_EXTRA_HEADERS": "*:Bad Header=1"}, "is not a header name"),
    ({"JIMENG_EXTRA_QUERY": "*:flag"}, "a value is missing"),
    ({"JIMENG_BODY_FIELDS": "generate:extend.x=not json"}, "is not JSON"),
    ({"JIMENG_BODY_FIELDS": "generate:a..b=1"}, "is not a dotted body path"),
    ({"JIMENG_DA_VERSION": "3.3.x"}, "JIMENG_DA_VERSION must be a version"),
    ({"JIMENG_PLATFORM_CODE": "seven"}, "JIMENG_PLATFORM_CODE must be a whole number"),
    ({"JIMENG_CHROME_UA": "Mozilla\nX-Injected: 1"}, "JIMENG_CHROME_UA must be printable ASCII"),
    ({"JIMENG_MODEL_KEYS": "jimeng-video-3.5-pro"}, "JIMENG_MODEL_KEYS"),
])
def test_a_malformed_setting_is_named_with_what_is_wrong(environ, named):
    problems = wire_settings.parse(environ).problems
    assert problems and named in problems[0]


def test_every_problem_is_told_at_once():
    problems = wire_settings.parse({"JIMENG_DA_VERSION": "x", "JIMENG_EXTRA_QUERY": "bad"}).problems
    assert len(problems) == 2


def run_app_factory(**environ) -> subprocess.CompletedProcess:
    env = {**os.environ, "APP_ENV": "testing", **environ}
    return subprocess.run([sys.executable, "-c", "from app.factory import create_app; create_app()"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_service_refuses_to_start_with_a_malformed_setting():
    started = run_app_factory(JIMENG_EXTRA_HEADERS="generate:X-A")

    assert started.returncode != 0
    assert "JIMENG_EXTRA_HEADERS" in started.stderr and "a value is missing" in started.stderr


def test_the_service_refuses_a_model_setting_for_a_model_it_does_not_have():
    started = run_app_factory(JIMENG_BENEFIT_TYPES="jimeng-video-99=some_benefit")

    assert started.returncode != 0 and "no video model 'jimeng-video-99'" in started.stderr


def test_model_keys_and_benefit_types_change_the_catalogue_at_start():
    code = ("from app.jimeng.models import VIDEO_MODELS as M; m = M['jimeng-video-3.5-pro']; "
            "print(m.req_key, m.benefit_for('first_last_frames', '720p'))")
    env = {**os.environ, "JIMENG_MODEL_KEYS": "jimeng-video-3.5-pro=vgfm_36_pro",
           "JIMENG_BENEFIT_TYPES": "jimeng-video-3.5-pro=seedance_16_{res}"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["vgfm_36_pro", "seedance_16_720p"], out.stderr
