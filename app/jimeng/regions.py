"""Regions and session tokens: which hosts, ids and headers a token's account talks to.

Facts from the protocol document, section 1.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, replace

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from app.errors import InvalidRequest


@dataclass(frozen=True)
class Region:
    code: str              # our short name: cn, us, hk, jp, sg
    query_region: str      # `region` query value
    aid: int
    main_base: str
    commerce_base: str
    site: str              # used in per-call Referer
    imagex_host: str
    sigv4_region: str
    imagex_service_fallback: str
    lan: str
    loc: str               # `Loc` header: CN `cn` (protocol 2.2); abroad upper case, `US` (update 2.6)
    sends_web_id: bool
    content_check: bool    # CN runs uploaded images through algo_proxy
    upload_origin: str
    # Abroad only (update 2.6, [DR]'s capture of a Dreamina generate): `Store-Country-Code` (the
    # account's country, lower case) with `Store-Country-Code-Src: uid`. CN sends neither ("").
    store_country: str = ""
    accept_language: str = "zh-CN,zh;q=0.9"   # also the browser context's locale (its first tag)


_SG = dict(main_base="https://mweb-api-sg.capcut.com", commerce_base="https://commerce-api-sg.capcut.com",
           site="https://dreamina.capcut.com", imagex_host="https://imagex-normal-sg.capcutapi.com",
           sigv4_region="ap-southeast-1", imagex_service_fallback="wopfjsm1ax", aid=513641,
           sends_web_id=False, content_check=False, upload_origin="https://mweb-api-sg.capcut.com")

# Abroad browsers speak the `Lan` the app sends: no source gives Dreamina's Accept-Language (a choice,
# docs/protocol.md "Abroad accounts"); the form is desktop Chrome's for that language.
_EN = "en-US,en;q=0.9"
_JA = "ja-JP,ja;q=0.9"

REGIONS: dict[str, Region] = {
    "cn": Region(code="cn", query_region="cn", aid=513695, main_base="https://jimeng.jianying.com",
                 commerce_base="https://jimeng.jianying.com", site="https://jimeng.jianying.com",
                 imagex_host="https://imagex.bytedanceapi.com", sigv4_region="cn-north-1",
                 imagex_service_fallback="tb4s082cfz", lan="zh-Hans", loc="cn", sends_web_id=True,
                 content_check=True, upload_origin="https://jimeng.jianying.com"),
    # US accounts live on the ttp2 cluster ([DR] 9.2, byte-checked 2026-10-01); another cluster
    # answers 1015 "login error". A token picks its cluster by its region prefix (`us-`).
    "us": Region(code="us", query_region="US", aid=513641, main_base="https://dreamina-api-us-ttp2.us.capcut.com",
                 commerce_base="https://commerce-us-ttp2.us.capcut.com", site="https://dreamina.capcut.com",
                 imagex_host="https://imagex16-normal-us-ttp.capcutapi.us", sigv4_region="us-east-1",
                 imagex_service_fallback="wopfjsm1ax", lan="en", loc="US", sends_web_id=False,
                 content_check=False, upload_origin="https://dreamina-api-us-ttp2.us.capcut.com",
                 store_country="us", accept_language=_EN),
    "hk": Region(code="hk", query_region="HK", lan="en", loc="HK", store_country="hk", accept_language=_EN, **_SG),
    "jp": Region(code="jp", query_region="JP", lan="ja", loc="JP", store_country="jp", accept_language=_JA, **_SG),
    "sg": Region(code="sg", query_region="SG", lan="en", loc="SG", store_country="sg", accept_language=_EN, **_SG),
}


def _with_host_overrides(region: Region) -> Region:
    """`JIMENG_<REGION>_MAIN_BASE` / `JIMENG_<REGION>_COMMERCE_BASE` move a region's accounts to
    another cluster (e.g. when JP gets its own) without a release; read once at worker start."""
    changes = {}
    for name in ("main_base", "commerce_base"):
        env = f"JIMENG_{region.code.upper()}_{name.upper()}"
        raw = os.environ.get(env, "").strip().rstrip("/")
        if not raw:
            continue
        if not raw.startswith(("https://", "http://")) or len(raw.split("/")) != 3:
            raise RuntimeError(f"{env} must be a base URL like https://host, got {raw!r}")
        changes[name] = raw
    if "main_base" in changes and region.upload_origin == region.main_base:
        changes["upload_origin"] = changes["main_base"]
    return replace(region, **changes) if changes else region


REGIONS = {code: _with_host_overrides(region) for code, region in REGIONS.items()}
REGION_CODES = tuple(REGIONS)  # index order is part of the task id format: append only
VOD_HOST = "https://vod.bytedanceapi.com"

# Session ids are 32 hex characters; a proxy prefix is a URL with credentials. Far longer values are
# refused before anything is sent: Jimeng answers them with HTTP 431, and they bloat every log line.
MAX_SESSION_ID_CHARS = 256
MAX_PROXY_CHARS = 512
MAX_TOKEN_CHARS = MAX_PROXY_CHARS + 1 + 3 + MAX_SESSION_ID_CHARS   # proxy@region-sessionid
_PROXY_SCHEMES = ("http://", "https://", "socks://", "socks4://", "socks5://")


@dataclass(frozen=True)
class Token:
    """One account: its session id (a secret), region and optional proxy."""

    session_id: str
    region: Region
    proxy: str | None = None
    account: str = ""      # a pool account's label (company mode); "" for a client's own token

    def __repr__(self) -> str:  # never print the secret
        return f"Token(region={self.region.code!r}, proxy={'yes' if self.proxy else 'no'})"

    __str__ = __repr__

    @property
    def account_key(self) -> bytes:
        """This session's key for per-account state (caches, its browser context): a digest, so no
        cache or browser ever holds the session id itself."""
        return hashlib.sha256(f"{self.region.code}\0{self.session_id}".encode()).digest()

    def fingerprint(self, key: bytes) -> bytes:
        """A keyed 8-byte fingerprint: lets a task id name its token without revealing it.

        A pool account is named by its label, so a fresh session id for the same account (a new
        login) keeps finding the tasks of the old one."""
        name = b"account\0" + self.account.encode() if self.account else b"token-fp\0" + self.session_id.encode()
        return hmac.new(key, name, hashlib.sha256).digest()[:8]


def _checked_proxy(url: str, param: str) -> str:
    try:
        parsed = parse_url(url)
        valid = bool(parsed.host) and (parsed.port is None or 0 < parsed.port < 65536)
    except LocationParseError:
        valid = False
    if not valid:
        raise InvalidRequest("the proxy part of a token is not a valid URL", param=param)
    return url


def parse_token(raw: str, *, param: str = "Authorization") -> Token:
    """`[<proxy-url>@][<region>-]<sessionid>` (protocol doc 1.1)."""
    where = "the Authorization header" if param == "Authorization" else param
    text = raw.strip()
    if len(text) > MAX_TOKEN_CHARS:
        raise InvalidRequest(f"a token in {where} is longer than {MAX_TOKEN_CHARS} characters", param=param)
    proxy = None
    if text.lower().startswith(_PROXY_SCHEMES):
        at = text.rfind("@")
        if 0 < at < len(text) - 1:
            if at > MAX_PROXY_CHARS:
                raise InvalidRequest(f"the proxy part of a token is longer than {MAX_PROXY_CHARS} characters",
                                     param=param)
            proxy, text = _checked_proxy(text[:at], param), text[at + 1:]
    region = REGIONS["cn"]
    lowered = text.lower()
    for code in ("us", "hk", "jp", "sg"):
        if lowered.startswith(code + "-"):
            region, text = REGIONS[code], text[3:]
            break
    # Session ids are printable ASCII; anything else could not be sent as a cookie anyway.
    if not text or not text.isascii() or not text.isprintable() or any(ch.isspace() or ch in ";," for ch in text):
        raise InvalidRequest(f"a token in {where} is malformed", param=param)
    if len(text) > MAX_SESSION_ID_CHARS:
        raise InvalidRequest(f"a session id in {where} is longer than {MAX_SESSION_ID_CHARS} characters "
                             f"(Jimeng's are 32)", param=param)
    return Token(session_id=text, region=region, proxy=proxy)
