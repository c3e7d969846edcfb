"""One delivery attempt and what follows it: delivered, retried later, or given up.

At least once: a 2xx ends it; any other answer (a 3xx too: redirects are not followed), a timeout or
a refused connection is retried, quickly at first, then with exponential backoff and jitter, for at
least WEBHOOK_RETRY_HOURS (24 h or more), honouring `Retry-After` up to an hour; a 410 stops it at once.
"""
from __future__ import annotations

import datetime
import email.utils
import random
import re
from dataclasses import dataclass

import requests

from app.net.sessions import REFUSED_ADDRESS
from app.webhooks.attempts import Attempt

MAX_ANSWER_BYTES = 4096     # a receiver's answer is read this far, never more
MAX_DELAY = 3600.0          # the longest wait between two attempts, a receiver's Retry-After included
GROWTH = 4                  # each wait about this many times the last: base 5 s -> 5, 20, 80, 320 s...
JITTER = 0.2                # +-20%, so receivers that failed together are not retried together
_DELTA_SECONDS = re.compile(r"[0-9]+", re.ASCII)


@dataclass(frozen=True)
class Answer:
    status: int | None          # None: no HTTP answer (timeout, refused, unreachable, refused address)
    result: str                 # for metrics: 2xx, 3xx, 4xx, 5xx, timeout, connection_error, refused_address
    retry_after: float | None = None


@dataclass(frozen=True)
class Policy:
    base_seconds: float
    window_seconds: float       # retried this long after the event was created


def send(session: requests.Session, url: str, body: str, headers: dict[str, str], timeout: float,
         now: float, attempt: Attempt | None = None) -> Answer:
    """POST the event; read at most MAX_ANSWER_BYTES of the answer. `attempt`: the deadline it runs
    under (app/webhooks/attempts.py); an answer whose head was not whole by then counts for nothing."""
    try:
        resp = session.post(url, data=body.encode(), stream=True, allow_redirects=False, timeout=(timeout, timeout),
                            headers={**headers, "Content-Type": "application/json", "Accept-Encoding": "identity"})
    except REFUSED_ADDRESS:
        return Answer(None, "refused_address")
    except requests.Timeout:
        return Answer(None, "timeout")
    except requests.RequestException:
        return _ended(attempt) or Answer(None, "connection_error")
    if ended := _ended(attempt):
        # http.client takes a head cut short for a whole one: "HTTP/1.1 200 OK" and half a header
        # line would read as a 200. The deadline fell before the head was complete: no answer came.
        resp.close()
        return ended
    with resp:
        try:
            resp.raw.read(MAX_ANSWER_BYTES)
        except Exception:   # noqa: BLE001 - the status is what counts; a broken body changes nothing
            pass
        return Answer(resp.status_code, f"{resp.status_code // 100}xx", _retry_after(resp.headers, now))


def _ended(attempt: Attempt | None) -> Answer | None:
    """The answer of an attempt its deadline (or a stop) ended: a timeout, or cut."""
    if attempt is None or not (attempt.expired or attempt.cut):
        return None
    return Answer(None, "cut" if attempt.cut else "timeout")


def _retry_after(headers, now: float) -> float | None:
    """`Retry-After` in seconds, or None: delta seconds in ASCII digits, or an HTTP date (RFC 9110
    10.2.3). Anything else is ignored: a receiver's header must never stop an attempt being recorded
    (`"²".isdigit()` is true; so are other scripts' digits). Capped at MAX_DELAY by `next_attempt`."""
    raw = (headers.get("Retry-After") or "").strip()
    if not raw:
        return None
    if _DELTA_SECONDS.fullmatch(raw):
        # A huge value is only ever capped: no need to build a number of thousands of digits.
        return float(raw) if len(raw) <= 9 else float("inf")
    try:
        when = email.utils.parsedate_to_datetime(raw)
        if when.tzinfo is None:          # "-0000": UTC (RFC 5322 3.3), not this host's zone
            when = when.replace(tzinfo=datetime.timezone.utc)
        return max(when.timestamp() - now, 0.0)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def next_attempt(answer: Answer, attempts: int, created_at: float, now: float, policy: Policy,
                 rand=random.random) -> tuple[str, float | None]:
    """(state, next attempt time or None) after `attempts` attempts, the last answered `answer`."""
    if answer.status is not None and 200 <= answer.status < 300:
        return "delivered", None
    if answer.status == 410:
        return "gave_up", None
    end = created_at + policy.window_seconds
    if now >= end:
        return "gave_up", None
    wait = min(policy.base_seconds * GROWTH ** max(attempts - 1, 0), MAX_DELAY)
    wait *= 1 + JITTER * (2 * rand() - 1)
    if answer.retry_after is not None:
        wait = max(wait, min(answer.retry_after, MAX_DELAY))
    # The last attempt is made at the end of the window, so a receiver gets the whole window.
    return "retrying", min(now + wait, end)
