"""Blocking mode: follow a task with the same status logic as the task endpoint, up to a deadline."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from app import errors
from app.jimeng.client import JimengClient
from app.jimeng.regions import Token
from app.services.tasks import TaskSettings, TaskState, task_state


def wait_for_task(kind: str, task_id: str, tokens: Sequence[Token], client: JimengClient,
                  settings: TaskSettings, *, timeout: float, interval: float,
                  waiters: threading.BoundedSemaphore, sleep: Callable[[float], None] = time.sleep) -> TaskState:
    """The finished task state. Waiters are capped so they cannot take every worker thread."""
    if not waiters.acquire(blocking=False):
        raise errors.ServiceBusy(extra={"task_id": task_id})
    try:
        deadline = time.monotonic() + timeout
        while True:
            state = task_state(kind, task_id, tokens, client, settings)
            if state.finished:
                return state
            if time.monotonic() + interval > deadline:
                raise errors.UpstreamTimeout(
                    f"the task did not finish within {timeout:g} s; it goes on: poll task_id",
                    extra={"task_id": task_id})
            sleep(interval)
    finally:
        waiters.release()
