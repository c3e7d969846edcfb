"""Wire details pinned at the HTTP boundary: browser identity headers, the passport check's empty
body, the 2026 query values, and protocol constants overridden from the environment."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import responses
from responses import matchers

from app.jimeng.client import JimengClient
from app.jimeng.regions import parse_token
from tests.jimeng_fakes import GENERATE_URL, HISTORY_URL, envelope, generate_answer

ROOT = Path(__file__).resolve().parents[2]
CHROME_142_BRANDS = '"Chromium";v="142", "Google Chrome";v="142", "Not_A Brand";v="99"'


@pytest.fixture
def jimeng():
    return JimengClient(upstream_url="http://jimeng.test", sleep=lambda s: None, clock=lambda: 1770000000.0)


@responses.activate
def test_api_calls_send_chromes_brand_order_and_language(jimeng):
    responses.post(HISTORY_URL, json=envelope({}), match=[matchers.header_matcher({
        "Sec-Ch-Ua": CHROME_142_BRANDS, "Sec-Ch-Ua-Mobile": "?0", "Sec-Ch-Ua-Platform": '"Windows"',
        "Accept-Language": "zh-CN,zh;q=0.9"})])
    jimeng.history_by_ids(parse_token("sess"), ["1"])
    assert "Chrome/142" in responses.calls[0].request.headers["User-Agent"]


@responses.activate
def test_abroad_calls_carry_the_accounts_country_and_language(jimeng):
    """Update 2.6 ([DR]'s capture of a Dreamina generate): `loc US`, `store-country-code us`,
    `store-country-code-src uid`; a US account's browser asks for English, not Chinese."""
    responses.post(HISTORY_URL, json=envelope({}))
    jimeng.history_by_ids(parse_token("us-sess"), ["1"])
    headers = responses.calls[0].request.headers
    assert (headers["Lan"], headers["Loc"]) == ("en", "US")
    assert headers["Store-Country-Code"] == "us" and headers["Store-Country-Code-Src"] == "uid"
    assert headers["Accept-Language"] == "en-US,en;q=0.9"


@responses.activate
def test_cn_calls_keep_their_headers_and_send_no_store_country(jimeng):
    responses.post(HISTORY_URL, json=envelope({}))
    jimeng.history_by_ids(parse_token("sess"), ["1"])
    headers = responses.calls[0].request.headers
    assert (headers["Lan"], headers["Loc"], headers["Accept-Language"]) == ("zh-Hans", "cn", "zh-CN,zh;q=0.9")
    assert "Store-Country-Code" not in headers and "Store-Country-Code-Src" not in headers


class RecordingBrowser:
    """Stands in for the browser transport: keeps the in-page call it was given."""

    page_path = "/ai-tool/video/generate"

    def __init__(self) -> None:
        self.calls = []

    def fetch(self, call):
        self.calls.append(call)
        return 200, json.dumps(generate_answer())


def test_an_abroad_in_page_generate_sets_the_country_headers_and_an_english_browser():
    browser = RecordingBrowser()
    jimeng = JimengClient(upstream_url="http://jimeng.test", sleep=lambda s: None, clock=lambda: 1770000000.0,
                          browser=browser)
    jimeng.generate(parse_token("us-sess"), {"submit_id": "x"}, kind="video")   # abroad: the browser at once
    call = browser.calls[0]
    assert call.headers["Loc"] == "US" and call.headers["Lan"] == "en"
    assert call.headers["Store-Country-Code"] == "us" and call.headers["Store-Country-Code-Src"] == "uid"
    assert call.headers["Accept-Language"] == "en-US,en;q=0.9"
    assert call.locale == "en-US"          # the context's navigator.language and default Accept-Language


@responses.activate
def test_the_passport_check_sends_an_empty_body(jimeng):
    responses.post("http://jimeng.test/passport/account/info/v2", json=envelope({"user_id": 7}),
                   match=[matchers.query_param_matcher({"account_sdk_source": "web"}, strict_match=False)])
    assert jimeng.account_alive(parse_token("sess")) is True
    request = responses.calls[0].request
    assert request.body in (None, b"", "")
    assert "Content-Type" not in request.headers


@responses.activate
def test_video_generate_carries_the_2026_query(jimeng):
    responses.post(GENERATE_URL, json=generate_answer(), match=[matchers.query_param_matcher(
        {"commerce_with_input_video": "1", "da_version": "3.3.28", "web_version": "7.5.0"}, strict_match=False)])
    jimeng.generate(parse_token("sess"), {"submit_id": "x"}, kind="video")


@responses.activate
def test_image_generate_does_not_carry_the_video_commerce_flag(jimeng):
    responses.post(GENERATE_URL, json=generate_answer())
    jimeng.generate(parse_token("sess"), {"submit_id": "x"}, kind="image")
    assert "commerce_with_input_video" not in responses.calls[0].request.url


# A fresh interpreter, because constants are read once at import, as a worker does at start.
_PROBE = """
import json, sys, responses
from app.jimeng.client import JimengClient
from app.jimeng.regions import parse_token
base, token, upstream = sys.argv[1:4]
with responses.RequestsMock() as mock:
    mock.post(base + "/mweb/v1/get_history_by_ids", json={"ret": "0", "data": {}})
    JimengClient(upstream_url=upstream).history_by_ids(parse_token(token), ["1"])
    request = mock.calls[0].request
    print(json.dumps({"url": request.url, "headers": dict(request.headers)}))
"""


def probe(env: dict, base: str = "http://jimeng.test", token: str = "sess", upstream: str = "http://jimeng.test",
          check: bool = True):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JIMENG_")}
    out = subprocess.run([sys.executable, "-c", _PROBE, base, token, upstream], env={**clean, **env}, cwd=ROOT,
                         capture_output=True, text=True, check=check, timeout=60)
    return json.loads(out.stdout) if check else out


def test_protocol_constants_are_overridable_from_the_environment():
    sent = probe({"JIMENG_DA_VERSION": "3.3.99", "JIMENG_WEB_VERSION": "7.9.1", "JIMENG_APP_VERSION": "8.5.0",
                  "JIMENG_APP_SDK_VERSION": "49.0.0",
                  "JIMENG_CHROME_UA": "Mozilla/5.0 Chrome/150.0.0.0", "JIMENG_SEC_CH_UA": '"Chromium";v="150"'})
    assert "da_version=3.3.99" in sent["url"] and "web_version=7.9.1" in sent["url"]
    headers = sent["headers"]
    assert headers["Appvr"] == "8.5.0" and headers["App-Sdk-Version"] == "49.0.0"
    assert headers["User-Agent"] == "Mozilla/5.0 Chrome/150.0.0.0" and headers["Sec-Ch-Ua"] == '"Chromium";v="150"'
    # Sign is computed with the overridden Appvr, so Jimeng can check it.
    device_time = headers["Device-Time"]
    expected = hashlib.md5(f"9e2c|_by_ids|7|8.5.0|{device_time}||11ac".encode()).hexdigest()
    assert headers["Sign"] == expected


def test_without_overrides_the_2026_defaults_are_sent():
    sent = probe({})
    assert "da_version=3.3.28" in sent["url"] and sent["headers"]["Appvr"] == "8.4.0"


def test_a_regions_cluster_host_is_overridable_from_the_environment():
    sent = probe({"JIMENG_JP_MAIN_BASE": "https://dreamina-api-jp.example.com/"},
                 base="https://dreamina-api-jp.example.com", token="jp-sess", upstream="")
    assert sent["url"].startswith("https://dreamina-api-jp.example.com/mweb/v1/get_history_by_ids?")
    assert sent["headers"]["Origin"] == "https://dreamina-api-jp.example.com"


def test_a_malformed_host_override_stops_the_worker_with_the_variable_named():
    out = probe({"JIMENG_US_MAIN_BASE": "dreamina.example.com/x"}, check=False)
    assert out.returncode != 0 and "JIMENG_US_MAIN_BASE" in out.stderr
