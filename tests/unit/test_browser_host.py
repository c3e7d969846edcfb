"""BrowserHost's bookkeeping of accounts, with stand-ins for Playwright's browser, context and page.

The real browser path runs end to end in tests/e2e/test_browser.py; these stand-ins only let a test
put housekeeping and a call in the order that used to lose the call (no Jimeng is involved here).
"""
from __future__ import annotations

import asyncio
import time

from app.jimeng.browser.host import Account, BrowserHost

PAGE = "http://page.test/ai-tool/video/generate"


class StandInBrowser:
    def is_connected(self) -> bool:
        return True

    async def close(self) -> None:
        pass


class StandInContext:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class StandInPage:
    def __init__(self, context: StandInContext) -> None:
        self.context = context

        self.closed = False

    def is_closed(self) -> bool:
        return self.closed or self.context.closed

    async def close(self) -> None:
        self.closed = True

    async def goto(self, url: str, **options) -> None:
        pass

    async def wait_for_function(self, script: str, **options) -> None:
        pass

    async def evaluate(self, script: str, args: dict) -> dict:
        return {"status": 200, "text": '{"ret":"0"}'}


def host_with_an_idle_account(proxy: str | None = None) -> tuple[BrowserHost, StandInContext]:
    host = BrowserHost(executable="/bin/false", max_queue=4, idle_seconds=0.0, ready_timeout=5.0)
    host._browser = StandInBrowser()
    context = StandInContext()
    host._accounts["a"] = Account(context=context, page=StandInPage(context), page_url=PAGE, proxy=proxy,
                                  last_used=time.monotonic() - 60, ready=True)
    return host, context


def request(**extra) -> dict:
    return {"account": "a", "page_url": PAGE, "url": "http://page.test/x", "headers": {}, "body": "{}",
            "timeout": 5.0, **extra}


def test_housekeeping_never_closes_an_account_a_call_has_picked():
    host, context = host_with_an_idle_account()

    async def call_while_housekeeping_runs():
        return await asyncio.gather(host.fetch(request()), host.close_idle())

    answer, _ = asyncio.run(call_while_housekeeping_runs())

    assert answer == {"ok": True, "status": 200, "text": '{"ret":"0"}'}
    assert not context.closed                     # in use: the next housekeeping round may close it


def test_an_idle_account_is_closed_when_no_call_holds_it():
    host, context = host_with_an_idle_account()
    asyncio.run(host.close_idle())
    assert context.closed and host.status()["accounts"] == 0


class OpeningBrowser(StandInBrowser):
    def __init__(self) -> None:
        self.opened: list[dict] = []

    async def new_context(self, **options) -> "OpenedContext":
        self.opened.append(options)
        return OpenedContext()


class OpenedContext(StandInContext):
    async def add_cookies(self, cookies: list) -> None:
        pass

    async def route(self, pattern: str, handler) -> None:
        pass

    async def new_page(self) -> StandInPage:
        return StandInPage(self)

    async def new_cdp_session(self, page: StandInPage) -> "StandInCdp":
        return StandInCdp()


class StandInCdp:
    async def send(self, method: str, params: dict) -> dict:
        return {}


def test_a_changed_proxy_opens_a_new_context_with_the_credentials_apart():
    host, old_context = host_with_an_idle_account(proxy="http://old.example:3128")
    host.idle_seconds = 300.0
    browser = host._browser = OpeningBrowser()
    asyncio.run(host.fetch(request(proxy="http://us%40er:p%3Ass@proxy.example:8080")))

    assert old_context.closed                     # the old proxy's context is gone
    assert browser.opened[0]["proxy"] == {"server": "http://proxy.example:8080", "username": "us@er",
                                          "password": "p:ss"}


def test_the_same_proxy_keeps_the_context():
    host, context = host_with_an_idle_account(proxy="http://old.example:3128")
    host.idle_seconds = 300.0
    browser = host._browser = OpeningBrowser()
    asyncio.run(host.fetch(request(proxy="http://old.example:3128")))
    assert not context.closed and browser.opened == []


def test_past_the_warm_pages_the_least_recently_used_idle_page_closes_and_its_context_stays():
    host = BrowserHost(executable="/bin/false", max_queue=4, idle_seconds=300.0, ready_timeout=5.0, warm_pages=2)
    host._browser = OpeningBrowser()
    for key in ("a", "b", "c"):
        asyncio.run(host.fetch(request(account=key)))
    a, b, c = (host._accounts[key] for key in ("a", "b", "c"))

    assert a.page is None and not a.context.closed          # its cookies stay for its next call
    assert b.page is not None and c.page is not None

    answer = asyncio.run(host.fetch(request(account="a")))  # a new page in a's own context
    assert answer["ok"] and host._accounts["a"] is a and a.page is not None and a.ready
    assert b.page is None and not b.context.closed


def test_a_page_a_call_has_picked_is_never_closed_for_room():
    host = BrowserHost(executable="/bin/false", max_queue=4, idle_seconds=300.0, ready_timeout=5.0, warm_pages=1)
    host._browser = OpeningBrowser()
    asyncio.run(host.fetch(request(account="a")))
    host._accounts["a"].users = 1                          # picked by a call that has not finished
    asyncio.run(host.fetch(request(account="b")))
    assert host._accounts["a"].page is not None and host._accounts["b"].page is not None
