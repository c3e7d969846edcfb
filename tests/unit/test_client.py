"""The Jimeng client at the HTTP boundary: envelope errors, retries, and what is never retried."""
import pytest
import requests
import responses
from responses import matchers

from app import errors
from app.jimeng.client import JimengClient
from app.jimeng.regions import parse_token
from tests.jimeng_fakes import GENERATE_URL, HISTORY_URL, envelope


@pytest.fixture
def jimeng():
    return JimengClient(upstream_url="http://jimeng.test", sleep=lambda s: None, clock=lambda: 1770000000.0)


@responses.activate
def test_signed_history_call_carries_params_headers_and_cookies(jimeng):
    responses.post(HISTORY_URL, json=envelope({"1": {"status": 20}}), match=[
        matchers.json_params_matcher({"history_ids": ["1"]}),
        matchers.query_param_matcher({"aid": "513695", "region": "cn", "device_platform": "web"}, strict_match=False),
        matchers.header_matcher({"Device-Time": "1770000000", "Appvr": "8.4.0", "Pf": "7", "Sign-Ver": "1"}),
    ])
    assert jimeng.history_by_ids(parse_token("sess"), ["1"]) == {"1": {"status": 20}}
    cookie = responses.calls[0].request.headers["Cookie"]
    assert "sessionid=sess" in cookie and "sid_tt=sess" in cookie


@pytest.mark.parametrize("ret,cls", [
    ("1015", errors.TokenInvalid), ("5000", errors.InsufficientCredits), ("4001", errors.ContentRejected),
    ("1019", errors.RiskControl), ("3000", errors.RegionNotAllowed), ("4002", errors.InvalidRequest),
    ("3018", errors.UpstreamError), ("777", errors.UpstreamError),
])
@responses.activate
def test_http_200_with_nonzero_ret_is_a_typed_error(jimeng, ret, cls):
    responses.post(GENERATE_URL, json=envelope(None, ret=ret, errmsg="nope"))
    with pytest.raises(cls) as info:
        jimeng.generate(parse_token("s"), {})
    assert info.value.extra["upstream_code"] == ret


@responses.activate
def test_safe_reads_are_retried_on_5xx(jimeng):
    responses.post(HISTORY_URL, status=503)
    responses.post(HISTORY_URL, json=envelope({}))
    assert jimeng.history_by_ids(parse_token("s"), ["1"]) == {}
    assert len(responses.calls) == 2


@responses.activate
def test_safe_reads_are_retried_on_system_busy_ret(jimeng):
    responses.post(HISTORY_URL, json=envelope(None, ret="1014", errmsg="system busy"))
    responses.post(HISTORY_URL, json=envelope({}))
    jimeng.history_by_ids(parse_token("s"), ["1"])
    assert len(responses.calls) == 2


@responses.activate
def test_generate_is_never_retried_after_it_may_have_arrived(jimeng):
    responses.post(GENERATE_URL, status=502)
    with pytest.raises(errors.UpstreamUnavailable):
        jimeng.generate(parse_token("s"), {"submit_id": "x"})
    responses.post(GENERATE_URL, body=requests.ReadTimeout("slow"))
    with pytest.raises(errors.UpstreamTimeout):
        jimeng.generate(parse_token("s"), {"submit_id": "x"})
    assert len(responses.calls) == 2  # one each


@responses.activate
def test_rate_limit_passes_retry_after(jimeng):
    responses.post(GENERATE_URL, status=429, headers={"Retry-After": "30"})
    with pytest.raises(errors.RateLimited) as info:
        jimeng.generate(parse_token("s"), {})
    assert info.value.headers == {"Retry-After": "30"}


@responses.activate
def test_response_cookies_are_not_carried_to_the_next_account(jimeng):
    responses.post(HISTORY_URL, json=envelope({}), headers={"Set-Cookie": "sessionid=leaked; Path=/"})
    jimeng.history_by_ids(parse_token("alice"), ["1"])
    jimeng.history_by_ids(parse_token("bob"), ["1"])
    assert "alice" not in responses.calls[1].request.headers["Cookie"]
    assert "leaked" not in responses.calls[1].request.headers["Cookie"]
    assert len(jimeng.session.cookies) == 0


@responses.activate
def test_hk_token_goes_to_the_sg_host_without_override():
    jimeng = JimengClient(sleep=lambda s: None)
    responses.post("https://mweb-api-sg.capcut.com/mweb/v1/get_history_by_ids", json=envelope({}))
    jimeng.history_by_ids(parse_token("hk-s"), ["1"])
    assert "region=HK" in responses.calls[0].request.url


@responses.activate
def test_a_us_token_talks_to_the_us_ttp2_cluster():
    jimeng = JimengClient(sleep=lambda s: None)
    responses.post("https://dreamina-api-us-ttp2.us.capcut.com/mweb/v1/get_history_by_ids", json=envelope({}))
    jimeng.history_by_ids(parse_token("us-s"), ["1"])
    request = responses.calls[0].request
    assert "region=US" in request.url and request.headers["Origin"] == "https://dreamina-api-us-ttp2.us.capcut.com"


@responses.activate
def test_credit_query_sends_no_query_params_to_the_commerce_host():
    jimeng = JimengClient(sleep=lambda s: None)
    responses.post("https://commerce-us-ttp2.us.capcut.com/commerce/v1/benefits/user_credit",
                   json=envelope({"credit": {"gift_credit": 1}}))
    assert jimeng.credits(parse_token("us-s")) == {"credit": {"gift_credit": 1}}
    assert "?" not in responses.calls[0].request.url


@responses.activate
def test_retries_share_one_deadline():
    now = [1770000000.0]
    jimeng = JimengClient(upstream_url="http://jimeng.test", timeout=45, read_deadline=60,
                          clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    timeouts = []

    def slow(request):
        timeouts.append(request.req_kwargs["timeout"][1])
        now[0] += 45
        raise requests.ReadTimeout("slow")

    responses.add_callback(responses.POST, HISTORY_URL, callback=slow)
    with pytest.raises(errors.UpstreamTimeout):
        jimeng.history_by_ids(parse_token("s"), ["1"])
    assert timeouts[0] == 45 and all(t <= 15 for t in timeouts[1:])
