"""Jimeng's answer envelope turned into data or a typed error (protocol 2.6, appendix A).

Jimeng answers HTTP 200 with a string `ret`; anything but "0" is a failure.
"""
from __future__ import annotations

import json

from app import errors
from app.serving.logs import redact

# One table: ret code -> (error class, message). Messages are for people; `upstream_code` keeps the raw.
RET_ERRORS: dict[str, tuple[type[errors.ServiceError], str]] = {
    "1015": (errors.TokenInvalid, "Jimeng says the session is invalid or expired"),
    "34010105": (errors.TokenInvalid, "Jimeng says the session is invalid or expired"),
    "5000": (errors.InsufficientCredits, "the Jimeng account has not enough credits for this task"),
    # 2026 update section 5: 1006 replaced 5000 for credits; 1310 is a per-account parallel-task limit;
    # 2061 answers for models Jimeng no longer offers.
    "1006": (errors.InsufficientCredits, "the Jimeng account has not enough credits for this task"),
    "1310": (errors.ConcurrencyLimit, "the Jimeng account has too many running tasks"),
    "2061": (errors.ModelUnavailable, "Jimeng no longer offers this model"),
    "4001": (errors.ContentRejected, "Jimeng's content policy rejected the prompt or media"),
    "2003": (errors.ContentRejected, "Jimeng's content check rejected an image"),
    "4002": (errors.InvalidRequest, "Jimeng rejected a parameter"),
    "1000": (errors.InvalidRequest, "Jimeng rejected a parameter"),
    "34010100": (errors.InvalidRequest, "Jimeng rejected a parameter"),
    "1019": (errors.RiskControl, "Jimeng's anti-abuse check refused the request (shark not pass)"),
    "4013": (errors.RiskControl, "Jimeng's anti-abuse check refused the request"),
    "-4": (errors.RiskControl, "Jimeng's anti-abuse check refused the request (shark check reject)"),
    "-6": (errors.RiskControl, "Jimeng's anti-abuse check refused the request"),
    "1018": (errors.RiskControl, "Jimeng has restricted this account"),
    "3000": (errors.RegionNotAllowed, "Jimeng does not allow this in the account's region"),
    "3018": (errors.UpstreamChanged,
             "Jimeng refused this client's protocol (ret 3018); the protocol constants may need an update "
             "(JIMENG_APP_VERSION, JIMENG_DA_VERSION and the others in docs/jimeng-changes.md)"),
    "1014": (errors.UpstreamUnavailable, "Jimeng's system is busy; retry later"),
    "5001": (errors.UpstreamError, "Jimeng could not start the generation (ret 5001)"),
    "5002": (errors.UpstreamError, "Jimeng could not start the video generation (ret 5002)"),
}
# Refusals that repeating cannot fix; safe reads are retried only on the busy code.
RETRYABLE_RETS = frozenset({"1014"})
# 1310 says nothing about when a slot frees up; Jimeng's own queue polls every 30 s (update 6).
CONCURRENCY_RETRY_AFTER = "30"
FAIL_FIELDS = ("fail_code", "fail_starling_key", "fail_starling_message")


class UpstreamRet(Exception):
    """Internal: a non-zero ret, before it becomes a ServiceError (lets the client retry busy codes
    and choose the browser transport on risk refusals)."""

    def __init__(self, ret: str, errmsg: str, fail: dict[str, str] | None = None) -> None:
        super().__init__(f"ret {ret}: {errmsg}")
        self.ret, self.errmsg = ret, errmsg
        self.fail = fail or {}


def fail_fields(body: dict) -> dict[str, str]:
    """fail_code / fail_starling_key / fail_starling_message, wherever Jimeng put them: the top
    level (4013) or under `data` (3018, 1006 abroad); update 2.5. Empty values are dropped."""
    found: dict[str, str] = {}
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    for name in FAIL_FIELDS:
        for source in (body, data):
            value = source.get(name)
            if value not in (None, "") and isinstance(value, (str, int)):
                found[name] = str(value)
                break
    return found


def error_for(ret: str, errmsg: str, fail: dict[str, str] | None = None) -> errors.ServiceError:
    """The typed error for a refusal. Jimeng's own human message (`fail_starling_message`) is the
    best explanation there is, so it is shown when present; the raw codes stay in the body."""
    fail = fail or {}
    cls, message = RET_ERRORS.get(ret, (errors.UpstreamError, "Jimeng answered with an error"))
    human = redact(fail.get("fail_starling_message", ""))[:300]
    errmsg = redact(errmsg)[:200]
    if human:
        detail = f"{message}: {human}"
    elif errmsg and errmsg not in ("success", ""):
        detail = f"{message} ({errmsg})"
    else:
        detail = message
    extra = {"upstream_code": ret}
    if fail.get("fail_code"):
        extra["upstream_fail_code"] = redact(fail["fail_code"])[:40]
    headers = {"Retry-After": CONCURRENCY_RETRY_AFTER} if cls is errors.ConcurrencyLimit else None
    return cls(detail, extra=extra, headers=headers)


def unwrap(body: object, where: str = "") -> dict:
    """The `data` of a successful envelope; raises UpstreamRet for a non-zero ret.

    Every successful answer carries its payload as an object; a ret "0" without one (`"data": null`)
    is an answer we cannot read, a 502, never read as "nothing": an empty upload grant would pass
    for a logged-out session, an empty balance for 0 credits, an empty history for a lost task."""
    on = f" to {where}" if where else ""
    if not isinstance(body, dict):
        raise errors.UpstreamError(f"Jimeng's answer{on} is not a JSON object")
    ret = body.get("ret")
    if ret is None:
        return body  # not an envelope at all (iptag returns such bodies as they are)
    ret = str(ret)
    if ret != "0":
        raise UpstreamRet(ret, str(body.get("errmsg") or ""), fail_fields(body))
    data = body.get("data")
    if not (isinstance(data, dict) and data) and isinstance(body.get("response"), str):
        # Abroad, commerce answers carry the payload as a JSON string in `response` (update 7, [DR]
        # 9.4); an HK log had `data` too. An empty or missing `data` defers to `response`.
        try:
            data = json.loads(body["response"][:1_000_000])
        except ValueError:
            pass
    if not isinstance(data, dict):
        raise errors.UpstreamError(f"Jimeng's answer{on} says success but carries no data")
    return data
