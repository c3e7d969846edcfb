"""What every main/commerce call carries: Sign, headers, cookies and default query params.

Facts from the protocol document, sections 2.1-2.4.
"""
from __future__ import annotations

import hashlib
import urllib.parse

from app.jimeng import constants as c
from app.jimeng.regions import REGIONS, Region, Token


def device_ids(token: Token) -> tuple[str, str]:
    """(web id, user id) of this account's calls (protocol 2.4): derived from the account, not drawn
    per process. Every worker on every host then sends the same pair, matching the cookies the
    shared browser set once for the account's context (a per-process draw made a second worker's
    webId differ from the page's _tea_web_id: 1019 "shark not pass"); no two accounts share them
    (one fixed pair for all was tried upstream and reverted: it correlates accounts)."""
    digest = hashlib.sha256(b"jimeng-device\0" + token.account_key).digest()
    return str(7 * 10**18 + int.from_bytes(digest[:8], "big") % 10**18), digest[8:24].hex()


def sign(path: str, device_time: int, *, pf: str = c.PLATFORM_CODE, appvr: str = c.APP_VERSION) -> str:
    """Sign = md5("9e2c|<last 7 chars of path>|<Pf>|<Appvr>|<Device-Time>||11ac") (protocol 2.3)."""
    text = f"9e2c|{path[-7:]}|{pf}|{appvr}|{device_time}||11ac"
    return hashlib.md5(text.encode()).hexdigest()


def default_params(token: Token) -> dict[str, str]:
    region = token.region
    params = {"aid": str(region.aid), "device_platform": "web", "region": region.query_region}
    if region.sends_web_id:
        params["webId"] = device_ids(token)[0]
    params.update({"da_version": c.DA_VERSION, "os": "windows", "web_component_open_flag": "1",
                   "web_version": c.WEB_VERSION, "aigc_features": "app_lip_sync"})
    return params


def cookie_header(token: Token, now_s: int) -> str:
    sid = token.session_id
    web_id, user_id = device_ids(token)
    guard = urllib.parse.quote_plus(f"{sid}|{now_s}|5184000|Mon, 03-Feb-2025 08:17:09 GMT")
    pairs = [("_tea_web_id", web_id), ("is_staff_user", "false"), ("sid_guard", guard),
             ("uid_tt", user_id), ("uid_tt_ss", user_id), ("sid_tt", sid), ("sessionid", sid),
             ("sessionid_ss", sid)]
    return "; ".join(f"{k}={v}" for k, v in pairs)


def browser_identity(region: Region | None = None) -> dict[str, str]:
    """What Chrome sends on every request, API call or upload alike: language and the client hints
    matching the User-Agent (ImageX and upload calls used to lack them). The language is the
    region's (CN's when none is given): a Dreamina account's browser does not speak Chinese."""
    return {
        "Accept-Language": (region or REGIONS["cn"]).accept_language,
        "User-Agent": c.CHROME_UA,
        "Sec-Ch-Ua": c.SEC_CH_UA,
        "Sec-Ch-Ua-Mobile": "?0",
        "Sec-Ch-Ua-Platform": c.SEC_CH_UA_PLATFORM,
    }


def app_region_headers(region: Region) -> dict[str, str]:
    """The app's language and place headers. Abroad, Dreamina's app also sends the account's
    country, with where it came from (update 2.6: [DR] 10.1 lists them among the app headers an
    in-page fetch must set by hand; without those a page-signed generate is refused 3018 / 1017),
    and `Loc` in upper case. CN's page sends neither pair (protocol 2.2 capture): unchanged."""
    place = {"Lan": region.lan, "Loc": region.loc}
    if region.store_country:
        place.update({"Store-Country-Code": region.store_country, "Store-Country-Code-Src": "uid"})
    return place


def headers(token: Token, *, path: str, origin: str, referer: str | None, device_time: int) -> dict[str, str]:
    region = token.region
    return {
        "Accept": "application/json, text/plain, */*",
        # No br/zstd: requests decodes those only with optional packages (protocol 2.2 note).
        "Accept-Encoding": "gzip, deflate",
        "Cache-Control": "no-cache",
        "Pragma": "no-cache",
        "Priority": "u=1, i",
        "Appvr": c.APP_VERSION,
        "Pf": c.PLATFORM_CODE,
        "App-Sdk-Version": c.APP_SDK_VERSION,
        "Appid": str(region.aid),
        "Device-Time": str(device_time),
        "Sign": sign(path, device_time),
        "Sign-Ver": c.SIGN_VERSION,
        **app_region_headers(region),
        "Tdid": "",
        "Origin": origin,
        "Referer": referer or origin,
        "Cookie": cookie_header(token, device_time),
        **browser_identity(region),
        "Sec-Fetch-Dest": "empty",
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Site": "same-origin",
    }
