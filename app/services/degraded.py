"""The degraded signal: Jimeng refused our requests as outdated (ret 3018, "invalid parameter") several
times lately, across every worker. `/healthz` reads it without any upstream call.

Refusals are counted in the shared state in buckets of a fifth of the window (`count`), and each
bucket's latest count is also stored as a plain value (`put`) for `/healthz` to read (`get`):
only operations every shared-state backend has.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from app.errors import StateUnavailable
from app.state.shared import SharedState

log = logging.getLogger(__name__)

BUCKETS = 5
_COUNT_KEY = "upstream-refusals:{}"
_SEEN_KEY = "upstream-refusals-seen:{}"


class DegradedSignal:
    """Counts refusals (`record`, the JimengClient's `on_outdated`) and says whether Jimeng looks moved."""

    def __init__(self, state: SharedState, clock: Callable[[], float], *, window: float = 300.0,
                 threshold: int = 3) -> None:
        self.state, self.clock = state, clock
        self.window, self.threshold = max(window, 1.0), max(threshold, 1)
        self.step = self.window / BUCKETS

    def record(self, call: str, reason: str) -> None:
        bucket = int(self.clock() // self.step)
        keep = self.window + self.step
        seen = self.state.count(_COUNT_KEY.format(bucket), keep)
        self.state.put(_SEEN_KEY.format(bucket), str(seen), keep)
        log.warning("Jimeng refused a %s call as outdated (%s); see GET /v1/doctor", call, reason)

    def refusals(self) -> int:
        """Refusals in the last window (to a fifth of it)."""
        now = int(self.clock() // self.step)
        total = 0
        for bucket in range(now - BUCKETS + 1, now + 1):
            raw = self.state.get(_SEEN_KEY.format(bucket))
            total += int(raw) if raw and raw.isdigit() else 0
        return total

    def status(self) -> dict:
        """For /healthz: `upstream` ok, degraded (with the count) or unknown (the shared state is down)."""
        try:
            count = self.refusals()
        except StateUnavailable:
            return {"upstream": "unknown", "upstream_refusals": None}
        return {"upstream": "degraded" if count >= self.threshold else "ok", "upstream_refusals": count,
                "upstream_window_seconds": int(self.window)}
