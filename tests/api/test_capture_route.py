"""POST /v1/doctor/capture: a HAR compared with what our client sends; bad input is a clear 400, and
no cookie or session id of the capture is ever answered or logged."""
from __future__ import annotations

import io
import json
import logging

import pytest

from app.jimeng.regions import parse_token
from app.jimeng.wire_diff import RecordingClient
from tests.api.helpers import auth
from tests.captures import entry, har, har_bytes

SECRET = "operator-secret-session-5f3a9c0d1e"
COOKIE = (f"_tea_web_id=7301234567890123456; sessionid={SECRET}; sessionid_ss={SECRET}; sid_tt={SECRET}; "
          f"sid_guard={SECRET}%7C1770000000%7C5184000%7CMon%2C+03-Feb-2025; passport_csrf_token=csrf0123456789abcd")
CHROME = {"user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                        "Chrome/142.0.0.0 Safari/537.36",
          "accept-encoding": "gzip, deflate, br, zstd", "origin": "https://jimeng.jianying.com",
          "referer": "https://jimeng.jianying.com/ai-tool/video/generate", "sec-fetch-mode": "cors"}


def browser_entry(make_call, *, da_version: str | None = None, extra_headers: dict | None = None) -> dict:
    """What a browser on jimeng.jianying.com sent for one of our calls (our request, as a browser writes it)."""
    sent = RecordingClient().record(make_call)
    url = sent.url if da_version is None else sent.url.replace("da_version=3.3.28", f"da_version={da_version}")
    headers = {k: v for k, v in sent.headers.items() if k.lower() not in ("cookie", "content-length")}
    return entry(url, {**headers, **CHROME, "cookie": COOKIE, **(extra_headers or {})}, sent.body)


TOKEN = parse_token("placeholder-0123456789")


def post_capture(client, body: bytes, content_type: str = "application/json"):
    return client.post("/v1/doctor/capture", data=body, content_type=content_type, headers=auth("operator-token"))


def test_a_capture_of_a_newer_client_names_the_setting_to_apply(client):
    capture = har_bytes(browser_entry(lambda c: c.history_list(TOKEN, count=20), da_version="3.3.31"),
                        browser_entry(lambda c: c.video_config(TOKEN), da_version="3.3.31"))

    resp = post_capture(client, capture)

    assert resp.status_code == 200
    report = resp.get_json()
    assert report["settings"] == ["JIMENG_DA_VERSION=3.3.31"]
    history = next(c for c in report["comparison"] if c["call"] == "history_list")
    assert history["status"] == "different"
    assert history["differences"] == [{"where": "query", "name": "da_version", "ours": "3.3.28", "theirs": "3.3.31",
                                       "setting": "JIMENG_DA_VERSION=3.3.31"}]
    assert report["summary"].endswith("JIMENG_DA_VERSION=3.3.31")


def test_a_capture_of_the_same_client_differs_in_nothing(client):
    resp = post_capture(client, har_bytes(browser_entry(lambda c: c.history_list(TOKEN, count=20))))

    report = resp.get_json()
    assert [c["status"] for c in report["comparison"]] == ["same"] and report["settings"] == []


def test_a_new_header_on_every_call_is_one_setting_for_every_call(client):
    new = {"x-jm-client": "web2"}
    capture = har_bytes(browser_entry(lambda c: c.history_list(TOKEN, count=20), extra_headers=new),
                        browser_entry(lambda c: c.account_alive(TOKEN), extra_headers=new))

    assert post_capture(client, capture).get_json()["settings"] == ["JIMENG_EXTRA_HEADERS=*:X-Jm-Client=web2"]


def test_the_har_may_come_as_a_multipart_file(client):
    capture = har_bytes(browser_entry(lambda c: c.history_list(TOKEN, count=20), da_version="3.3.31"))

    resp = client.post("/v1/doctor/capture", data={"file": (io.BytesIO(capture), "jimeng.har")},
                       content_type="multipart/form-data", headers=auth("operator-token"))

    assert resp.status_code == 200 and resp.get_json()["settings"] == ["JIMENG_DA_VERSION=3.3.31"]


def test_no_cookie_or_session_id_of_the_capture_is_answered_or_logged(client, caplog):
    caplog.set_level(logging.DEBUG)
    capture = har_bytes(browser_entry(lambda c: c.history_list(TOKEN, count=20), da_version="3.3.31",
                                      extra_headers={"x-session-echo": SECRET}),
                        entry(f"https://jimeng.jianying.com/mweb/v1/feed?aid=513695&sid={SECRET}",
                              {"cookie": COOKIE}, json.dumps({"session": SECRET})))

    resp = post_capture(client, capture)

    assert resp.status_code == 200
    assert SECRET not in resp.get_data(as_text=True)
    assert "csrf0123456789abcd" not in resp.get_data(as_text=True)
    assert SECRET not in caplog.text


def test_calls_we_never_make_are_listed_by_path(client):
    capture = har_bytes(entry("https://jimeng.jianying.com/mweb/v1/feed?aid=513695", {}, "{}"),
                        entry("https://jimeng.jianying.com/mweb/v1/feed?aid=513695", {}, "{}"),
                        entry("https://jimeng.jianying.com/ai-tool/video/generate", {}, None, method="GET"))

    report = post_capture(client, capture).get_json()

    assert report["comparison"] == []
    assert report["calls_we_never_make"] == [{"path": "/mweb/v1/feed", "seen": 2}]


def test_a_capture_without_any_jimeng_call_is_an_empty_comparison_that_says_so(client):
    report = post_capture(client, har_bytes(entry("https://example.com/api/x", {}, "{}"))).get_json()

    assert report["comparison"] == [] and report["jimeng_calls"] == 0 and report["settings"] == []
    assert "no call to Jimeng's API" in report["summary"]


def test_a_generate_we_cannot_build_is_listed_with_the_reason(client):
    body = {"extend": {"root_model": "dreamina_seedance_50_pro"}, "submit_id": "x",
            "draft_content": json.dumps({"type": "draft", "main_component_id": "c", "component_list": [
                {"id": "c", "type": "video_base_component"}]})}
    capture = har_bytes(entry("https://jimeng.jianying.com/mweb/v1/aigc_draft/generate?aid=513695&region=cn",
                              {}, json.dumps(body)))

    report = post_capture(client, capture).get_json()

    assert report["comparison"][0]["status"] == "not_built"
    assert "dreamina_seedance_50_pro" in report["comparison"][0]["reason"]
    assert "JIMENG_MODEL_KEYS" in report["comparison"][0]["reason"]


@pytest.mark.parametrize("body, words, param", [
    (b"this is not json", "not valid JSON", None),
    (b"[1, 2, 3]", "not a HAR", None),
    (b'{"log": {"version": "1.2"}}', "no log.entries", "log.entries"),
    (b"", "empty", None),
])
def test_what_is_not_a_har_is_a_400_with_a_clear_code(client, body, words, param):
    resp = post_capture(client, body)

    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert error["code"] == "invalid_capture" and words in error["message"] and error["param"] == param


@pytest.mark.parametrize("body, words", [(b"this is not json", "not valid JSON"),
                                         (b'{"log": {"version": "1.2"}}', "no log.entries")])
def test_a_bad_har_uploaded_as_a_file_names_the_file_field(client, body, words):
    resp = client.post("/v1/doctor/capture", data={"file": (io.BytesIO(body), "x.har")},
                       content_type="multipart/form-data", headers=auth("operator-token"))

    error = resp.get_json()["error"]
    assert resp.status_code == 400 and words in error["message"] and error["param"] == "file"


def test_a_multipart_without_the_file_field_is_a_400(client):
    resp = client.post("/v1/doctor/capture", data={"har": (io.BytesIO(b"{}"), "x.har")},
                       content_type="multipart/form-data", headers=auth("operator-token"))
    assert resp.status_code == 400 and "'file'" in resp.get_json()["error"]["message"]


def test_a_capture_over_50_mb_is_413(client):
    padding = "x" * (50 * 1024 * 1024)
    body = json.dumps(har(entry("https://example.com/a", {}, "{}", response_text=padding))).encode()

    resp = post_capture(client, body)

    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "payload_too_large"


def test_a_streamed_capture_without_a_length_is_cut_at_50_mb_with_a_413(client):
    padding = "x" * (50 * 1024 * 1024)
    body = json.dumps(har(entry("https://example.com/a", {}, "{}", response_text=padding))).encode()

    resp = client.post("/v1/doctor/capture", input_stream=io.BytesIO(body),
                       headers={**auth("operator-token"), "Content-Type": "application/json",
                                "Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})

    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "payload_too_large"


def test_a_capture_of_the_configured_upstream_is_compared_too(client):
    sent = RecordingClient(upstream_url="http://jimeng.test").record(lambda c: c.history_list(TOKEN, count=20))
    capture = har_bytes(entry(sent.url.replace("da_version=3.3.28", "da_version=3.3.31"), dict(sent.headers),
                              sent.body))

    assert post_capture(client, capture).get_json()["settings"] == ["JIMENG_DA_VERSION=3.3.31"]


def test_the_capture_route_needs_the_callers_authentication(client):
    assert client.post("/v1/doctor/capture", data=har_bytes(), content_type="application/json").status_code == 401
