"""Which generate calls go through the browser: `BROWSER_TRANSPORT=auto|always|off` and what was learned.

- `off`: never (a protected call then fails with Jimeng's risk refusal, 403 risk_control);
- `always`: every generate call;
- `auto` (default): abroad every generate call and the daily credit claim (Dreamina protects
  them all, update 2.1); in CN a call goes direct, and after a definite risk refusal it is resent once through the browser; when
  Jimeng accepts that resend, its (path, model) is remembered for the rest of the process's life,
  so the next one goes through the browser at once. Without a usable browser the refusal stands.
"""
from __future__ import annotations

import threading

from app.jimeng.regions import Region

MODES = ("auto", "always", "off")
# The calls the policy routes: Jimeng checks page signatures on generate (update 2.1; reads,
# uploads and credit queries are unchecked), and abroad on the daily credit claim, a write
# (update 7: unsigned it answered -4 "shark check reject"; CN claims work direct). Everything else
# always goes direct.
BROWSER_PATHS = frozenset({"/mweb/v1/aigc_draft/generate", "/commerce/v1/benefits/credit_receive"})
# Update 2.5: refusals of a missing or invalid page signature. Each created and charged nothing.
RISK_RETS = frozenset({"4013", "1019", "-6"})


def is_risk_refusal(region: Region, ret: str, fail_code: str) -> bool:
    """Does this answer mean "sign it in the page", and nothing else?"""
    if ret in RISK_RETS:
        return True
    # [DR] 10.1: abroad, 3018 with fail_code 1017 is the refusal of a call without the page's signing.
    return region.code != "cn" and ret == "3018" and fail_code == "1017"


class TransportPolicy:
    """One per process (it lives in the JimengClient); thread-safe."""

    def __init__(self, mode: str = "auto") -> None:
        if mode not in MODES:
            raise ValueError(f"BROWSER_TRANSPORT must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self._learned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def via_browser(self, region: Region, path: str, model: str) -> bool:
        """Send this call through the browser right away?"""
        if self.mode == "off" or path not in BROWSER_PATHS:
            return False
        if self.mode == "always" or region.code != "cn":
            return True
        with self._lock:
            return (path, model) in self._learned

    def resend_via_browser(self, region: Region, path: str, model: str, ret: str, fail_code: str) -> bool:
        """After a direct call's refusal: resend it once through the browser? (Decides, learns nothing.)"""
        return self.mode == "auto" and path in BROWSER_PATHS and is_risk_refusal(region, ret, fail_code)

    def learn(self, path: str, model: str) -> None:
        """The browser's resend of a refused call was accepted: send this (path, model) there at once.

        Only then: one risky account's refusal says nothing about the model (it may be the account),
        and without a working browser, learning would turn every later submit into a 503."""
        with self._lock:
            self._learned.add((path, model))

    def learned(self) -> list[tuple[str, str]]:
        with self._lock:
            return sorted(self._learned)
