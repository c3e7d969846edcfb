"""Jimeng's answer envelope and the `ret` codes the sandbox refuses with.

Jimeng answers HTTP 200 even on failure, with a non-zero *string* `ret` (protocol 2.6).
"""
from __future__ import annotations

import hashlib
import json
import secrets
import time

RET_OK = "0"
RET_INVALID_PARAMETER = "1000"   # appendix A: "invalid parameter"
RET_SESSION_INVALID = "1015"     # 2.6: login expired / session invalid
RET_SHARK_NOT_PASS = "1019"      # appendix A: risk control
RET_PERMISSION_DENIED = "3018"   # 2.6/9: outdated version constants or signing
RET_NO_CREDIT = "5000"           # 2.6: not enough credits
RET_RISK_REJECT = "4013"         # update 2.5: CN protected generate without a valid a_bogus
RET_SHARK_REJECT = "-6"          # update 2.5: abroad generate without the page's signatures
RET_SHARK_CHECK_REJECT = "-4"    # update 5: abroad credit_receive without the page's signatures


class Refusal(Exception):
    """A refusal the real Jimeng would answer as `{"ret": <code>, "errmsg": ...}`."""

    def __init__(self, ret: str, errmsg: str, *, data: dict | None = None, fields: dict | None = None) -> None:
        super().__init__(f"ret {ret}: {errmsg}")
        self.ret = ret
        self.errmsg = errmsg
        self.data = data            # some refusals carry `data` (e.g. 3018's fail_code)
        self.fields = fields or {}  # and some carry fail fields at the top level (4013)


def new_logid(now: float) -> str:
    """A log id shaped like Jimeng's: UTC timestamp + 20 uppercase hex characters."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(now)) + secrets.token_hex(10).upper()


def envelope(data: dict | None, now: float, *, ret: str = RET_OK, errmsg: str = "success",
             logid: str | None = None, intl_commerce: bool = False) -> dict:
    """The main-API envelope. Abroad, commerce answers name the id `log_id` and carry the payload
    only as a JSON string in `response`, plus a `sign` (update 7, [DR] 9.4: parsed a second time)."""
    logid = logid or new_logid(now)
    body = {"ret": ret, "errmsg": errmsg, "systime": str(int(now))}
    if not intl_commerce:
        return {**body, "logid": logid, "data": data}
    response = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return {**body, "log_id": logid, "response": response, "sign": hashlib.md5(response.encode()).hexdigest()}
