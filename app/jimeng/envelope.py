"""Jimeng's answer envelope turned into data or a typed error (protocol 2.6, appendix A).

Jimeng answers HTTP 200 with a string `ret`; anything but "0" is a failure.
"""
from __future__ import annotations

import json

from app import errors
from app.logs import redact

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
             "Jimeng refused this client's protocol (ret 3018); the protocol constants may need an update"),
    "1014": (errors.UpstreamUnavailable, "Jimeng's system is busy; retry later"),
    "5001": (errors.UpstreamError, "Jimeng could not start the generation (ret 5001)"),
    "5002": (errors.UpstreamError, "Jimeng could not start the video generation (ret 5002)"),
}
# Refusals that repeating cannot fix; safe reads are retried only on the busy code.
RETRYABLE_RETS = frozenset({"1014"})


class UpstreamRet(Exception):
    """Internal: a non-zero ret, before it becomes a ServiceError (lets the client retry busy codes
    and choose the browser transport on risk refusals)."""

    def __init__(self, ret: str, errmsg: str, body: dict | None = None) -> None:
        super().__init__(f"ret {ret}: {errmsg}")
        self.ret, self.errmsg, self.body = ret, errmsg, body or {}

    @property
    def fail_code(self) -> str:
        return fail_field(self.body, "fail_code")


def fail_field(body: dict, name: str) -> str:
    """A failure field, at the top level or under `data` (update 2.5: both are seen)."""
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    value = body.get(name) or data.get(name)
    return str(value) if value not in (None, "") else ""


def error_for(ret: str, errmsg: str, body: dict | None = None) -> errors.ServiceError:
    cls, message = RET_ERRORS.get(ret, (errors.UpstreamError, "Jimeng answered with an error"))
    # Jimeng's own human message (fail_starling_message) says more than errmsg where it is given.
    errmsg = redact(fail_field(body or {}, "fail_starling_message") or errmsg)[:200]
    detail = f"{message} ({errmsg})" if errmsg and errmsg not in ("success", "") else message
    return cls(detail, extra={"upstream_code": ret})


def unwrap(body: object) -> dict:
    """The `data` of a successful envelope; raises UpstreamRet for a non-zero ret."""
    if not isinstance(body, dict):
        raise errors.UpstreamError("Jimeng answered with something that is not a JSON object")
    ret = body.get("ret")
    if ret is None:
        return body  # not an envelope at all (iptag returns such bodies as they are)
    ret = str(ret)
    if ret != "0":
        raise UpstreamRet(ret, str(body.get("errmsg") or ""), body)
    data = body.get("data")
    if data is None and isinstance(body.get("response"), str):
        # Abroad, commerce answers were seen carrying the payload as a JSON string (protocol 2.6).
        try:
            data = json.loads(body["response"])
        except ValueError:
            data = None
    return data if isinstance(data, dict) else {}
