"""Run a few blocking jobs at once under one total deadline, in greenlets under gunicorn's gevent
workers and in threads elsewhere (tests, `flask run`, gthread).

Each job runs in a copy of the caller's context, so its log lines keep the request's id and mask its
secrets. A job still running at the deadline is reported as timed out and left to end on its own
(every upstream call has its own deadline); under gevent it is killed.
"""
from __future__ import annotations

import concurrent.futures
import contextvars
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_AT_ONCE = 16


@dataclass(frozen=True)
class Outcome:
    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False


def _gevent_patched() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("threading"))


def run_all(jobs: Mapping[str, Callable[[], Any]], timeout: float) -> dict[str, Outcome]:
    """Every job's outcome by name, within `timeout` seconds in all."""
    if not jobs:
        return {}
    bound = {name: _in_context(job) for name, job in jobs.items()}
    return _with_gevent(bound, timeout) if _gevent_patched() else _with_threads(bound, timeout)


def _in_context(job: Callable[[], Any]) -> Callable[[], Outcome]:
    """The job in a copy of the caller's context, its exception caught into its outcome (a greenlet
    that raised would be reported on stderr with its traceback by gevent's hub)."""
    context = contextvars.copy_context()

    def run() -> Outcome:
        try:
            return Outcome(value=context.run(job))
        except Exception as exc:  # noqa: BLE001 - handed to the caller, which decides
            return Outcome(error=exc)
    return run


def _with_threads(jobs: dict[str, Callable[[], Any]], timeout: float) -> dict[str, Outcome]:
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(len(jobs), MAX_AT_ONCE),
                                                 thread_name_prefix="doctor")
    try:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        concurrent.futures.wait(futures.values(), timeout=timeout)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    outcomes = {}
    for name, future in futures.items():
        done = future.done() and not future.cancelled()
        outcomes[name] = future.result() if done else Outcome(timed_out=True)
    return outcomes


def _with_gevent(jobs: dict[str, Callable[[], Any]], timeout: float) -> dict[str, Outcome]:
    import gevent
    from gevent.lock import BoundedSemaphore

    slots = BoundedSemaphore(MAX_AT_ONCE)   # every job is spawned now; at most this many run at once

    def gated(job: Callable[[], Any]) -> Any:
        with slots:
            return job()

    greenlets = {name: gevent.spawn(gated, job) for name, job in jobs.items()}
    gevent.joinall(list(greenlets.values()), timeout=timeout)
    outcomes = {}
    for name, greenlet in greenlets.items():
        if greenlet.ready() and greenlet.successful():
            outcomes[name] = greenlet.value
        else:
            greenlet.kill(block=False)
            outcomes[name] = Outcome(timed_out=True)
    return outcomes
