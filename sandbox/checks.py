"""Verification of main and commerce API calls: what the real Jimeng refuses before any work.

Each failed check raises a `Refusal` whose errmsg names the check, so a service developer can see
at once which header, parameter or cookie is wrong. Facts from protocol sections 1.2 and 2.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from sandbox import catalogue
from sandbox.drift import NO_DRIFT, Drift
from sandbox.envelope import (RET_INVALID_PARAMETER, RET_PERMISSION_DENIED, RET_SESSION_INVALID,
                              RET_SHARK_NOT_PASS, Refusal)

DEFAULT_QUERY = ("aid", "device_platform", "region", "da_version", "web_version", "os",
                 "web_component_open_flag", "aigc_features")
SESSION_COOKIES = ("sessionid", "sessionid_ss", "sid_tt")


@dataclass(frozen=True)
class Caller:
    """The account a verified call comes from."""

    session_id: str
    region: str        # cn/us/hk/jp/sg; "intl" when only the aid says "abroad" (credit query)
    aid: int

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.session_id)


def fingerprint(session_id: str) -> str:
    """A stable, non-reversible name for a session id: what logs and the admin API show."""
    return hashlib.sha256(b"sandbox-session\0" + session_id.encode()).hexdigest()[:12]


def sign(path: str, pf: str, appvr: str, device_time: str) -> str:
    """The `Sign` header (protocol 2.3): MD5 over the path's last 7 characters and the headers."""
    return hashlib.md5(f"9e2c|{path[-7:]}|{pf}|{appvr}|{device_time}||11ac".encode()).hexdigest()


def verify_call(path: str, headers: Mapping[str, str], args: Mapping[str, str],
                cookies: Mapping[str, str], now: float, *, max_skew: float,
                default_query: bool = True, drift: Drift = NO_DRIFT) -> Caller:
    """Run every check on one call and name the caller. `default_query=False` is the credit
    query, which iptag sends with no query parameters at all (protocol 2.1, 7). `drift`: what
    Jimeng moved to in a drill (sandbox/drift.py)."""
    _check_signature(path, headers, now, max_skew, drift.page_app_version)
    drift.check_call(headers, args, default_query)
    aid = _check_appid(headers, args, default_query)
    region = _check_query(args, cookies, aid) if default_query else _region_of(args, aid)
    return Caller(session_id=_check_session(cookies), region=region, aid=aid)


def _check_signature(path: str, headers: Mapping[str, str], now: float, max_skew: float,
                     app_version: str = catalogue.APP_VERSION) -> None:
    def deny(why: str) -> Refusal:
        return Refusal(RET_PERMISSION_DENIED, f"permission denied: {why}")

    appvr, pf = headers.get("Appvr", ""), headers.get("Pf", "")
    if appvr != app_version:
        raise deny(f"Appvr header must be {app_version}, got {appvr!r}")
    if pf != catalogue.PLATFORM_CODE:
        raise deny(f"Pf header must be {catalogue.PLATFORM_CODE}, got {pf!r}")
    if headers.get("Sign-Ver") != catalogue.SIGN_VERSION:
        raise deny(f"Sign-Ver header must be {catalogue.SIGN_VERSION}")
    device_time = headers.get("Device-Time", "")
    if not device_time.isdigit():
        raise deny(f"Device-Time header must be integer seconds, got {device_time!r}")
    skew = int(device_time) - now
    if abs(skew) > max_skew:
        raise deny(f"Device-Time is {skew:+.0f} s from server time (allowed +-{max_skew:.0f} s)")
    expected = sign(path, pf, appvr, device_time)
    if headers.get("Sign", "") != expected:
        raise deny(f"Sign header does not match MD5('9e2c|{path[-7:]}|{pf}|{appvr}|{device_time}||11ac')")


def _check_appid(headers: Mapping[str, str], args: Mapping[str, str], default_query: bool) -> int:
    appid = headers.get("Appid", "")
    if appid not in (str(catalogue.CN_AID), str(catalogue.INTL_AID)):
        raise Refusal(RET_INVALID_PARAMETER, f"invalid parameter: unknown Appid header {appid!r}")
    if (default_query or "aid" in args) and args.get("aid") != appid:
        raise Refusal(RET_INVALID_PARAMETER,
                      f"invalid parameter: aid query {args.get('aid')!r} != Appid header {appid!r}")
    return int(appid)


def _check_query(args: Mapping[str, str], cookies: Mapping[str, str], aid: int) -> str:
    missing = [name for name in DEFAULT_QUERY if not args.get(name)]
    if "os" in missing or "da_version" in missing:
        # 9: the 3018 fix was a newer da_version plus os=windows.
        raise Refusal(RET_PERMISSION_DENIED, f"permission denied: missing query parameter(s) {missing}")
    if missing:
        raise Refusal(RET_INVALID_PARAMETER, f"invalid parameter: missing query parameter(s) {missing}")
    if _version(args["da_version"]) < catalogue.MIN_DA_VERSION:
        raise Refusal(RET_PERMISSION_DENIED, f"permission denied: da_version {args['da_version']} is outdated")
    if args["device_platform"] != "web":
        raise Refusal(RET_INVALID_PARAMETER, "invalid parameter: device_platform must be web")
    region = catalogue.REGIONS.get(args["region"])
    if region is None:
        raise Refusal(RET_INVALID_PARAMETER, f"invalid parameter: region {args['region']!r} is not one of "
                                             f"{sorted(catalogue.REGIONS)}")
    if region.aid != aid:
        raise Refusal(RET_INVALID_PARAMETER, f"invalid parameter: aid {aid} does not belong to region "
                                             f"{args['region']} (expects {region.aid})")
    if region.code == "cn":
        web_id = args.get("webId")
        if not web_id:
            raise Refusal(RET_INVALID_PARAMETER, "invalid parameter: webId query parameter is required in CN")
        if cookies.get("_tea_web_id") != web_id:
            # Appendix A: a webId that does not match _tea_web_id is a risk-control refusal.
            raise Refusal(RET_SHARK_NOT_PASS, "shark not pass: webId query != _tea_web_id cookie")
    return region.code


def _region_of(args: Mapping[str, str], aid: int) -> str:
    region = catalogue.REGIONS.get(args.get("region", ""))
    if region is not None:
        return region.code
    return "cn" if aid == catalogue.CN_AID else "intl"


def _check_session(cookies: Mapping[str, str]) -> str:
    session_id = cookies.get("sessionid", "")
    if not session_id:
        raise Refusal(RET_SESSION_INVALID, "login expired: no sessionid cookie")
    for name in SESSION_COOKIES[1:]:
        if cookies.get(name) != session_id:
            raise Refusal(RET_SESSION_INVALID, f"login expired: cookie {name} != sessionid")
    guard = cookies.get("sid_guard", "")
    if not guard.lower().startswith(session_id.lower() + "%7c"):
        raise Refusal(RET_SESSION_INVALID, "login expired: sid_guard must start with '<sessionid>%7C'")
    if session_id.startswith("invalid"):
        raise Refusal(RET_SESSION_INVALID, "login expired: sandbox session marked invalid")
    return session_id


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return ()
