"""The small parts of webhooks: the retry schedule, signatures, sealed sessions, target checks."""
from __future__ import annotations

import socket

import pytest
from standardwebhooks.webhooks import Webhook

from app.errors import InvalidRequest
from app.webhooks import delivery, sealed, signing
from app.webhooks.delivery import Answer, Policy, next_attempt
from app.webhooks.targets import check_target
from sandbox.receiver import SECRET

DAY = 86400
FEB_1_0240_UTC = 1_769_904_000 + 2 * 3600 + 40 * 60
POLICY = Policy(base_seconds=5, window_seconds=25 * 3600)


def schedule(answer: Answer, rand=lambda: 1.0) -> list[float]:
    """The times of every attempt after the first (at 0) for a receiver that always answers `answer`."""
    times, now, attempts = [], 0.0, 1
    while True:
        state, at = next_attempt(answer, attempts, 0.0, now, POLICY, rand=rand)
        if at is None:
            return times
        times.append(at)
        now, attempts = at, attempts + 1


def test_the_third_attempt_comes_within_a_minute_even_with_the_slowest_jitter():
    assert schedule(Answer(500, "5xx"))[1] <= 60


def test_a_failing_receiver_is_retried_for_at_least_24_hours_then_given_up():
    times = schedule(Answer(500, "5xx"))
    assert times[-1] >= 24 * 3600 and times[-1] == POLICY.window_seconds
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) <= delivery.MAX_DELAY * (1 + delivery.JITTER) and len(times) < 60


def test_waits_grow_exponentially_with_jitter_around_them():
    low = schedule(Answer(None, "timeout"), rand=lambda: 0.0)
    high = schedule(Answer(None, "timeout"), rand=lambda: 1.0)
    assert low[0] == pytest.approx(4.0) and high[0] == pytest.approx(6.0)
    assert high[1] - high[0] == pytest.approx(24.0)


@pytest.mark.parametrize("status,state", [(200, "delivered"), (204, "delivered"), (410, "gave_up"),
                                          (302, "retrying"), (404, "retrying"), (429, "retrying")])
def test_what_an_answer_leads_to(status, state):
    assert next_attempt(Answer(status, f"{status // 100}xx"), 1, 0.0, 0.0, POLICY)[0] == state


def test_retry_after_may_lengthen_a_wait_up_to_an_hour_never_past_the_window():
    assert next_attempt(Answer(503, "5xx", retry_after=600), 1, 0.0, 0.0, POLICY)[1] == 600
    assert next_attempt(Answer(503, "5xx", retry_after=10 * DAY), 1, 0.0, 0.0, POLICY)[1] == delivery.MAX_DELAY
    near_end = POLICY.window_seconds - 100
    assert next_attempt(Answer(503, "5xx", retry_after=600), 9, 0.0, near_end, POLICY)[1] == POLICY.window_seconds


def test_retry_after_as_an_http_date():
    from email.utils import formatdate

    headers = {"Retry-After": formatdate(1_770_000_300, usegmt=True)}
    assert delivery._retry_after(headers, 1_770_000_000) == 300


@pytest.mark.parametrize("value,seconds", [
    ("120", 120), (" 7 ", 7), ("0", 0), ("99999999999", float("inf")), ("9" * 5000, float("inf")),
    ("Sun, 01 Feb 2026 02:45:00 GMT", 300.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),   # gone by: at once
])
def test_retry_after_forms_a_receiver_may_send(value, seconds):
    assert delivery._retry_after({"Retry-After": value}, FEB_1_0240_UTC) == seconds


def test_a_retry_after_date_in_minus_0000_is_utc_whatever_the_host_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        assert delivery._retry_after({"Retry-After": "Sun, 01 Feb 2026 02:45:00 -0000"}, FEB_1_0240_UTC) == 300
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("value", ["\u00b2", "\u0661\u0662\u0660", "1.5", "-5", "+5", "5s", "soon",
                                   "Wed, 99 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 99999999 07:28:00 GMT", "\x00"])
def test_a_retry_after_that_is_neither_seconds_nor_a_date_is_ignored(value):
    assert delivery._retry_after({"Retry-After": value}, 1_770_000_000.0) is None


def test_a_huge_retry_after_waits_an_hour_not_the_rest_of_the_window():
    answer = Answer(503, "5xx", retry_after=delivery._retry_after({"Retry-After": "99999999999"}, 0.0))
    assert next_attempt(answer, 1, 0.0, 0.0, POLICY)[1] == delivery.MAX_DELAY


def test_signatures_verify_with_the_standard_webhooks_library():
    import time

    now = time.time()
    headers = signing.signed_headers(SECRET, "evt_1", '{"a":1}', now)
    assert Webhook(SECRET).verify('{"a":1}', headers) == {"a": 1}
    assert headers["webhook-id"] == "evt_1" and headers["webhook-timestamp"] == str(int(now))


@pytest.mark.parametrize("secret", ["", "secret", "whsec_", "whsec_***", "whsec_c2hvcnQ=",
                                    "whsec_" + "A" * 200])
def test_malformed_secrets_are_named(secret):
    assert "WEBHOOK_SECRET" in signing.secret_problem(secret, "WEBHOOK_SECRET")


def test_a_sealed_session_opens_only_for_its_own_watch_and_key():
    box = sealed.seal("secret-key-0123456789", "session-id", "watch-1")
    assert "session-id" not in box
    assert sealed.unseal("secret-key-0123456789", box, "watch-1") == "session-id"
    assert sealed.unseal("secret-key-0123456789", box, "watch-2") is None
    assert sealed.unseal("another-key-0123456789", box, "watch-1") is None


def resolving_to(*addresses):
    return lambda host, port, type: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]


def test_a_host_that_resolves_to_a_private_address_is_refused():
    with pytest.raises(InvalidRequest, match="public address"):
        check_target("https://hooks.example.com/x", https_only=True, allow_loopback=False,
                     resolve=resolving_to("93.184.216.34", "10.0.0.7"))


def test_a_host_that_does_not_resolve_is_refused():
    def fail(*args, **kwargs):
        raise socket.gaierror("no")

    with pytest.raises(InvalidRequest, match="does not resolve"):
        check_target("https://nowhere.example/x", https_only=True, allow_loopback=False, resolve=fail)


@pytest.mark.parametrize("url", ["http://[::ffff:127.0.0.1]:9/x", "http://0x7f.1:9/", "https://localhost/x",
                                 "https://[fd00::1]/", "https://[::1]/"])
def test_loopback_and_private_forms_are_refused(url):
    with pytest.raises(InvalidRequest):
        check_target(url, https_only=False, allow_loopback=False, resolve=resolving_to("127.0.0.1"))


def test_a_public_https_target_passes_and_loses_its_fragment():
    target = check_target("https://Hooks.example.com/in?x=1#frag", https_only=True, allow_loopback=False,
                          resolve=resolving_to("93.184.216.34"))
    assert target.url == "https://Hooks.example.com/in?x=1" and target.host == "hooks.example.com"


def test_delivery_refuses_an_address_that_turned_private_after_submit():
    """requests-hardened checks again at connect time; `responses` would bypass it, so a real socket."""
    from app.net.sessions import public_session

    session = public_session(False, timeout=(2, 2), user_agent="jimeng-api-webhooks")
    answer = delivery.send(session, "http://127.0.0.1:9/x", "{}", {}, 2, 0.0)
    assert answer == Answer(None, "refused_address")
