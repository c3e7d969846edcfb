"""Per-call faults a tester queues through `POST /_sandbox/faults`, and the log of calls made.

The log lets tests prove call counts (e.g. "one get_history_by_ids call per token") without
trusting the service's own account of what it did.
"""
from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass, field

MAX_LOGGED_CALLS = 10_000      # the counts stay exact; only the detailed list is bounded


@dataclass
class Fault:
    path: str                       # exact path, "/?Action=<Action>", or a prefix ending in "*"
    count: int = 1                  # how many calls it affects
    status: int | None = None       # HTTP status to answer with
    delay: float = 0.0              # seconds to wait first
    ret: str | None = None          # answer a Jimeng envelope with this ret instead
    errmsg: str | None = None
    headers: dict = field(default_factory=dict)
    after: bool = False             # carry the call out first, then delay/replace its answer (a lost answer)

    def matches(self, keys: tuple[str, ...]) -> bool:
        if self.path.endswith("*"):
            return any(key.startswith(self.path[:-1]) for key in keys)
        return self.path in keys


def parse_fault(spec: object) -> Fault:
    """A Fault from the admin API's JSON; ValueError says what is wrong with it."""
    if not isinstance(spec, dict) or not isinstance(spec.get("path"), str) or not spec["path"].startswith("/"):
        raise ValueError('a fault needs "path", e.g. "/mweb/v1/get_history_by_ids"')
    unknown = set(spec) - {"path", "count", "status", "delay", "ret", "errmsg", "headers", "after"}
    if unknown:
        raise ValueError(f"unknown fault field(s) {sorted(unknown)}")
    fault = Fault(path=spec["path"], count=spec.get("count") or 1, status=spec.get("status"),
                  delay=float(spec.get("delay") or 0), errmsg=spec.get("errmsg"), headers=spec.get("headers") or {},
                  ret=None if spec.get("ret") is None else str(spec["ret"]), after=spec.get("after") is True)
    if not isinstance(fault.count, int) or fault.count < 1:
        raise ValueError("count must be a positive integer")
    if fault.status is not None and not (isinstance(fault.status, int) and 100 <= fault.status <= 599):
        raise ValueError("status must be an HTTP status code")
    if not isinstance(fault.headers, dict) or not all(isinstance(v, str) for v in fault.headers.values()):
        raise ValueError("headers must map names to strings")
    if fault.status is None and fault.ret is None and not fault.delay:
        raise ValueError("a fault needs a status, a ret or a delay")
    return fault


@dataclass
class FaultBoard:
    """Queued faults and the call log. Thread-safe."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _faults: list[Fault] = field(default_factory=list)
    _calls: deque = field(default_factory=lambda: deque(maxlen=MAX_LOGGED_CALLS))
    _counts: Counter = field(default_factory=Counter)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take(self, *keys: str) -> Fault | None:
        """The first queued fault for this call, used up by one."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(keys):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[dict]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def log_call(self, method: str, key: str, session: str | None, now: float, *, client: dict | None = None,
                 page_signed: bool = False) -> None:
        with self._lock:
            self._counts[key] += 1
            self._calls.append({"time": now, "method": method, "path": key, "session": session,
                                "client": client or {}, "page_signed": page_signed})

    def calls(self) -> dict:
        with self._lock:
            return {"total": sum(self._counts.values()), "counts": dict(self._counts), "calls": list(self._calls)}

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()
            self._counts.clear()

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
        self.clear_calls()
