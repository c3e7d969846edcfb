"""One delivery attempt and what follows it: delivered, retried later, or given up.

At least once: a 2xx ends it; any other answer (a 3xx too: redirects are not followed), a timeout or
a refused connection is retried, quickly at first, then with exponential backoff and jitter, for at
least WEBHOOK_RETRY_HOURS (24 h or more), honouring `Retry-After`; a 410 stops it at once.
"""
from __future__ import annotations

import email.utils
import random
from dataclasses import dataclass

import requests

from app.net.sessions import REFUSED_ADDRESS

MAX_ANSWER_BYTES = 4096     # a receiver's answer is read this far, never more
MAX_DELAY = 3600.0          # the longest wait between two attempts (before Retry-After)
GROWTH = 4                  # each wait about this many times the last: base 5 s -> 5, 20, 80, 320 s...
JITTER = 0.2                # +-20%, so receivers that failed together are not retried together


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
         now: float) -> Answer:
    """POST the event; read at most MAX_ANSWER_BYTES of the answer."""
    try:
        resp = session.post(url, data=body.encode(), stream=True, allow_redirects=False, timeout=(timeout, timeout),
                            headers={**headers, "Content-Type": "application/json", "Accept-Encoding": "identity"})
    except REFUSED_ADDRESS:
        return Answer(None, "refused_address")
    except requests.Timeout:
        return Answer(None, "timeout")
    except requests.RequestException:
        return Answer(None, "connection_error")
    with resp:
        try:
            resp.raw.read(MAX_ANSWER_BYTES)
        except Exception:   # noqa: BLE001 - the status is what counts; a broken body changes nothing
            pass
        return Answer(resp.status_code, f"{resp.status_code // 100}xx", _retry_after(resp.headers, now))


def _retry_after(headers, now: float) -> float | None:
    """`Retry-After` in seconds (delta or HTTP date), or None."""
    raw = (headers.get("Retry-After") or "").strip()
    if not raw:
        return None
    if raw.isdigit():
        return float(raw)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now, 0.0) if when is not None else None


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
        wait = max(wait, answer.retry_after)
    # The last attempt is made at the end of the window, so a receiver gets the whole window.
    return "retrying", min(now + wait, end)
