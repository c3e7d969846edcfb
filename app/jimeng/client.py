"""The one HTTP client for Jimeng's main and commerce hosts.

Owns the pooled Session, timeouts, signing and the retry policy:
- connection errors (the request never left) are retried by urllib3 for every call;
- safe reads (history, upload token, checks) are also retried on 5xx, timeouts and busy rets,
  within a total deadline;
- the generate call is never repeated once it may have reached Jimeng: a retried submit would
  create, and charge, a second task (protocol 9: de-duplication by submit_id is unknown).
- the browser transport is a door of this client: the policy (`browser.TransportPolicy`) decides
  per generate call whether it goes direct or as an in-page fetch of Jimeng's page (update 2).
Bodies are compact JSON, serialised once: the bytes sent are the bytes a page script signs.
"""
from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import requests
from urllib3.util.retry import Retry

from app import errors
from app.serving import metrics
from app.jimeng import envelope, signing
from app.jimeng.browser import BrowserCall, BrowserTransport, TransportPolicy
from app.jimeng.payloads import compact_json
from app.jimeng.calls import (ACCOUNT_PATH, ALGO_PROXY_PATH, CANCEL_PATH, COMMON_CONFIG_PATH, CREDIT_PATH,  # noqa: F401
                              CREDIT_RECEIVE_PATH, GENERATE_PATH, HISTORY_LIST_PATH, HISTORY_PATH, LOCAL_ITEMS_PATH,
                              UPLOAD_TOKEN_PATH, WORKSPACE_LIST_PATH, call_name)
from app.net.deadline import MAX_ANSWER_BYTES, AnswerTooLarge, DeadlinePassed, Watch, read_body, timeouts
from app.net.sessions import upstream_session
from app.jimeng.regions import Region, Token
from app.jimeng.wire_settings import SETTINGS, WireSettings

log = logging.getLogger(__name__)

VIDEO_GENERATE_TYPE = 10   # a record's generate_type for videos (protocol 3.4; update section 6)
# Jimeng's answers that say our request is outdated (the doctor's degraded signal counts them):
# 3018 "permission denied" (versions, signing) and the "invalid parameter" family.
OUTDATED_RETS = {"3018": "protocol", "1000": "invalid_parameter", "4002": "invalid_parameter",
                 "34010100": "invalid_parameter"}


# The outcome label of an upstream call, by what it raised (anything else: "bad_answer").
_OUTCOMES = {envelope.UpstreamRet: "ret_error", errors.RateLimited: "rate_limited",
             errors.UpstreamTimeout: "timeout", errors.UpstreamUnavailable: "unavailable"}


_QUERY_STRINGS: dict[tuple, str] = {}


def _query_string(query: dict[str, str]) -> str:
    """`urlencode(query)`, remembered: nearly every call sends its region's same default params,
    and encoding them cost more than the rest of building the request."""
    key = tuple(query.items())
    text = _QUERY_STRINGS.get(key)
    if text is None:
        text = urllib.parse.urlencode(query)
        if len(_QUERY_STRINGS) >= 256:   # bounded whatever the params: start over
            _QUERY_STRINGS.clear()
        _QUERY_STRINGS[key] = text
    return text


# Headers a page's fetch may not set (the browser sets them itself) or that would differ from the page's.
_BROWSER_OWNED_HEADERS = frozenset({"cookie", "origin", "referer", "user-agent", "accept-encoding", "host",
                                    "connection", "content-length", "priority"})


def make_session(pool_size: int = 32, proxy: str = "") -> requests.Session:
    """The client's Session (app/net/sessions.py), retrying only connection failures (nothing was
    sent yet). `pool_size` is the connections kept per host; the proxy is `proxy` (UPSTREAM_PROXY)
    or a token's own, never the environment's."""
    # read=False: a read failure surfaces as itself (a timeout stays a timeout), not as a
    # MaxRetryError that requests would report as a ConnectionError.
    retry = Retry(total=None, connect=2, read=False, redirect=0, status=0, other=0,
                  backoff_factor=0.2, allowed_methods=None, raise_on_status=False)
    return upstream_session(retry, pool_connections=8, pool_maxsize=pool_size, proxy=proxy)


def _merged_headers(session_headers, headers: dict, length: int) -> dict[str, str]:
    """The session's headers updated by the call's, as a case-insensitive merge would give them
    (a name keeps its first place and takes its last spelling and value), plus Content-Length.

    A plain dict: requests' CaseInsensitiveDict is copied and walked item by item in Python several
    times per request on its way to urllib3, which cost more than all of signing."""
    store = {name.lower(): (name, value) for name, value in session_headers.items()}
    for name, value in headers.items():
        store[name.lower()] = (name, value)
    store["content-length"] = ("Content-Length", str(length))
    return dict(store.values())


class JimengClient:
    """Signed calls to Jimeng; answers `data` or raises an `app.errors.ServiceError`."""

    def __init__(self, *, upstream_url: str = "", timeout: float = 45.0, connect_timeout: float = 5.0,
                 session: requests.Session | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, read_attempts: int = 3,
                 read_deadline: float | None = None, browser: BrowserTransport | None = None,
                 policy: TransportPolicy | None = None, browser_timeout: float = 60.0,
                 pool_size: int = 32, proxy: str = "", wire: WireSettings | None = None,
                 on_outdated: Callable[[str, str], None] | None = None) -> None:
        self.upstream_url = upstream_url.rstrip("/")
        self.timeout = (connect_timeout, timeout)
        self.session = session or make_session(pool_size, proxy)
        self.clock = clock
        self.sleep = sleep
        self.read_attempts = read_attempts
        # One call, retries included, ends within `timeout` (JIMENG_TIMEOUT) unless told otherwise.
        self.read_deadline = timeout if read_deadline is None else read_deadline
        self.browser = browser
        self.policy = policy or TransportPolicy("off" if browser is None else "auto")
        self.browser_timeout = browser_timeout
        # The operator's wire edits (JIMENG_EXTRA_HEADERS, ...; app/jimeng/wire_settings.py).
        self.wire = SETTINGS if wire is None else wire
        # Told (call name, reason) when Jimeng refuses a call as outdated: the degraded signal.
        self.on_outdated = on_outdated

    # -- hosts ---------------------------------------------------------------------------------
    def base(self, real_base: str) -> str:
        """`JIMENG_UPSTREAM_URL` replaces every upstream host (main, commerce, ImageX, VOD, upload)."""
        return self.upstream_url or real_base.rstrip("/")

    def api_base(self, region: Region, path: str) -> str:
        return region.commerce_base if path.startswith("/commerce/") else region.main_base

    # -- the call --------------------------------------------------------------------------------
    def call(self, token: Token, path: str, body: dict | None, *, params: dict | None = None,
             referer: str | None = None, default_params: bool = True, idempotent: bool = True,
             model: str = "") -> dict:
        """POST a signed JSON body (None: an empty body); the `data` of the envelope, or a typed error.

        `model` (generate only) lets the transport policy choose direct or browser per model."""
        # The URL and body are fixed here, once: a page script signs exactly these bytes.
        url, raw = self.request_line(token, path, body, params=params, default_params=default_params)
        proxies = {"http": token.proxy, "https": token.proxy} if token.proxy else None
        via_browser = self.policy.via_browser(token.region, path, model)
        attempts = self.read_attempts if idempotent else 1
        started = self.clock()
        for attempt in range(1, attempts + 1):
            headers = self.request_headers(token, path, referer)
            # The deadline bounds the whole call, retries included, not just whether to try again.
            remaining = self.read_deadline - (self.clock() - started)
            try:
                if via_browser:
                    return self._send_via_browser(token, url, path, headers, raw)
                return self._send(url, path, headers, raw, proxies, max(remaining, 0.5))
            except (errors.UpstreamUnavailable, errors.UpstreamTimeout, errors.RateLimited) as exc:
                if not self._should_retry(attempt, attempts, started):
                    raise
                log.debug("retrying %s after %s (attempt %d)", path, exc.code, attempt)
            except envelope.UpstreamRet as exc:
                if exc.ret in envelope.RETRYABLE_RETS and self._should_retry(attempt, attempts, started):
                    log.debug("retrying %s after ret %s (attempt %d)", path, exc.ret, attempt)
                    continue
                if not via_browser and self.policy.resend_via_browser(token.region, path, model, exc.ret,
                                                                      exc.fail.get("fail_code", "")):
                    # The never-resend rule is about calls that may have created (and charged) a task.
                    # A risk refusal (4013/1019/-6, abroad 3018+1017) created and charged nothing
                    # (update 2.5: "no credit charged"), so sending the same draft once more, now
                    # signed by Jimeng's page, cannot make a second task. Once, and only on these rets.
                    log.info("risk refusal on %s (ret %s); resending once through the browser", path, exc.ret)
                    try:
                        data = self._browser_answer(token, url, path, referer, raw)
                    except errors.BrowserUnavailable as unavailable:
                        log.warning("no browser for the resend: %s", unavailable.message)
                        # Nothing more was sent and nothing is learned (one risky account must not
                        # mark a model for everyone). The call needs the browser to have a chance:
                        # say how to get one, and what Jimeng said to the unsigned call.
                        refusal = envelope.error_for(exc.ret, exc.errmsg, exc.fail)
                        raise errors.BrowserUnavailable(
                            f"{unavailable.message}; without it Jimeng refused the unsigned call: "
                            f"{refusal.message}") from None
                    self.policy.learn(path, model)
                    return data
                raise self._refusal(path, exc) from None
        raise AssertionError("unreachable")

    def request_line(self, token: Token, path: str, body: dict | None, *, params: dict | None = None,
                     default_params: bool = True) -> tuple[str, bytes]:
        """(URL, body bytes) of a call as sent: default query, the call's own, the operator's wire edits."""
        query = signing.default_params(token) if default_params else {}
        query.update(params or {})
        self.wire.apply_query(path, query)
        url = self.base(self.api_base(token.region, path)) + path + (f"?{_query_string(query)}" if query else "")
        body = self.wire.apply_body(path, body)
        return url, b"" if body is None else compact_json(body).encode()

    def request_headers(self, token: Token, path: str, referer: str | None) -> dict[str, str]:
        """The call's headers as sent now (Device-Time and Sign of this moment), wire edits included."""
        real_base = self.api_base(token.region, path)
        headers = signing.headers(token, path=path, origin=real_base, referer=referer, device_time=int(self.clock()))
        return self.wire.apply_headers(path, headers)

    def _refusal(self, path: str, exc: envelope.UpstreamRet) -> errors.ServiceError:
        """The error for a refusal; one that says our request is outdated is counted and reported."""
        error = envelope.error_for(exc.ret, exc.errmsg, exc.fail)
        reason = OUTDATED_RETS.get(exc.ret)
        if reason is not None:
            metrics.upstream_refused(call_name(path), reason)
            if self.on_outdated is not None:
                try:
                    self.on_outdated(call_name(path), reason)
                except Exception:  # noqa: BLE001 - a signal must never change the answer
                    log.warning("the degraded signal could not record a refusal", exc_info=True)
        return error

    def _browser_answer(self, token: Token, url: str, path: str, referer: str | None, raw: bytes) -> dict:
        headers = self.request_headers(token, path, referer)
        try:
            return self._send_via_browser(token, url, path, headers, raw)
        except envelope.UpstreamRet as exc:
            raise self._refusal(path, exc) from None

    def _send_via_browser(self, token: Token, url: str, path: str, headers: dict, raw: bytes) -> dict:
        """The call as an in-page fetch of the region's Jimeng page (its script adds the signatures)."""
        if self.browser is None:
            raise errors.BrowserUnavailable("this call needs the browser transport, which is off "
                                            "(BROWSER_TRANSPORT=off or no browser configured)")
        call = self._browser_call(token, url, headers, raw)
        t0 = time.monotonic()
        outcome = "ok"
        try:
            status, text = self.browser.fetch(call)
            log.debug("upstream %s via browser -> HTTP %s in %.0f ms", path, status, (time.monotonic() - t0) * 1000)
            return self._answer(path, status, None, text)
        except BaseException as exc:
            # No browser to carry it is "unavailable", like a Jimeng that cannot be reached.
            outcome = "unavailable" if isinstance(exc, errors.BrowserUnavailable) else \
                _OUTCOMES.get(type(exc), "bad_answer")
            raise
        finally:
            # Counted like a direct call (by endpoint and outcome, with its time), and as the browser's.
            metrics.upstream_call(path, outcome, time.monotonic() - t0)
            metrics.browser_transport_used(path, outcome)

    def _browser_call(self, token: Token, url: str, headers: dict, raw: bytes) -> BrowserCall:
        """One call for the account's page: its context (cookies, identity, proxy) and the request."""
        page_url = self.base(token.region.site) + self.browser.page_path
        return BrowserCall(
            account=token.account_key.hex()[:24],
            page_url=page_url, url=url, body=raw.decode(),
            headers={**{k: v for k, v in headers.items()
                        if k.lower() not in _BROWSER_OWNED_HEADERS and not k.lower().startswith("sec-")},
                     "Content-Type": "application/json"},
            cookies=_context_cookies(headers.get("Cookie", ""), page_url, token.region.site,
                                     bool(self.upstream_url)),
            user_agent=headers.get("User-Agent", ""),
            client_hints={k.lower(): v for k, v in headers.items() if k.lower().startswith("sec-ch-ua")},
            locale=headers.get("Accept-Language", "zh-CN").split(",")[0],
            proxy=token.proxy, timeout=self.browser_timeout)

    def witness_page(self, token: Token, timeout: float) -> list[dict]:
        """Open the account's Jimeng page afresh and answer the API calls it made while loading
        (method, url, headers with the cookie masked, body): what today's page sends, for the doctor.
        Nothing is sent by us; BrowserUnavailable when the transport is off or has no browser."""
        if self.browser is None or self.policy.mode == "off":
            raise errors.BrowserUnavailable("the browser transport is off (BROWSER_TRANSPORT=off)")
        headers = self.request_headers(token, ACCOUNT_PATH, None)
        call = replace(self._browser_call(token, "", headers, b""), timeout=timeout)
        return self.browser.witness(call)

    def _should_retry(self, attempt: int, attempts: int, started: float) -> bool:
        if attempt >= attempts:
            return False
        delay = min(0.5 * 2 ** (attempt - 1), 4.0)
        if self.clock() - started + delay > self.read_deadline:
            return False
        self.sleep(delay)
        return True

    def _send(self, url: str, path: str, headers: dict, raw: bytes, proxies: dict | None,
              seconds: float) -> dict:
        """One attempt, counted in the metrics by endpoint path and outcome."""
        t0 = time.monotonic()
        outcome = "ok"
        try:
            return self._send_once(url, path, headers, raw, proxies, seconds)
        except BaseException as exc:
            outcome = _OUTCOMES.get(type(exc), "bad_answer")
            raise
        finally:
            metrics.upstream_call(path, outcome, time.monotonic() - t0)

    def _send_once(self, url: str, path: str, headers: dict, raw: bytes, proxies: dict | None,
                   seconds: float) -> dict:
        """One attempt; the whole answer (headers and body) must arrive within `seconds`."""
        t0 = time.monotonic()
        with Watch(seconds) as watch:
            try:
                resp = self._post(url, headers, raw, proxies, timeouts(*self.timeout, watch))
                content = read_body(resp, watch)
            except AnswerTooLarge:
                raise errors.UpstreamError(f"Jimeng's answer to {path} is larger than "
                                           f"{MAX_ANSWER_BYTES // (1024 * 1024)} MB") from None
            except (DeadlinePassed, requests.RequestException) as exc:
                if proxies:
                    raise self._proxy_failure() from None
                if watch.fired or isinstance(exc, (DeadlinePassed, requests.Timeout)):
                    raise errors.UpstreamTimeout(f"Jimeng did not answer {path} within {seconds:g} s") from None
                raise errors.UpstreamUnavailable(f"Jimeng cannot be reached ({type(exc).__name__})") from None
        log.debug("upstream %s -> HTTP %s in %.0f ms", path, resp.status_code, (time.monotonic() - t0) * 1000)
        return self._answer(path, resp.status_code, resp.headers.get("Retry-After"), content)

    def _post(self, url: str, headers: dict, raw: bytes, proxies: dict | None,
              timeout: tuple[float, float]) -> requests.Response:
        """`session.post` without its per-call merging, which cost a quarter of a status query's CPU:
        the URL is final and the body bytes already, the environment is not read (trust_env is off)
        and the jar keeps no cookies. The session's headers, proxy, TLS settings and adapter
        (retries, deadline watch) apply as before; the wire request is the same.

        The request goes to the session's adapter for the URL, as `Session.send` would, without
        `Session.send`'s own work, none of which applies here: no redirects are followed, no hooks
        are set, and its cookie jar stores nothing (app/net/sessions.py)."""
        prepared = requests.PreparedRequest()
        prepared.method = "POST"
        prepared.url = url
        prepared.headers = self.sent_headers(headers, raw)
        prepared.body = raw or None
        return self.session.get_adapter(url).send(prepared, stream=True, timeout=timeout,
                                                  proxies=proxies or self.session.proxies,
                                                  verify=self.session.verify, cert=self.session.cert)

    def sent_headers(self, headers: dict, raw: bytes) -> dict[str, str]:
        """Every header of a direct call as it goes on the wire: the session's, the call's, and
        Content-Type and Content-Length for its body."""
        if raw:
            headers = {**headers, "Content-Type": "application/json"}
        return _merged_headers(self.session.headers, headers, len(raw))

    @staticmethod
    def _answer(path: str, status: int, retry_after: str | None, content: bytes | str) -> dict:
        """An HTTP answer (direct or from the page) as `data`, a typed error or an UpstreamRet."""
        if status == 429:
            raise errors.RateLimited(headers={"Retry-After": retry_after} if retry_after else None)
        if status >= 500:
            raise errors.UpstreamUnavailable(f"Jimeng answered HTTP {status} on {path}")
        if status >= 400:
            raise errors.UpstreamError(f"Jimeng answered HTTP {status} on {path}")
        try:
            payload: Any = json.loads(content)
        except (ValueError, RecursionError):
            raise errors.UpstreamError(f"Jimeng answered {path} with a body that is not JSON") from None
        return envelope.unwrap(payload, path)

    def browser_status(self) -> dict:
        """For /healthz: the transport mode and the browser's state, never starting it."""
        if self.browser is None or self.policy.mode == "off":
            return {"transport": "off", "state": "off"}
        return {"transport": self.policy.mode, **self.browser.status()}

    @staticmethod
    def _proxy_failure() -> errors.ServiceError:
        # One answer for every way a proxy can fail: no telling open ports from closed ones.
        return errors.UpstreamUnavailable("Jimeng cannot be reached through the token's proxy")

    # -- named calls -----------------------------------------------------------------------------
    def generate(self, token: Token, body: dict, *, kind: str = "video") -> dict:
        """Submit a draft. Never repeated once sent: the caller must not retry it blindly either."""
        referer = f"{token.region.site}/ai-tool/generate?type={kind}"
        # Video generate carries `commerce_with_input_video=1` in every capture since 2026-04 (update 3).
        params = {"commerce_with_input_video": "1"} if kind == "video" else None
        extend = body.get("extend") if isinstance(body.get("extend"), dict) else {}
        return self.call(token, GENERATE_PATH, body, params=params, referer=referer, idempotent=False,
                         model=str(extend.get("root_model") or ""))

    def cancel_generate(self, token: Token, history_id: str) -> dict:
        """Cancel a queued task (addendum of 2026-12: queued CN videos; the credits are returned).
        A write: never repeated here, since what Jimeng answers to a second cancel is not known."""
        return self.call(token, CANCEL_PATH, {"history_id": history_id},
                         referer=f"{token.region.site}/ai-tool/generate?type=video", idempotent=False)

    def history_by_ids(self, token: Token, ids: list[str], *, id_field: str = "history_ids",
                       image_info: dict | None = None) -> dict[str, dict]:
        """Records keyed by the ids Jimeng knows for this account; unknown ids are simply absent."""
        body: dict[str, Any] = {id_field: list(ids)}
        if image_info:
            body["image_info"] = image_info
        data = self.call(token, HISTORY_PATH, body)
        return {k: v for k, v in data.items() if isinstance(v, dict)}

    def history_list(self, token: Token, *, count: int, offset: int = 0,
                     types: tuple[int, ...] = (VIDEO_GENERATE_TYPE,)) -> tuple[list[dict], bool, int]:
        """One page of the account's history, newest first: (records, has_more, next_offset).

        `next_offset` is Jimeng's own cursor, opaque to us; 0 asks for the newest page (update, section 6).
        """
        body = {"count": count, "offset": offset, "history_type_list": list(types), "mode": "workbench",
                "history_option": {"workspace_id": 0}}
        data = self.call(token, HISTORY_LIST_PATH, body)
        if not isinstance(data.get("records_list"), list):
            # Read as "no records", a broken answer would show an account without its videos.
            raise errors.UpstreamError("Jimeng's history list answer has no records_list")
        records = [r for r in data["records_list"] if isinstance(r, dict)]
        try:
            next_offset = int(data.get("next_offset") or 0)
        except (TypeError, ValueError):
            next_offset = 0
        return records, bool(data.get("has_more")) and next_offset > 0, next_offset

    def upload_token(self, token: Token, scene: int) -> dict:
        """Temporary storage credentials: scene 2 images (ImageX), scene 1 videos (VOD)."""
        data = self.call(token, UPLOAD_TOKEN_PATH, {"scene": scene})
        # A logged-out session is refused with ret 1015 (envelope); an answer without credentials is
        # Jimeng's fault, not the caller's.
        if not all(isinstance(data.get(k), str) and data[k] for k in ("access_key_id", "secret_access_key")) or \
                not isinstance(data.get("session_token") or "", str):
            raise errors.UpstreamError("Jimeng's upload credentials are not readable")
        return data

    def local_items(self, token: Token, item_ids: list[str]) -> dict:
        """Download-quality items for generated item ids (update 6): one call for many ids."""
        body = {"item_id_list": list(item_ids), "pack_item_opt": {"scene": 1, "need_data_integrity": True},
                "is_for_video_download": True}
        return self.call(token, LOCAL_ITEMS_PATH, body)

    def credits(self, token: Token) -> dict:
        """The balance (update 7). Without default query params and with the image page as Referer,
        or Jimeng answers 1014; abroad the payload is a JSON string in `response` (envelope.unwrap)."""
        return self.call(token, CREDIT_PATH, {}, referer=f"{token.region.site}/ai-tool/image/generate",
                         default_params=False)

    def receive_credits(self, token: Token, time_zone: str) -> dict:
        """Claim the daily free credits (update 7): default query, body {time_zone}. Answers
        `receive_quota` (0 when there is nothing to claim today). A write: never repeated, since a
        repeat of a claim that went through answers 0 and would hide what the first one added.
        Abroad it is page-signed, through the browser (the transport policy routes it)."""
        return self.call(token, CREDIT_RECEIVE_PATH, {"time_zone": time_zone},
                         referer=f"{token.region.site}/ai-tool/image/generate", idempotent=False)

    def video_config(self, token: Token) -> dict:
        """The account's live video catalogue. Body as [ZN] and [MJ] send it (docs/protocol.md)."""
        referer = f"{token.region.site}/ai-tool/generate?type=video"
        return self.call(token, COMMON_CONFIG_PATH, {"scene": "generate_video", "params": {"needCache": True}},
                         referer=referer)

    def workspaces(self, token: Token) -> dict:
        """The account's workspaces (abroad, generate must name the latest; update 3)."""
        return self.call(token, WORKSPACE_LIST_PATH, {}, referer=f"{token.region.site}/ai-tool/generate")

    def account_alive(self, token: Token) -> bool:
        try:
            # The page's passport check sends no body at all (not `{}`): public clients, wire details.
            data = self.call(token, ACCOUNT_PATH, None, params={"account_sdk_source": "web"})
        except errors.TokenInvalid:
            return False
        return bool(data.get("user_id"))


def _context_cookies(cookie_header: str, page_url: str, site: str, overridden: bool) -> list[dict]:
    """The account's cookies for its browser context: on the page's host when the upstream is
    overridden (sandbox), else on the site's parent domain, which the API hosts share."""
    cookies = []
    parent = "." + ".".join((urllib.parse.urlsplit(site).hostname or "").split(".")[-2:])
    for pair in cookie_header.split("; "):
        name, sep, value = pair.partition("=")
        if not sep:
            continue
        where = ({"domain": urllib.parse.urlsplit(page_url).hostname, "path": "/"} if overridden
                 else {"domain": parent, "path": "/", "secure": True})
        cookies.append({"name": name, "value": value, **where})
    return cookies
