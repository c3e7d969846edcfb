"""The one HTTP client for Jimeng's main and commerce hosts.

Owns the pooled Session, timeouts, signing and the retry policy:
- connection errors (the request never left) are retried by urllib3 for every call;
- safe reads (history, upload token, checks) are also retried on 5xx, timeouts and busy rets,
  within a total deadline;
- the generate call is never repeated once it may have reached Jimeng: a retried submit would
  create, and charge, a second task (protocol 9: de-duplication by submit_id is unknown).
"""
from __future__ import annotations

import http.cookiejar
import logging
import time
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from app import errors, metrics
from app.jimeng import envelope, signing
from app.jimeng.regions import Region, Token

log = logging.getLogger(__name__)

GENERATE_PATH = "/mweb/v1/aigc_draft/generate"
HISTORY_PATH = "/mweb/v1/get_history_by_ids"
UPLOAD_TOKEN_PATH = "/mweb/v1/get_upload_token"
ALGO_PROXY_PATH = "/mweb/v1/algo_proxy"
LOCAL_ITEMS_PATH = "/mweb/v1/get_local_item_list"
CREDIT_PATH = "/commerce/v1/benefits/user_credit"
CREDIT_RECEIVE_PATH = "/commerce/v1/benefits/credit_receive"
ACCOUNT_PATH = "/passport/account/info/v2"


# The outcome label of an upstream call, by what it raised (anything else: "bad_answer").
_OUTCOMES = {envelope.UpstreamRet: "ret_error", errors.RateLimited: "rate_limited",
             errors.UpstreamTimeout: "timeout", errors.UpstreamUnavailable: "unavailable"}


def no_cookie_jar() -> http.cookiejar.CookieJar:
    """A jar that stores nothing: a shared Session must not carry one account's cookies to another."""
    jar = requests.cookies.RequestsCookieJar()
    jar.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return jar


def make_session(pool_size: int = 32, proxy: str = "") -> requests.Session:
    """A pooled Session that retries only connection failures (nothing was sent yet).

    `pool_size` is the connections kept per host: the requests a worker can have in flight, so
    none is opened and thrown away under load. The environment's proxy variables are not read
    (`trust_env` costs a look-up per call and would route every token alike); the proxy is
    `proxy` (UPSTREAM_PROXY) or a token's own.
    """
    session = requests.Session()
    session.trust_env = False
    session.proxies = {"http": proxy, "https": proxy} if proxy else {}
    session.cookies = no_cookie_jar()
    retry = Retry(total=None, connect=2, read=0, redirect=0, status=0, other=0,
                  backoff_factor=0.2, allowed_methods=None, raise_on_status=False)
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=pool_size, max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class JimengClient:
    """Signed calls to Jimeng; answers `data` or raises an `app.errors.ServiceError`."""

    def __init__(self, *, upstream_url: str = "", timeout: float = 45.0, connect_timeout: float = 5.0,
                 session: requests.Session | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, read_attempts: int = 3,
                 read_deadline: float = 60.0, pool_size: int = 32, proxy: str = "") -> None:
        self.upstream_url = upstream_url.rstrip("/")
        self.timeout = (connect_timeout, timeout)
        self.session = session or make_session(pool_size, proxy)
        self.clock = clock
        self.sleep = sleep
        self.read_attempts = read_attempts
        self.read_deadline = read_deadline

    # -- hosts ---------------------------------------------------------------------------------
    def base(self, real_base: str) -> str:
        """`JIMENG_UPSTREAM_URL` replaces every upstream host (main, commerce, ImageX, VOD, upload)."""
        return self.upstream_url or real_base.rstrip("/")

    def api_base(self, region: Region, path: str) -> str:
        return region.commerce_base if path.startswith("/commerce/") else region.main_base

    # -- the call --------------------------------------------------------------------------------
    def call(self, token: Token, path: str, body: dict, *, params: dict | None = None,
             referer: str | None = None, default_params: bool = True, idempotent: bool = True) -> dict:
        """POST a signed JSON body; the `data` of the envelope, or a typed error."""
        real_base = self.api_base(token.region, path)
        url = self.base(real_base) + path
        query = signing.default_params(token.region) if default_params else {}
        query.update(params or {})
        proxies = {"http": token.proxy, "https": token.proxy} if token.proxy else None
        attempts = self.read_attempts if idempotent else 1
        started = self.clock()
        for attempt in range(1, attempts + 1):
            device_time = int(self.clock())
            headers = signing.headers(token, path=path, origin=real_base, referer=referer,
                                      device_time=device_time)
            # The deadline bounds the whole call, retries included, not just whether to try again.
            remaining = self.read_deadline - (self.clock() - started)
            timeout = (self.timeout[0], max(min(self.timeout[1], remaining), 1.0))
            try:
                return self._send(url, path, query, headers, body, proxies, timeout)
            except (errors.UpstreamUnavailable, errors.UpstreamTimeout, errors.RateLimited) as exc:
                if not self._should_retry(attempt, attempts, started):
                    raise
                log.debug("retrying %s after %s (attempt %d)", path, exc.code, attempt)
            except envelope.UpstreamRet as exc:
                if exc.ret in envelope.RETRYABLE_RETS and self._should_retry(attempt, attempts, started):
                    log.debug("retrying %s after ret %s (attempt %d)", path, exc.ret, attempt)
                    continue
                raise envelope.error_for(exc.ret, exc.errmsg) from None
        raise AssertionError("unreachable")

    def _should_retry(self, attempt: int, attempts: int, started: float) -> bool:
        if attempt >= attempts:
            return False
        delay = min(0.5 * 2 ** (attempt - 1), 4.0)
        if self.clock() - started + delay > self.read_deadline:
            return False
        self.sleep(delay)
        return True

    def _send(self, url: str, path: str, query: dict, headers: dict, body: dict, proxies: dict | None,
              timeout: tuple[float, float]) -> dict:
        """One HTTP exchange, counted in the metrics by endpoint path and outcome."""
        t0 = time.monotonic()
        outcome = "ok"
        try:
            return self._send_once(url, path, query, headers, body, proxies, timeout)
        except BaseException as exc:
            outcome = _OUTCOMES.get(type(exc), "bad_answer")
            raise
        finally:
            metrics.upstream_call(path, outcome, time.monotonic() - t0)

    def _send_once(self, url: str, path: str, query: dict, headers: dict, body: dict, proxies: dict | None,
                   timeout: tuple[float, float]) -> dict:
        t0 = time.monotonic()
        try:
            resp = self.session.post(url, params=query, json=body, headers=headers, timeout=timeout,
                                     proxies=proxies, allow_redirects=False)
        except requests.Timeout:
            raise errors.UpstreamTimeout(f"Jimeng did not answer {path} in time") from None
        except requests.RequestException as exc:
            raise errors.UpstreamUnavailable(f"Jimeng cannot be reached ({type(exc).__name__})") from None
        log.debug("upstream %s -> HTTP %s in %.0f ms", path, resp.status_code, (time.monotonic() - t0) * 1000)
        if resp.status_code == 429:
            retry_after = resp.headers.get("Retry-After")
            raise errors.RateLimited(headers={"Retry-After": retry_after} if retry_after else None)
        if resp.status_code >= 500:
            raise errors.UpstreamUnavailable(f"Jimeng answered HTTP {resp.status_code} on {path}")
        if resp.status_code >= 400:
            raise errors.UpstreamError(f"Jimeng answered HTTP {resp.status_code} on {path}")
        try:
            payload: Any = resp.json()
        except ValueError:
            raise errors.UpstreamError(f"Jimeng answered {path} with a body that is not JSON") from None
        return envelope.unwrap(payload)

    # -- named calls -----------------------------------------------------------------------------
    def generate(self, token: Token, body: dict, *, kind: str = "video") -> dict:
        """Submit a draft. Never repeated once sent: the caller must not retry it blindly either."""
        referer = f"{token.region.site}/ai-tool/generate?type={kind}"
        return self.call(token, GENERATE_PATH, body, referer=referer, idempotent=False)

    def history_by_ids(self, token: Token, ids: list[str], *, id_field: str = "history_ids",
                       image_info: dict | None = None) -> dict[str, dict]:
        """Records keyed by the ids Jimeng knows for this account; unknown ids are simply absent."""
        body: dict[str, Any] = {id_field: list(ids)}
        if image_info:
            body["image_info"] = image_info
        data = self.call(token, HISTORY_PATH, body)
        return {k: v for k, v in data.items() if isinstance(v, dict)}

    def upload_token(self, token: Token, scene: int) -> dict:
        """Temporary storage credentials: scene 2 images (ImageX), scene 1 videos (VOD)."""
        data = self.call(token, UPLOAD_TOKEN_PATH, {"scene": scene})
        if not data.get("access_key_id"):
            raise errors.TokenInvalid("Jimeng gave no upload credentials; the session is probably logged out")
        return data

    def local_items(self, token: Token, item_id: str) -> dict:
        body = {"item_id_list": [item_id], "pack_item_opt": {"scene": 1, "need_data_integrity": True},
                "is_for_video_download": True}
        return self.call(token, LOCAL_ITEMS_PATH, body)

    def credits(self, token: Token) -> dict:
        """The balance; this call carries no query params (protocol 7)."""
        referer = ("https://jimeng.jianying.com/ai-tool/image/generate" if token.region.code == "cn"
                   else "https://dreamina.capcut.com/")
        return self.call(token, CREDIT_PATH, {}, referer=referer, default_params=False)

    def account_alive(self, token: Token) -> bool:
        try:
            data = self.call(token, ACCOUNT_PATH, {}, params={"account_sdk_source": "web"})
        except errors.TokenInvalid:
            return False
        return bool(data.get("user_id"))
