"""The browser transport: a real headless Chromium whose Jimeng page signs the calls Jimeng protects.

Jimeng refuses some generate calls unless their query carries signatures that only its own page
script computes (protocol update 2): so such a call is sent as an in-page `fetch` from Jimeng's
page, in a Chromium driven by Playwright. The pieces:
- `policy`: which calls go through the browser (`BROWSER_TRANSPORT=auto|always|off`);
- `transport`: the worker side; asks the browser process over a local socket, starting it if needed;
- `server` and `host`: the browser process itself (the only modules that import Playwright);
- `executable`: finding Debian's chromium (Playwright may not download a browser here).
Importing this package never imports Playwright.
"""
from app.jimeng.browser.executable import find_executable
from app.jimeng.browser.policy import TransportPolicy, is_risk_refusal
from app.jimeng.browser.transport import BrowserCall, BrowserTransport

__all__ = ["BrowserCall", "BrowserTransport", "TransportPolicy", "find_executable", "is_risk_refusal"]
