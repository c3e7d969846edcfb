"""Cancelling a queued task through Jimeng's cancel call (addendum of 2026-12).

What the facts cover is what is cancelled: a CN video still waiting in Jimeng's queue; Jimeng then
returns the credits. Anything else is refused with a 409 `task_not_cancellable` that says why: a
task already running (what Jimeng does with one is unknown) or ended, an image, an abroad account.

Stateless and safe to repeat: the record is read first, so a task already cancelled is answered as
it is (a repeat is not an error), and the cancel call is made only for a task Jimeng shows queued.
The answer is the task as a query shows it, `failed` with `error_code` `cancelled`.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from app import errors
from app.jimeng.client import JimengClient
from app.jimeng.history import CANCELLED
from app.jimeng.regions import Token
from app.services.tasks import TaskSettings, TaskState, located_task_state
from app.task_ids import short_form

log = logging.getLogger(__name__)

CANCELLABLE_KIND = "video"
CANCELLABLE_REGION = "cn"
NOT_LISTED_RETRY_AFTER = "5"
# Refusals about the account or the service, not the task: answered as on every other route.
_AS_EVERYWHERE = (errors.TokenInvalid, errors.RiskControl, errors.RateLimited, errors.UpstreamChanged,
                  errors.UpstreamUnavailable, errors.UpstreamTimeout)


def cancel_task(kind: str, text: str, tokens: Sequence[Token], client: JimengClient,
                settings: TaskSettings) -> TaskState:
    """Cancel the task `text` names if Jimeng still has it queued; the task as it then is."""
    state, owner = located_task_state(kind, text, tokens, client, settings)
    if state.error_code == CANCELLED[0]:
        return state
    _check_cancellable(kind, state, owner)
    try:
        client.cancel_generate(owner, state.record.record_id)
    except errors.ServiceError as exc:
        return _after_a_failed_cancel(kind, text, tokens, client, settings, exc)
    cancelled = _read_back(kind, text, tokens, client, settings, state)
    _ended_by_cancel(kind, cancelled, settings)
    return cancelled


def _check_cancellable(kind: str, state: TaskState, owner: Token | None) -> None:
    """A 409 saying why, unless the task is a queued CN video Jimeng lists."""
    if state.finished:
        raise errors.TaskNotCancellable(f"the task already ended ({state.status}); only a queued task can be "
                                        "cancelled")
    if kind != CANCELLABLE_KIND:
        raise errors.TaskNotCancellable("Jimeng's cancel call is known for queued videos only; an image task "
                                        "cannot be cancelled here")
    if owner is None or owner.region.code != CANCELLABLE_REGION:
        raise errors.TaskNotCancellable("Jimeng's cancel call is known for mainland China accounts only; a task "
                                        "of an abroad account cannot be cancelled here")
    if state.record is None:
        raise errors.TaskNotCancellable("Jimeng does not list the task yet (it was submitted moments ago); send "
                                        "the cancel again in a few seconds",
                                        headers={"Retry-After": NOT_LISTED_RETRY_AFTER})
    if state.status != "pending":
        raise errors.TaskNotCancellable("the task is already running: Jimeng's cancel call is known for queued "
                                        "tasks only, and what it does with a running one is not")


def _after_a_failed_cancel(kind: str, text: str, tokens: Sequence[Token], client: JimengClient,
                           settings: TaskSettings, exc: errors.ServiceError) -> TaskState:
    """Jimeng refused, or its answer did not come. A refusal about the task is judged by the task
    as Jimeng now shows it: cancelled meanwhile is the answer, started or ended is a 409, still
    queued is Jimeng's refusal (502). A lost answer is an error that says the cancel may have
    happened: repeating it is safe."""
    if "upstream_code" not in exc.extra:
        exc.message += "; the cancel may or may not have reached Jimeng: query the task, or send the cancel again"
        raise exc
    if isinstance(exc, _AS_EVERYWHERE):
        raise exc
    now, _ = located_task_state(kind, text, tokens, client, settings)
    if now.error_code == CANCELLED[0]:
        return now          # another request's cancel went through: that one told about it
    if now.status != "pending":
        raise errors.TaskNotCancellable(f"the task is no longer queued ({now.status}); only a queued task can "
                                        "be cancelled") from None
    raise errors.UpstreamError(f"Jimeng refused to cancel the queued task: {exc.message}",
                               extra=dict(exc.extra)) from None


def _read_back(kind: str, text: str, tokens: Sequence[Token], client: JimengClient, settings: TaskSettings,
               before: TaskState) -> TaskState:
    """The task as Jimeng shows it after an accepted cancel. Its history may lag (or the read may
    fail): Jimeng said the cancel went through, so the answer is then the task before it, failed
    as cancelled (what the next query shows once Jimeng's history catches up)."""
    try:
        after, _ = located_task_state(kind, text, tokens, client, settings)
    except errors.ServiceError as exc:
        log.warning("reading a task back after its cancel failed: %s", exc.message)
        after = before
    if after.status in ("pending", "processing"):
        code, reason = CANCELLED
        return replace(before, status="failed", error_code=code, error=reason, queue=None)
    return after


def _ended_by_cancel(kind: str, state: TaskState, settings: TaskSettings) -> None:
    """A cancel ends the task: the one place to tell about it. Its webhook, if it has one, fires the
    kind's `failed` event (`video.failed`) with this state at once (a later poll fires nothing more)."""
    log.info("task cancelled", extra={"task": short_form(state.task_id), "kind": kind,
                                      "task_status": state.status})
    if settings.on_ended is not None:
        settings.on_ended(state)
