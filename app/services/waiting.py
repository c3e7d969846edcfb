"""Blocking mode: follow a task with the same status logic as the task endpoint, up to a deadline."""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from app import errors
from app.jimeng.client import JimengClient
from app.jimeng.regions import Token
from app.services.tasks import TaskSettings, TaskState, task_state
from app.serving.stopping import StopSignal


@contextlib.contextmanager
def waiter_slot(waiters: threading.BoundedSemaphore) -> Iterator[None]:
    """Taken before submitting: a full house refuses the request before it costs credits."""
    if not waiters.acquire(blocking=False):
        raise errors.ServiceBusy()
    try:
        yield
    finally:
        waiters.release()


@contextlib.contextmanager
def naming_the_task(task_id: str) -> Iterator[None]:
    """After a submit, any error still tells the client which task exists (it was paid for)."""
    try:
        yield
    except errors.ServiceError as exc:
        exc.extra.setdefault("task_id", task_id)
        raise


def wait_for_task(kind: str, task_id: str, tokens: Sequence[Token], client: JimengClient,
                  settings: TaskSettings, *, timeout: float, interval: float,
                  sleep: Callable[[float], None] = time.sleep, give_up_quietly: bool = False,
                  stop: StopSignal | None = None) -> TaskState:
    """The finished task state, or UpstreamTimeout when it takes longer than `timeout`
    (with `give_up_quietly`, the last state seen instead: `Prefer: wait=N` answers what there is).

    Once `stop` is set (the server is stopping, app/serving/stopping.py), the state as it is then, finished
    or not, without waiting for the next poll: the caller answers it rather than hold the stop."""
    deadline = time.monotonic() + timeout
    while True:
        state = task_state(kind, task_id, tokens, client, settings)
        if state.finished or (stop is not None and stop.is_set()):
            return state
        if time.monotonic() + interval > deadline:
            if give_up_quietly:
                return state
            raise errors.UpstreamTimeout(f"the task did not finish within {timeout:g} s; it goes on: poll task_id")
        if stop is None:
            sleep(interval)
        else:
            stop.wait(interval)     # wakes as soon as the stop begins
