"""Chromium under Playwright: one context per account, one page each, calls on a page one at a time.

The only module that imports Playwright. Runs inside the browser process (`server.py`), on its
asyncio loop.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import psutil
from playwright.async_api import Browser, BrowserContext, Page, Playwright, Route, async_playwright
from playwright.async_api import Error as PlaywrightError

from app.jimeng.calls import API_PREFIXES

log = logging.getLogger("app.jimeng.browser")

# Flags for a root user in a container: no setuid sandbox to rely on, no GPU, a small /dev/shm;
# nothing that phones home. A fresh profile per launch (Playwright's own temporary user-data-dir).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-extensions", "--mute-audio",
                 "--disable-blink-features=AutomationControlled"]
# Fewer processes, measured with bench/bench_browser.py (README "Browser transport"): no zygotes
# (two processes of ~48 MB RSS each), the GPU and network services inside the browser process
# (~70 MB each otherwise), no software rasterizer for a GPU we never use (~17 MB), no cross-site
# iframe in a process of its own, at most one renderer per context. The renderers themselves stay: Chromium never shares one between browser contexts, and
# each account has its own context (its own cookies). Playwright passes its own --enable-features
# list and Chromium keeps only the last one, so Playwright's two are repeated here.
CHROMIUM_ARGS += ["--no-zygote", "--in-process-gpu", "--disable-software-rasterizer", "--renderer-process-limit=1",
                  "--disable-site-isolation-trials",
                  "--enable-features=NetworkServiceInProcess2,CDPScreenshotNewSurface,"
                  "SkipListAccountsWithoutGaiaCookies"]
# Each page is a renderer of ~125 MB RSS (~110 MB of it the shared Chromium binary, counted again
# in every process), so at most this many accounts keep a warm page; the others keep their context
# (cookies) and load the page again on their next call. 2 keeps 10 accounts under 600 MB RSS.
WARM_PAGES = 2
# Playwright's node driver: a 1 MB young generation instead of 16 MB (about 11 MB RSS less).
DRIVER_NODE_OPTIONS = "--max-semi-space-size=1"
# What the page needs to sign: its document, its scripts and its API calls. Images, fonts, styles
# and media only cost memory ([WZ], [FK] block them too).
ALLOWED_TYPES = frozenset({"document", "script", "xhr", "fetch", "other"})
# The page's own site plus the CDNs its security scripts come from (update 2.2).
SCRIPT_HOST_SUFFIXES = ("jianying.com", "capcut.com", "capcutapi.com", "capcutapi.us", "vlabstatic.com",
                        "bytescm.com", "byteimg.com", "bytetos.com", "yhgfb-cn-static.com", "ibytedtos.com")
# Ready when the security runtime has replaced fetch and one of its globals is there ([WZ], [FK], [DR] 9.3).
READY_CHECK = """() => {
  const wrapped = !/\\[native code\\]/.test(Function.prototype.toString.call(window.fetch));
  const sdk = (window.bdms && typeof window.bdms.init === "function") || !!window.byted_acrawler;
  return wrapped && sdk;
}"""
IN_PAGE_FETCH = """async ({url, headers, body, timeoutMs}) => {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const resp = await window.fetch(url, {method: "POST", headers, body, credentials: "include",
                                          cache: "no-store", signal: abort.signal});
    return {status: resp.status, text: await resp.text()};
  } catch (e) {
    return {error: (e && e.name) || String(e)};
  } finally {
    clearTimeout(timer);
  }
}"""


# The page's own API calls (witness): how long to let them finish once the page is ready.
WITNESS_SETTLE_SECONDS = 5.0
MASKED = "[masked]"


class CallFailed(Exception):
    """A call that did not produce an answer; `kind` says whether it may have been sent."""

    def __init__(self, kind: str, message: str = "") -> None:
        super().__init__(message or kind)
        self.kind, self.message = kind, message


@dataclass
class Account:
    context: BrowserContext
    page: Page | None               # None: closed to save memory (the context and its cookies stay)
    page_url: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)
    ready: bool = False
    proxy: str | None = None        # part of the context's identity: a new proxy needs a new context
    users: int = 0                  # calls that picked this account and have not finished
    cdp: object | None = None       # the session that holds the page's user agent override


class BrowserHost:
    """The one Chromium of this host and the accounts' contexts in it."""

    def __init__(self, *, executable: str, max_queue: int, idle_seconds: float, ready_timeout: float,
                 warm_pages: int = WARM_PAGES) -> None:
        self.executable = executable
        self.warm_pages = max(warm_pages, 1)
        self.max_queue = max_queue
        self.idle_seconds = idle_seconds
        self.ready_timeout = ready_timeout
        self.queued = 0                  # calls admitted and not finished (waiting or running)
        self.launches = 0
        self.last_call = time.monotonic()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._accounts: dict[str, Account] = {}
        self._launch_lock = asyncio.Lock()
        self._open_lock = asyncio.Lock()

    # -- one call -------------------------------------------------------------------------------
    async def fetch(self, req: dict) -> dict:
        return await self._on_page(req, lambda account, deadline: self._fetch_in_page(account, req, deadline))

    async def witness(self, req: dict) -> dict:
        """Load the account's page afresh and answer the API calls the page itself makes while loading
        (the doctor compares them with ours). Cookie values never leave this process."""
        return await self._on_page(req, self._witness_in_page)

    async def _on_page(self, req: dict, work) -> dict:
        """Run `work(account, deadline)` on the account's page, alone on it, within the call's timeout."""
        if self.queued >= self.max_queue:
            raise CallFailed("busy")
        self.queued += 1
        self.last_call = time.monotonic()
        deadline = time.monotonic() + float(req["timeout"])
        try:
            account = await self._account(req)     # counted as in use from here: housekeeping keeps it
            try:
                try:
                    await asyncio.wait_for(account.lock.acquire(), max(deadline - time.monotonic(), 0.01))
                except TimeoutError:
                    raise CallFailed("queued_too_long") from None
                try:
                    if account.page is None:
                        await self._reopen_page(account, req)
                    return await work(account, deadline)
                finally:
                    account.lock.release()
            finally:
                account.users -= 1
                account.last_used = time.monotonic()
        finally:
            self.queued -= 1

    async def _witness_in_page(self, account: Account, deadline: float) -> dict:
        page = account.page
        seen = []

        def on_request(request) -> None:
            if urlsplit(request.url).path.startswith(API_PREFIXES):
                seen.append(request)

        page.on("request", on_request)
        try:
            account.ready = False           # loaded again: the witness sees a whole page load
            await self._load(account, deadline)
            settle = min(WITNESS_SETTLE_SECONDS, max(deadline - time.monotonic(), 0.1))
            try:
                await page.wait_for_load_state("networkidle", timeout=settle * 1000)
            except PlaywrightError:
                pass                        # still busy: what was seen so far is answered
        finally:
            page.remove_listener("request", on_request)
        calls = []
        for request in seen:
            try:
                headers = await request.all_headers()
            except PlaywrightError:
                headers = request.headers
            calls.append({"method": request.method, "url": request.url, "body": request.post_data,
                          "headers": {name: MASKED if name.lower() == "cookie" else value
                                      for name, value in headers.items()}})
        return {"ok": True, "calls": calls}

    async def _fetch_in_page(self, account: Account, req: dict, deadline: float) -> dict:
        if account.page.is_closed() or not self._connected():
            await self._drop(req["account"])
            raise CallFailed("queued_too_long", "the page was closed; the next call opens a new one")
        if not account.ready:
            await self._load(account, deadline)
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            raise CallFailed("queued_too_long")
        args = {"url": req["url"], "headers": req["headers"], "body": req["body"],
                "timeoutMs": int(remaining * 1000)}
        try:
            answer = await asyncio.wait_for(account.page.evaluate(IN_PAGE_FETCH, args), remaining + 2.0)
        except TimeoutError:
            await self._drop(req["account"])
            raise CallFailed("timeout") from None
        except PlaywrightError as exc:
            await self._drop(req["account"])
            raise CallFailed("failed", _first_line(exc)) from None
        if "error" in answer:
            raise CallFailed("timeout" if answer["error"] == "AbortError" else "failed", answer["error"])
        return {"ok": True, "status": answer["status"], "text": answer["text"]}

    async def _load(self, account: Account, deadline: float) -> None:
        """Open the region's page and wait for its security script (nothing is sent before this)."""
        budget = min(self.ready_timeout, max(deadline - time.monotonic(), 0.1))
        try:
            await account.page.goto(account.page_url, wait_until="domcontentloaded", timeout=budget * 1000)
            left = max(deadline - time.monotonic(), 0.1)
            await account.page.wait_for_function(READY_CHECK, timeout=min(self.ready_timeout, left) * 1000)
        except PlaywrightError as exc:
            raise CallFailed("not_ready", f"{_first_line(exc)} (page {urlsplit(account.page_url).path})") from None
        account.ready = True

    # -- accounts -------------------------------------------------------------------------------
    async def _account(self, req: dict) -> Account:
        async with self._open_lock:     # two first calls of one account must not open two contexts
            key = req["account"]
            account = self._accounts.get(key)
            if account is None or not self._usable(account, req):
                if account is not None:     # its page or the browser died, or its proxy changed
                    await self._drop(key)
                account = await self._open(req)
            account.users += 1          # under the same lock close_idle takes: never closed from here on
            return account

    def _usable(self, account: Account, req: dict) -> bool:
        return (self._connected() and (account.page is None or not account.page.is_closed())
                and account.page_url == req["page_url"] and account.proxy == (req.get("proxy") or None))

    async def _open(self, req: dict) -> Account:
        browser = await self._ensure_browser()
        await self._make_room_for_a_page()
        options = {"user_agent": req.get("user_agent") or None, "locale": req.get("locale") or "zh-CN",
                   "viewport": {"width": 1280, "height": 800}, "service_workers": "block"}
        if req.get("proxy"):
            options["proxy"] = playwright_proxy(req["proxy"])
        try:
            context = await browser.new_context(**options)
            await context.add_cookies(req.get("cookies") or [])
            await context.route("**/*", _allow_only_what_signing_needs(req["page_url"]))
            page = await context.new_page()
            cdp = await _claim_user_agent(context, page, req)
        except PlaywrightError as exc:
            raise CallFailed("unavailable", _first_line(exc)) from None
        account = Account(context=context, page=page, page_url=req["page_url"], proxy=req.get("proxy") or None,
                          cdp=cdp)
        self._accounts[req["account"]] = account
        return account

    async def _reopen_page(self, account: Account, req: dict) -> None:
        """A new page in the account's own context (its cookies), for an account whose page was closed."""
        async with self._open_lock:
            await self._make_room_for_a_page()
            try:
                account.page = await account.context.new_page()
                account.cdp = await _claim_user_agent(account.context, account.page, req)
            except PlaywrightError as exc:
                raise CallFailed("unavailable", _first_line(exc)) from None
            account.ready = False

    async def _make_room_for_a_page(self) -> None:
        """Close the least recently used idle pages so that one more keeps `warm_pages` open at most.
        Called under `_open_lock`; a page a call has picked (users > 0) is never closed."""
        warm = [account for account in self._accounts.values() if account.page is not None]
        idle = sorted((account for account in warm if account.users == 0), key=lambda account: account.last_used)
        for account in idle[:max(len(warm) + 1 - self.warm_pages, 0)]:
            page, account.page, account.cdp, account.ready = account.page, None, None, False
            try:
                await page.close()
            except PlaywrightError:
                pass

    async def _drop(self, key: str) -> None:
        account = self._accounts.pop(key, None)
        if account is not None:
            try:
                await account.context.close()
            except PlaywrightError:
                pass

    async def close_idle(self) -> None:
        """Close accounts unused for `idle_seconds`; the whole browser when none is left for as long."""
        now = time.monotonic()
        async with self._open_lock:     # a call picks its account under this lock (and marks it used)
            idle = [key for key, account in self._accounts.items()
                    if account.users == 0 and now - account.last_used > self.idle_seconds]
            for key in idle:
                await self._drop(key)
        if self._browser is not None and not self._accounts and self.queued == 0 \
                and now - self.last_call > self.idle_seconds:
            await self._close_browser()

    # -- the browser ----------------------------------------------------------------------------
    def _connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    async def _ensure_browser(self) -> Browser:
        """The running browser; after a crash it is launched again, once per call."""
        async with self._launch_lock:
            if self._connected():
                return self._browser
            if self._browser is not None:
                log.warning("browser gone; relaunching it")
                self._accounts.clear()
            last_error = ""
            for _ in range(2):          # a launch that fails is tried once more, then we give up
                try:
                    return await self._launch()
                except PlaywrightError as exc:
                    last_error = _first_line(exc)
                    log.warning("browser launch failed: %s", last_error)
            raise CallFailed("unavailable", last_error)

    async def _launch(self) -> Browser:
        if self._playwright is None:
            if DRIVER_NODE_OPTIONS not in os.environ.get("NODE_OPTIONS", ""):     # the driver inherits it
                os.environ["NODE_OPTIONS"] = f"{os.environ.get('NODE_OPTIONS', '')} {DRIVER_NODE_OPTIONS}".strip()
            self._playwright = await async_playwright().start()
        self._browser = await self._playwright.chromium.launch(
            executable_path=self.executable, headless=True, args=CHROMIUM_ARGS, chromium_sandbox=False,
            handle_sigint=False, handle_sigterm=False, handle_sighup=False)
        self.launches += 1
        log.info("browser launched (%d so far)", self.launches)
        return self._browser

    async def _close_browser(self) -> None:
        browser, self._browser = self._browser, None
        self._accounts.clear()
        if browser is not None:
            try:
                await browser.close()
            except PlaywrightError:
                pass

    async def close(self) -> None:
        await self._close_browser()
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None

    # -- state ----------------------------------------------------------------------------------
    def status(self) -> dict:
        pids = self.browser_pids()
        rss = 0
        for pid in pids:
            try:
                rss += psutil.Process(pid).memory_info().rss
            except psutil.Error:
                pass
        return {"browser": "running" if self._connected() else "idle", "accounts": len(self._accounts),
                "launches": self.launches, "queued": self.queued, "browser_pids": pids, "browser_rss": rss}

    def browser_pids(self) -> list[int]:
        """Chromium's processes (the main one first): descendants of this process that are not Playwright's driver."""
        found = []
        for child in psutil.Process().children(recursive=True):
            try:
                name = child.name()
                if "chrom" in name.lower():
                    found.append((child.ppid(), child.pid, " --type=" in " ".join(child.cmdline())))
            except psutil.Error:
                pass
        found.sort(key=lambda item: item[2])    # the browser process (no --type=) first
        return [pid for _, pid, _ in found]


async def _claim_user_agent(context: BrowserContext, page: Page, req: dict):
    """Make the page's client hints (`Sec-Ch-Ua*` headers, `navigator.userAgentData`) say what the
    User-Agent says. Playwright's `user_agent` option changes the string only: the brands stay
    Chromium's own ("HeadlessChrome" in the headless build), a contradiction a risk check can see.
    The override lives as long as the CDP session that set it, which the account keeps."""
    user_agent = req.get("user_agent") or ""
    if not user_agent:
        return None
    cdp = await context.new_cdp_session(page)
    await cdp.send("Emulation.setUserAgentOverride", {
        "userAgent": user_agent, "acceptLanguage": req.get("locale") or "zh-CN",
        "userAgentMetadata": user_agent_metadata(user_agent, req.get("client_hints") or {})})
    return cdp


def user_agent_metadata(user_agent: str, hints: dict) -> dict:
    """CDP's UserAgentMetadata for a desktop Chrome user agent and the `Sec-Ch-Ua` values sent with it."""
    brands = [{"brand": b, "version": v} for b, v in _BRAND.findall(hints.get("sec-ch-ua", ""))]
    full = _CHROME_VERSION.search(user_agent)
    major = full.group(1).split(".")[0] if full else ""
    if not brands and major:
        brands = [{"brand": "Chromium", "version": major}, {"brand": "Google Chrome", "version": major},
                  {"brand": "Not_A Brand", "version": "99"}]
    platform = hints.get("sec-ch-ua-platform", "").strip('"') or next(
        (name for marker, name in _PLATFORMS if marker in user_agent), "Windows")
    return {"brands": brands,
            "fullVersionList": [{"brand": b["brand"], "version": full.group(1) if full and b["version"] == major
                                 else f"{b['version']}.0.0.0"} for b in brands],
            "fullVersion": full.group(1) if full else "",
            "platform": platform, "platformVersion": _PLATFORM_VERSIONS.get(platform, ""),
            "architecture": "x86", "model": "", "mobile": hints.get("sec-ch-ua-mobile") == "?1",
            "bitness": "64", "wow64": False}


_BRAND = re.compile(r'"([^"]*)";v="([^"]*)"')
_CHROME_VERSION = re.compile(r"Chrome/(\d+(?:\.\d+)*)")
_PLATFORMS = (("Windows", "Windows"), ("Mac OS X", "macOS"), ("Linux", "Linux"))
# What desktop Chrome reports: Windows 10 answers "10.0.0" (11 would be "15.0.0").
_PLATFORM_VERSIONS = {"Windows": "10.0.0", "macOS": "10.15.7", "Linux": ""}


def playwright_proxy(url: str) -> dict:
    """A token's proxy URL as Playwright takes it: credentials apart from `server` (Chromium
    ignores user:pass@ inside the server URL and would answer the proxy's 407)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    proxy = {"server": f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")}
    if parts.username is not None:
        proxy["username"] = unquote(parts.username)
        proxy["password"] = unquote(parts.password or "")
    return proxy


def _allow_only_what_signing_needs(page_url: str):
    page_host = urlsplit(page_url).hostname or ""

    async def decide(route: Route) -> None:
        request = route.request
        host = urlsplit(request.url).hostname or ""
        allowed_host = host == page_host or any(host == s or host.endswith("." + s) for s in SCRIPT_HOST_SUFFIXES)
        if request.resource_type in ALLOWED_TYPES and allowed_host:
            await route.continue_()
        else:
            await route.abort()
    return decide


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
