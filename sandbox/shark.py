"""Jimeng's anti-abuse gate ("shark") on generate calls, as strict as today's Jimeng (update 2.1, 2.5).

The real signatures (`a_bogus`, `X-Bogus`, `X-Gnarly`) come from Jimeng's obfuscated page script.
The sandbox's page script (`sandbox/page.py`) computes stand-ins with the properties that matter to
a client, and this module checks them:
- only a page script adds them: `msToken` is issued by the sandbox's page, the rest are HMACs
  under keys that only the page script knows;
- each covers the query *as sent* up to that parameter, the *exact* body bytes and the
  User-Agent: a re-serialised body, a re-ordered or re-encoded query, or another browser's
  User-Agent fail, as they do upstream;
- they are appended at the end of the query, in order (`msToken`, then `a_bogus` in CN;
  `msToken`, `X-Bogus`, `X-Gnarly` abroad).

Who is checked: in CN, generate calls whose `extend.root_model` is in the protected set
(Seedance 2.0 and 2.0 Fast by default); abroad, every generate call, which must also carry the
app's Sign headers and its place headers (`Loc`, `Store-Country-Code`, `Store-Country-Code-Src`).
Reads are never checked. A refusal creates and charges nothing.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping

from sandbox import catalogue
from sandbox.envelope import (RET_PERMISSION_DENIED, RET_RISK_REJECT, RET_SHARK_NOT_PASS, RET_SHARK_REJECT,
                              Refusal)

# The page script's secrets. The sandbox serves them inside its page script (sandbox/page.py), as
# the real page carries its own inside obfuscated code; a client that signs without a page fails.
MS_TOKEN_KEY = b"sandbox-mstoken-issuer"
A_BOGUS_KEY = "sandbox-a-bogus-key-1.0.1.20"
X_BOGUS_KEY = "sandbox-x-bogus-key"
X_GNARLY_KEY = "sandbox-x-gnarly-key"

# Update 2.5, the observed refusal shapes (all HTTP 200).
CN_RISK_MESSAGE = "生成失败，疑似存在异常行为，请重新尝试"
CN_RISK_STARLING_KEY = "web_risk_control_message_reject_generation"
RET_SHARK_CHECK_REJECT = "-4"     # update 5: abroad credit_receive without the page's signatures
INTL_RISK_MESSAGE = "Couldn't generate due to unusual activity in your account. Try again later."


def issue_ms_token() -> str:
    """A fresh msToken as the page's SDK would receive it: random, with a tag the sandbox checks."""
    nonce = secrets.token_bytes(96)
    tag = hmac.new(MS_TOKEN_KEY, nonce, hashlib.sha256).digest()[:32]
    return _b64(nonce + tag)   # 171 characters, the order of the real 184


def ms_token_valid(token: str) -> bool:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return False
    nonce, tag = raw[:-32], raw[-32:]
    return len(nonce) == 96 and hmac.compare_digest(tag, hmac.new(MS_TOKEN_KEY, nonce, hashlib.sha256).digest()[:32])


def signature(key: str, signed_query: bytes, body: bytes, user_agent: str) -> str:
    """What the page script appends: HMAC-SHA256 over `query-so-far \\n body \\n User-Agent`, base64url."""
    message = signed_query + b"\n" + body + b"\n" + user_agent.encode()
    return _b64(hmac.new(key.encode(), message, hashlib.sha256).digest())


def check_generate(query_string: bytes, headers: Mapping[str, str], body: bytes, *,
                   protected_models: frozenset[str], legacy: bool) -> None:
    """Refuse a generate call the way today's Jimeng does; return quietly when it would pass."""
    params = _pairs(query_string)
    if params.get("aid") == str(catalogue.INTL_AID):
        _check_abroad(query_string, headers, body)
    elif _root_model(body) in protected_models:
        if not _signed(query_string, body, headers, ("a_bogus",), (A_BOGUS_KEY,)):
            raise _cn_refusal(legacy)


def check_claim(query_string: bytes, headers: Mapping[str, str], body: bytes) -> None:
    """Abroad, the daily credit claim is a write the page must sign (update 7; unsigned: -4)."""
    if _pairs(query_string).get("aid") == str(catalogue.INTL_AID) and not _signed(
            query_string, body, headers, ("X-Bogus", "X-Gnarly"), (X_BOGUS_KEY, X_GNARLY_KEY)):
        raise Refusal(RET_SHARK_CHECK_REJECT, "shark check reject")


def _check_abroad(query_string: bytes, headers: Mapping[str, str], body: bytes) -> None:
    if not _signed(query_string, body, headers, ("X-Bogus", "X-Gnarly"), (X_BOGUS_KEY, X_GNARLY_KEY)):
        raise Refusal(RET_SHARK_REJECT, "shark not pass reject",
                      data={"aigc_data": None, "fail_code": "", "fail_starling_message": INTL_RISK_MESSAGE})
    expected = app_headers(_pairs(query_string))
    if not headers.get("Sign") or not headers.get("Device-Time") or any(
            headers.get(name) != value for name, value in expected.items()):
        # [DR] 10.1: a page-signed fetch without the app's headers (a bare in-page fetch).
        raise Refusal(RET_PERMISSION_DENIED, "permission denied", data={"aigc_data": None, "fail_code": "1017"})


def app_headers(params: Mapping[str, str]) -> dict[str, str]:
    """The app's place headers an abroad generate must carry besides `Sign` and `Device-Time`
    (present here; checks.py verifies them) and the page's signatures (update 2.6, [DR] 10.1):
    `Loc` the account's region as the capture spells it (`US`), `Store-Country-Code` the same in
    lower case (`us`), `Store-Country-Code-Src: uid`. The account's region is the call's `region`
    query. A missing or differently spelt one is refused alike (3018 / fail_code 1017): the update
    gives no other shape."""
    region = params.get("region", "")
    return {"Loc": region.upper(), "Store-Country-Code": region.lower(), "Store-Country-Code-Src": "uid"}


def risk_refusal() -> Refusal:
    """The CN risk refusal of today (also what `/_sandbox/sessions` "risky" sessions get)."""
    return _cn_refusal(legacy=False)


def _cn_refusal(legacy: bool) -> Refusal:
    if legacy:   # February 2026
        return Refusal(RET_SHARK_NOT_PASS, "shark not pass")
    # From March 2026; [DB] saw the fail fields at the top level.
    return Refusal(RET_RISK_REJECT, CN_RISK_MESSAGE, fields={
        "fail_code": RET_RISK_REJECT, "fail_starling_key": CN_RISK_STARLING_KEY,
        "fail_starling_message": CN_RISK_MESSAGE})


def _signed(query_string: bytes, body: bytes, headers: Mapping[str, str], names: tuple[str, ...],
            keys: tuple[str, ...]) -> bool:
    """Are `msToken` and then `names` the last parameters, each a valid signature of what precedes it?"""
    user_agent = headers.get("User-Agent", "")
    rest = query_string
    for name, key in reversed(list(zip(names, keys))):
        rest, sep, value = rest.rpartition(b"&" + name.encode() + b"=")
        if not sep or b"&" in value:
            return False
        expected = signature(key, rest, body, user_agent).encode()
        if not hmac.compare_digest(value, expected):
            return False
    rest, sep, token = rest.rpartition(b"&msToken=")
    return bool(sep) and b"&" not in token and ms_token_valid(token.decode("ascii", "replace"))


def _root_model(body: bytes) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return ""
    extend = parsed.get("extend") if isinstance(parsed, dict) else None
    return str(extend.get("root_model") or "") if isinstance(extend, dict) else ""


def _pairs(query_string: bytes) -> dict[str, str]:
    pairs = {}
    for part in query_string.decode("latin-1").split("&"):
        name, _, value = part.partition("=")
        pairs.setdefault(name, value)
    return pairs


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
