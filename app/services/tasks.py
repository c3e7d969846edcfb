"""Task state: from task ids and Jimeng history records to the public task shape.

Stateless: the task id says where to look (token fingerprint, region, record id, submit time);
Jimeng's history record says what happened. One `get_history_by_ids` call per token (chunked),
never one per id.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from app import errors
from app.serving import metrics
from app.jimeng.client import JimengClient
from app.jimeng.history import (FAILED, QUEUED, SUCCEEDED, HistoryRecord, UnreadableRecord, created_seconds,
                                parse_record)
from app.jimeng.models import IMAGE_MODELS_BY_KEY, VIDEO_MODELS, VIDEO_MODELS_BY_KEY
from app.jimeng.regions import Token
from app.services.hd_results import upgrade_to_hd
from app.services.progress import progress_for
from app.state.shared import SharedState
from app.task_ids import TaskId, derive_key, is_raw_history_id

log = logging.getLogger(__name__)

# Ids per history call: a full default batch is one call per token. Jimeng's own limit is unknown
# (protocol open question 6); L1 sent up to 10, iptag 1.
HISTORY_CHUNK = 100
_MODEL_BY_KEY = {m.req_key: m.name for m in VIDEO_MODELS.values()} | {
    key: m.name for key, m in IMAGE_MODELS_BY_KEY.items()}
NOT_FOUND_MESSAGE = errors.TaskNotFound.default_message


@dataclass(frozen=True)
class TaskKind:
    """What differs between video and image tasks. Everything else (ids, lookup, status words,
    progress, batch, waiting) is one machinery that reads these fields."""

    name: str                                     # as in task ids and TaskSettings.timeouts
    forecast: int                                 # typical seconds from submit to end: paces progress
    delivered: Callable[[HistoryRecord], int]     # how many results the record holds
    result: Callable[[HistoryRecord], dict]       # the public `result` of a completed task
    image_info: dict | None = None                # sent with get_history_by_ids (protocol 5.1)
    # Completes the states of one query with one more read (videos: the HD URL, kept in the shared state).
    finish: Callable[[JimengClient, Iterable[tuple[TaskState, Token | None]], TaskSettings], None] | None = None


def _video_result(record: HistoryRecord) -> dict:
    result = {"url": record.video_url}
    result.update({k: record.video_meta[k] for k in ("width", "height", "duration_ms") if k in record.video_meta})
    return result


def _image_result(record: HistoryRecord) -> dict:
    images = [{"url": i.url, "width": i.width or None, "height": i.height or None} for i in record.images]
    return {"url": images[0]["url"], "images": images}


def _scene(scene: str, width: int, height: int, key: str) -> dict:
    return {"scene": scene, "width": width, "height": height, "uniq_key": key, "format": "webp"}


# iptag's text-to-image `image_info` (protocol 5.1): the resized variants the web page asks for.
IMAGE_INFO = {"width": 2048, "height": 2048, "format": "webp", "image_scene_list": [
    *(_scene("smart_crop", w, h, f"smart_crop-w:{w}-h:{h}") for w, h in (
        (360, 360), (480, 480), (720, 720), (720, 480), (360, 240), (240, 320), (480, 640))),
    *(_scene("normal", n, n, str(n)) for n in (2400, 1080, 720, 480, 360))]}

VIDEO = TaskKind("video", forecast=300, delivered=lambda r: 1 if r.video_url else 0, result=_video_result,
                 finish=upgrade_to_hd)
IMAGE = TaskKind("image", forecast=60, delivered=lambda r: len(r.images), result=_image_result,
                 image_info=IMAGE_INFO)
KINDS = {k.name: k for k in (VIDEO, IMAGE)}


@dataclass(frozen=True)
class TaskSettings:
    secret_key: str
    timeouts: dict[str, int]          # kind -> seconds after which an unfinished task is failed
    grace_seconds: int                # a record missing this soon after submit is still pending
    clock: Callable[[], float] = time.time
    # Company mode: raw history ids are refused (they would reach any pool account's tasks), an id
    # whose account left the pool is 410 account_removed, and the pool hears which tasks ended.
    raw_ids: bool = True
    owner_removed_is_gone: bool = False
    on_seen: Callable[[Token, str, bool], None] | None = None   # (token, upstream id, finished)
    state: SharedState | None = None    # where finished videos' HD links are kept (None: asked every time)
    # The `webhook` state of each task that has one (app/webhooks), looked up once per query.
    webhook_states: Callable[[Sequence[TaskId]], list[dict | None]] | None = None
    # Told when a request of ours ended a task (a cancel): its webhook fires now, not at the next poll.
    on_ended: Callable[[TaskState], None] | None = None
    # kind -> the typical seconds from submit to end that pace progress (VIDEO/IMAGE_PROGRESS_SECONDS);
    # a kind absent here takes TaskKind.forecast.
    paces: dict[str, int] = field(default_factory=dict)


@dataclass
class TaskState:
    task_id: str
    status: str                       # pending | processing | completed | failed | not_found | unknown
    progress: int | None = None
    created: int | None = None
    model: str | None = None
    queue: dict | None = None
    result: dict | None = None
    error: str | None = None
    error_code: str | None = None
    upstream_code: str | None = None
    webhook: dict | None = None       # the task's webhook delivery, when it asked for one
    record: HistoryRecord | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed")


@dataclass
class _Lookup:
    """One requested id, resolved to where it can be found."""

    text: str
    kind: str
    task_id: TaskId | None = None
    tokens: list[Token] = field(default_factory=list)
    upstream_id: str = ""
    id_field: str = "history_ids"
    removed: bool = False           # a valid id whose pool account is no longer configured


def fingerprint_key(secret: str) -> bytes:
    return derive_key(secret, "token-fingerprint")


def _resolve(text: str, kind: str, tokens: Sequence[Token], settings: TaskSettings) -> _Lookup:
    lookup = _Lookup(text=text, kind=kind)
    if is_raw_history_id(text) and settings.raw_ids:
        lookup.upstream_id, lookup.tokens = text, list(tokens)   # older clients: ask every token
        return lookup
    task_id = TaskId.decode(text, settings.secret_key)
    if task_id is None or task_id.kind != kind:
        return lookup
    fp_key = fingerprint_key(settings.secret_key)
    owner = next((t for t in tokens if t.fingerprint(fp_key) == task_id.token_fp
                  and t.region.code == task_id.region), None)
    if owner is None:
        lookup.removed = settings.owner_removed_is_gone
        return lookup                     # one account never sees another's tasks
    lookup.task_id, lookup.tokens, lookup.upstream_id = task_id, [owner], task_id.upstream_id
    lookup.id_field = "submit_ids" if task_id.id_type == "submit" else "history_ids"
    return lookup


def task_states(kind: str, texts: Sequence[str], tokens: Sequence[Token], client: JimengClient,
                settings: TaskSettings, *, fetched: Mapping[str, dict] | None = None) -> list[TaskState]:
    """The state of each id, in the order asked; a bad id becomes `not_found`, never an error.

    When every upstream call fails, the first error is raised (a single query gets a clear 5xx);
    when only some fail, the affected items carry that error instead. `fetched`: records already
    read (by the id asked with), for a caller that read many kinds of task in one call.
    """
    return [state for state, _ in _located_states(kind, texts, tokens, client, settings, finish=True,
                                                  fetched=fetched)]


def _located_states(kind: str, texts: Sequence[str], tokens: Sequence[Token], client: JimengClient,
                    settings: TaskSettings, *, finish: bool,
                    fetched: Mapping[str, dict] | None = None) -> list[tuple[TaskState, Token | None]]:
    """Each id's state and the token of the account that holds it: the one that listed its record,
    else the one the id names (None for an id that names none). `finish`: the kind's last read
    (videos: the HD URL), which only an answer that shows the result needs."""
    lookups = [_resolve(t, kind, tokens, settings) for t in texts]
    # Group the upstream ids per (token, id field): one history call per token and chunk.
    groups: dict[tuple[int, str], list[str]] = {}
    token_by_index = {id(t): t for t in tokens}
    for lk in lookups:
        for tok in lk.tokens:
            ids = groups.setdefault((id(tok), lk.id_field), [])
            if lk.upstream_id not in ids:
                ids.append(lk.upstream_id)
    found: dict[tuple[int, str], dict] = {}
    failures: dict[int, errors.ServiceError] = {}
    for (tok_key, id_field), ids in groups.items():
        for start in range(0, len(ids), HISTORY_CHUNK):
            chunk = ids[start:start + HISTORY_CHUNK]
            try:
                records = {i: fetched[i] for i in chunk if i in fetched} if fetched is not None else \
                    client.history_by_ids(token_by_index[tok_key], chunk, id_field=id_field,
                                          image_info=KINDS[kind].image_info)
            except errors.ServiceError as exc:
                failures.setdefault(tok_key, exc)
                continue
            for upstream_id, raw in records.items():
                found[(tok_key, upstream_id)] = raw
    if failures and len(failures) == len({k for k, _ in groups}):
        raise next(iter(failures.values()))
    now = settings.clock()
    states, owners, raws = [], [], []
    for lk in lookups:
        owner = next((t for t in lk.tokens if (id(t), lk.upstream_id) in found), None)
        raw = found[(id(owner), lk.upstream_id)] if owner is not None else None
        raws.append(raw)
        failed_call = next((failures[id(t)] for t in lk.tokens if id(t) in failures), None)
        states.append(_state(lk, raw, failed_call, now, settings))
        if settings.on_seen is not None and lk.task_id is not None and states[-1].status != "unknown":
            # A record Jimeng no longer lists after the grace period runs no more either.
            settings.on_seen(lk.tokens[0], lk.upstream_id, states[-1].finished or states[-1].status == "not_found")
        owners.append(owner)
    if finish and KINDS[kind].finish is not None:
        KINDS[kind].finish(client, zip(states, owners), settings)
    _with_webhooks(states, [lk.task_id for lk in lookups], settings, raws)
    for state in states:
        metrics.task_state_seen(kind, state.status)
    named = [owner or (lk.tokens[0] if lk.task_id is not None else None) for owner, lk in zip(owners, lookups)]
    return list(zip(states, named))


def task_state(kind: str, text: str, tokens: Sequence[Token], client: JimengClient,
               settings: TaskSettings) -> TaskState:
    """One task; an unknown, tampered or foreign id raises TaskNotFound (404)."""
    return _one(task_states(kind, [text], tokens, client, settings)[0])


def located_task_state(kind: str, text: str, tokens: Sequence[Token], client: JimengClient,
                       settings: TaskSettings) -> tuple[TaskState, Token | None]:
    """One task and the token of the account that holds it, for a call that acts on the task;
    errors as `task_state`. Without the HD read: acting on a task needs no download link."""
    state, owner = _located_states(kind, [text], tokens, client, settings, finish=False)[0]
    return _one(state), owner


def _one(state: TaskState) -> TaskState:
    if state.status == "not_found":
        raise errors.TaskNotFound()
    if state.status == "unknown":
        raise errors.error_for_code(state.error_code, state.error)
    return state


def not_found(text: str) -> TaskState:
    return TaskState(task_id=text, status="not_found", error=NOT_FOUND_MESSAGE, error_code="task_not_found")


def _state(lk: _Lookup, raw: dict | None, failed_call: errors.ServiceError | None, now: float,
           settings: TaskSettings) -> TaskState:
    if lk.removed:
        return TaskState(task_id=lk.text, status="unknown", error=errors.AccountRemoved.default_message,
                         error_code=errors.AccountRemoved.code)
    if not lk.tokens:
        return not_found(lk.text)
    tid = lk.task_id
    if raw is None:
        if failed_call is not None:
            return TaskState(task_id=lk.text, status="unknown", error=failed_call.message,
                             error_code=failed_call.code)
        if tid is not None and now - tid.submitted_at < settings.grace_seconds:
            # Jimeng's history is eventually consistent: a fresh task may not be listed yet.
            return TaskState(task_id=lk.text, status="pending", created=tid.submitted_at,
                             progress=progress_for("pending", now - tid.submitted_at, _forecast(lk.kind, tid, settings)))
        return not_found(lk.text)
    try:
        return _record_state(lk, tid, parse_record(lk.upstream_id, raw), now, settings)
    except (UnreadableRecord, TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
        # One odd record is that item's problem: never a 500, never the whole batch.
        reason = str(exc) if isinstance(exc, UnreadableRecord) else type(exc).__name__
        log.warning("unreadable history record (%s)", reason)
        return TaskState(task_id=lk.text, status="unknown", error_code=errors.UpstreamError.code,
                         error=f"Jimeng returned a record this service cannot read ({reason})")


def record_kind(record: HistoryRecord) -> str | None:
    """"video" or "image" as far as the record shows it (model key, then results); None when it
    cannot tell (a fresh record names neither)."""
    if record.model_key in VIDEO_MODELS_BY_KEY or record.video_url:
        return VIDEO.name
    if record.model_key in IMAGE_MODELS_BY_KEY or record.images or record.total_image_count:
        return IMAGE.name
    return None


def _record_state(lk: _Lookup, tid: TaskId | None, record: HistoryRecord, now: float,
                  settings: TaskSettings) -> TaskState:
    if tid is None and record_kind(record) not in (None, lk.kind):
        # A raw history id names no kind: an image record is not a video task, and the other way round.
        return not_found(lk.text)
    kind = KINDS[lk.kind]
    submitted = tid.submitted_at if tid else int(record.created_time or now)
    forecast = _forecast(lk.kind, tid, settings)
    # What was asked for travels in the task id; older ids fall back on Jimeng's own target count
    # (0 for videos), then on one result.
    expected = (tid.count if tid else 0) or record.total_image_count or 1
    delivered = kind.delivered(record)
    state = TaskState(task_id=lk.text, status="processing", created=submitted,
                      model=_MODEL_BY_KEY.get(record.model_key or ""), record=record)
    if record.phase == SUCCEEDED and delivered >= expected:
        state.status = "completed"
        state.result = kind.result(record)
    elif record.phase == SUCCEEDED and record.total_image_count <= delivered:
        _fail(state, "generation_failed", f"Jimeng finished the task with {delivered} of {expected} results"
              if delivered else "Jimeng finished the task but returned no result")
    elif record.phase == FAILED:
        code, reason = record.failure
        _fail(state, code, f"{reason} (fail_code {record.fail_code})" if record.fail_code else reason)
        state.upstream_code = record.fail_code or None
    elif now - submitted > settings.timeouts[lk.kind]:
        # Also a round that is done while more results never come (protocol 6.4): never processing
        # forever.
        hours = settings.timeouts[lk.kind] / 3600
        _fail(state, "timeout", f"the task did not finish within {hours:g} hours")
    elif record.phase == QUEUED:
        state.status = "pending"
        state.queue = {"position": record.queue_position or None, "length": record.queue_length or None,
                       "eta_seconds": (record.forecast_queue_cost + record.forecast_generate_cost) or None}
    # Otherwise processing, including a round that is done with more results to come (protocol 6.4).
    until = _progress_until(state, record, now, submitted + settings.timeouts[lk.kind])
    state.progress = progress_for(state.status, until - submitted, forecast,
                                  done_fraction=min(delivered / expected, 1.0))
    return state


def _progress_until(state: TaskState, record: HistoryRecord, now: float, timed_out_at: float) -> float:
    """The moment a task's progress stops moving: now while it runs; once failed, when it ended
    (Jimeng's `finish_time`, or the timeout), so a failed task answers the same progress ever after."""
    if state.status != "failed":
        return now
    if state.error_code == "timeout":
        return min(now, timed_out_at)
    return min(now, record.finish_time or now)


def _forecast(kind: str, tid: TaskId | None, settings: TaskSettings) -> int:
    """What paces a task's progress: the kind's typical duration (a setting), never Jimeng's forecasts (they
    change between polls and the history list does not know the one made at submit). An id of
    version 1 keeps the forecast it carries, so a task polled across the upgrade keeps its curve."""
    return (tid.legacy_eta_seconds if tid else 0) or settings.paces.get(kind) or KINDS[kind].forecast


def _fail(state: TaskState, code: str, message: str) -> None:
    state.status, state.error_code, state.error = "failed", code, message


def listed_states(kind: str, records: Sequence[dict], token: Token, settings: TaskSettings) -> list[TaskState]:
    """States of records read from the account's history list, each under the task id its submit
    answered: the id is spelled from the record alone (its history id and created_time)."""
    fp = token.fingerprint(fingerprint_key(settings.secret_key))
    now = settings.clock()
    states, tids, raws = [], [], []
    for raw in records:
        history_id = str(raw.get("history_record_id") or "")
        try:
            tid = TaskId(kind=kind, region=token.region.code, upstream_id=history_id,
                         submitted_at=created_seconds(raw), token_fp=fp)
            text = tid.encode(settings.secret_key)
        except (ValueError, OverflowError, UnicodeEncodeError, TypeError):
            continue   # a record we could never find again is not worth listing
        lookup = _Lookup(text=text, kind=kind, task_id=tid, tokens=[token], upstream_id=history_id)
        states.append(_state(lookup, raw, None, now, settings))
        tids.append(tid)
        raws.append(raw)
    _with_webhooks(states, tids, settings, raws)
    return states


def _with_webhooks(states: Sequence[TaskState], tids: Sequence[TaskId | None], settings: TaskSettings,
                   raws: Sequence[dict | None]) -> None:
    """Each state's `webhook`, for the tasks that asked for one (one lookup for the whole answer),
    under the id queried or the task's other id form (`raws`: each task's record, if listed)."""
    if settings.webhook_states is None:
        return
    asked = [(state, tid, _other_form(tid, raw)) for state, tid, raw in zip(states, tids, raws)
             if tid is not None and state.status != "not_found"]
    if not asked:
        return
    found = settings.webhook_states([t for _, tid, other in asked for t in (tid, other or tid)])
    for i, (state, _, _) in enumerate(asked):
        state.webhook = found[2 * i] or found[2 * i + 1]


def _other_form(tid: TaskId, raw: dict | None) -> TaskId | None:
    """The same Jimeng task by its other id, as its record names it (its submit id for a history id,
    and back). A webhook is registered under the id of the answer that asked for it: after a lost
    generate answer that is the submit id, while a repeat with the key answers the history id."""
    if not isinstance(raw, dict):
        return None
    other, id_type = ((raw.get("history_record_id"), "history") if tid.id_type == "submit"
                      else (raw.get("submit_id"), "submit"))
    other = str(other or "")
    if not other or other == tid.upstream_id or not other.isascii():
        return None
    return replace(tid, upstream_id=other, id_type=id_type)
