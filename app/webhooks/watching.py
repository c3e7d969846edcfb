"""One poll of one account's watched tasks: which of them ended, in the shape their route answers.

The cost to Jimeng is one `get_history_by_ids` call for the account, whatever the number of tasks
and of kinds (a second one only for tasks known by submit id, whose generate answer was lost); the
states are then read from those records by the same machinery as a query (app/services/tasks.py).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app import errors
from app.jimeng.client import JimengClient
from app.jimeng.regions import Token
from app.services.tasks import IMAGE_INFO, TaskSettings, TaskState, not_found, task_states
from app.task_ids import TaskId
from app.webhooks.store import Watch

log = logging.getLogger(__name__)
HISTORY_CHUNK = 100        # ids per history call, as for queries


@dataclass
class Ended:
    watch: Watch
    event_type: str
    state: TaskState


@dataclass
class PollResult:
    ended: list[Ended] = field(default_factory=list)
    suggested_interval: float | None = None     # Jimeng's polling_config, when its records say
    error: str | None = None                    # the read failed: nothing was learnt this time


def poll(watches: Sequence[Watch], token: Token | None, client: JimengClient,
         settings_for: Callable[[Watch], TaskSettings], now: float) -> PollResult:
    """Read every watched task of one account (`token`: None when its session is gone)."""
    result = PollResult()
    decoded = {w.key: TaskId.decode(w.task_id, settings_for(w).secret_key) for w in watches}
    fetched: dict[str, dict] | None = None
    if token is not None:
        try:
            fetched = _read_records(watches, decoded, token, client)
        except errors.ServiceError as exc:
            result.error = exc.code
            log.warning("webhooks: reading watched tasks failed (%s); next poll retries", exc.code)
    groups: dict[tuple[str, str], list[Watch]] = {}
    for w in watches:
        groups.setdefault((w.kind, w.api_key), []).append(w)
    for group in groups.values():
        states = _states(group, token, client, settings_for(group[0]), fetched)
        for w, state in zip(group, states):
            if state.record is not None and state.record.poll_interval:
                interval = float(state.record.poll_interval)
                result.suggested_interval = min(result.suggested_interval or interval, interval)
            ended = _ended(w, state, now)
            if ended is not None:
                result.ended.append(ended)
    return result


def _read_records(watches: Sequence[Watch], decoded: dict[str, TaskId | None], token: Token,
                  client: JimengClient) -> dict[str, dict]:
    by_field: dict[str, list[str]] = {}
    for w in watches:
        tid = decoded[w.key]
        if tid is not None:
            ids = by_field.setdefault("submit_ids" if tid.id_type == "submit" else "history_ids", [])
            if tid.upstream_id not in ids:
                ids.append(tid.upstream_id)
    image_info = IMAGE_INFO if any(w.kind == "image" for w in watches) else None
    records: dict[str, dict] = {}
    for id_field, ids in by_field.items():
        for start in range(0, len(ids), HISTORY_CHUNK):
            records.update(client.history_by_ids(token, ids[start:start + HISTORY_CHUNK], id_field=id_field,
                                                 image_info=image_info))
    return records


def _states(group: list[Watch], token: Token | None, client: JimengClient, settings: TaskSettings,
            fetched: dict[str, dict] | None) -> list[TaskState]:
    """The query answer of each task; `unknown` when it could not be read this time."""
    if token is None or fetched is None:
        return [TaskState(task_id=w.task_id, status="unknown") for w in group]
    try:
        return task_states(group[0].kind, [w.task_id for w in group], [token], client, settings, fetched=fetched)
    except errors.ServiceError as exc:
        return [TaskState(task_id=w.task_id, status="unknown", error_code=exc.code) for w in group]


def _ended(watch: Watch, state: TaskState, now: float) -> Ended | None:
    """The event a task's state calls for, or None while it runs (or could not be read in time)."""
    if state.status == "completed":
        return Ended(watch, f"{watch.kind}.completed", state)
    if state.status == "failed":
        return Ended(watch, f"{watch.kind}.failed", state)
    if state.status == "not_found":
        # Jimeng no longer lists it (past the listing grace): a batch query answers this item.
        return Ended(watch, f"{watch.kind}.failed", not_found(watch.task_id))
    if now > watch.deadline:
        # Running or unreadable past the task timeout: never watched (nor pending) forever.
        hours = (watch.deadline - watch.submitted_at) / 3600
        reason = f"the task did not finish within {hours:g} hours"
        if state.status == "unknown":
            reason = f"the task could not be read before its timeout of {hours:g} hours"
        timed_out = TaskState(task_id=watch.task_id, status="failed", progress=state.progress,
                              created=int(watch.submitted_at), model=state.model, error=reason, error_code="timeout",
                              record=state.record)
        return Ended(watch, f"{watch.kind}.failed", timed_out)
    return None
