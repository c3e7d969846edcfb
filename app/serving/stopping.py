"""How the server tells the requests it serves that it is stopping.

A stop (SIGTERM, a HUP reload, a worker recycled after max_requests) lets requests in flight
finish; a blocking-mode wait would hold it for up to WAIT_TIMEOUT. So the gevent worker
(app/serving/gevent_worker.py) puts an event in every request's WSGI environ under KEY and sets it when
its stop begins: a wait then answers at once with the task as it is. Under another server (or the
test client) there is no event and a wait runs its course.
"""
from __future__ import annotations

from typing import Protocol

KEY = "jimeng_api.stopping"


class StopSignal(Protocol):
    """What the environ carries: a threading.Event or a gevent Event."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


def signal_in(environ: dict) -> StopSignal | None:
    """The server's stop signal for this request, if the server gives one."""
    return environ.get(KEY)
