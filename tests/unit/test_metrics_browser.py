"""Calls carried by the browser transport are upstream calls too: counted by endpoint and outcome, with
their time, and once more in jimeng_api_browser_transport_total."""
from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import errors
from app.serving import metrics
from app.jimeng.browser import BrowserCall, TransportPolicy
from app.jimeng.client import GENERATE_PATH, JimengClient
from app.jimeng.regions import parse_token
from tests.jimeng_fakes import envelope


class FakeBrowser:
    """The transport's surface the client uses: `page_path` and `fetch`, answering one canned thing."""

    page_path = "/ai-tool/video/generate"

    def __init__(self, answer):
        self.answer = answer
        self.calls: list[BrowserCall] = []

    def fetch(self, call: BrowserCall) -> tuple[int, str]:
        self.calls.append(call)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def sample(name: str, **labels: str) -> float:
    text = metrics.render()[0].decode()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def counts(outcome: str) -> tuple[float, float, float]:
    return (sample("jimeng_api_upstream_calls_total", endpoint=GENERATE_PATH, outcome=outcome),
            sample("jimeng_api_browser_transport_total", endpoint=GENERATE_PATH, outcome=outcome),
            sample("jimeng_api_upstream_duration_seconds_count", endpoint=GENERATE_PATH))


ACCEPTED = (200, json.dumps(envelope({"aigc_data": {"history_record_id": "4722540945676"}})))


@pytest.mark.parametrize("answer,outcome,raised", [
    (ACCEPTED, "ok", None),
    ((200, json.dumps(envelope(None, ret="1015", errmsg="login required"))), "ret_error", errors.TokenInvalid),
    ((503, "busy"), "unavailable", errors.UpstreamUnavailable),
    (errors.BrowserUnavailable("no usable Chromium"), "unavailable", errors.BrowserUnavailable),
    (errors.UpstreamTimeout("the browser did not finish the call in time"), "timeout", errors.UpstreamTimeout),
])
def test_a_browser_call_is_counted_as_an_upstream_call_and_as_the_browser_s(answer, outcome, raised):
    browser = FakeBrowser(answer)
    jimeng = JimengClient(upstream_url="http://jimeng.test", sleep=lambda s: None, browser=browser,
                          policy=TransportPolicy("always"))
    calls, via_browser, timed = counts(outcome)
    if raised is None:
        assert jimeng.generate(parse_token("sess"), {})["aigc_data"]["history_record_id"] == "4722540945676"
    else:
        with pytest.raises(raised):
            jimeng.generate(parse_token("sess"), {})
    assert len(browser.calls) == 1
    assert counts(outcome) == (calls + 1, via_browser + 1, timed + 1)
