"""The browser transport as the configuration asks for it (the JimengClient's keyword arguments)."""
from __future__ import annotations

from app.jimeng.browser.executable import find_executable
from app.jimeng.browser.policy import MODES, TransportPolicy
from app.jimeng.browser.transport import BrowserTransport


def browser_transport(cfg) -> dict:
    """`browser`, `policy` and `browser_timeout` for JimengClient; nothing is started here."""
    mode = cfg.BROWSER_TRANSPORT if cfg.BROWSER_TRANSPORT in MODES else "auto"   # /healthz names a bad value
    executable, problem = find_executable(cfg.BROWSER_EXECUTABLE)
    browser = None if mode == "off" else BrowserTransport(
        executable=executable, problem=problem, socket_path=cfg.BROWSER_SOCKET, max_queue=cfg.BROWSER_MAX_QUEUE,
        idle_seconds=cfg.BROWSER_IDLE_SECONDS, ready_timeout=cfg.BROWSER_READY_TIMEOUT,
        page_path=cfg.BROWSER_PAGE_PATH)
    return {"browser": browser, "policy": TransportPolicy(mode), "browser_timeout": cfg.BROWSER_TIMEOUT}
