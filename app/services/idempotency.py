"""`Idempotency-Key` without stored state: Jimeng's history is the record of what was submitted.

- The Jimeng `submit_id` is derived: HMAC(SECRET_KEY-derived key, token fingerprint + key), shaped
  as a UUID. The same key from the same account always names the same Jimeng task.
- Before submitting, that submit id is looked up in the account's history (`get_history_by_ids`
  with `submit_ids`). Listed: the earlier task is the answer; nothing is sent again.
- The request's content travels in the task itself: `originSubmitId` in `metrics_extra` (a UUID
  Jimeng stores and echoes, and that clients already fill with a random UUID) is set to
  HMAC(submit id + body digest). A listed task whose tag differs was made from another body: 409.
- The window: right after a submit, Jimeng may not list it yet. A request that says it is a retry
  (the OpenAI SDKs send `x-stainless-retry-count`), whose key is not listed, cannot prove the first
  attempt failed: it is answered 409 with the task id rather than risking a second charge, unless
  the shared state records that the key's last submit ended before anything reached Jimeng (a
  refusal such as a 429 leaves an "ended, nothing created" record): then the retry is a fresh submit.
- Clients that do not say so are covered by a short-lived marker in the shared state (process
  memory, or Redis with REDIS_URL, so every worker sees it), kept for the listing window: the first
  request to mark the key owns it (set-if-absent), a second one meanwhile gets the same 409; the
  mark's time restarts just before the generate; once Jimeng accepted, the marker holds the task id
  (and what was asked), so a repeat is answered with that task as a listed one would be. A submit
  that failed before anything reached Jimeng drops its own mark: the key may be used again at once.
  The marker is a cache, never the truth: history is.
- Whose key: in personal mode each account the bearer lists has its own mark of the key, and a
  request takes the marks of all its accounts (in one order, giving back what it took when one is
  held): "A", "A,A" and "A,B" all meet on A's mark, so one key on one account is one task however
  the Authorization header lists it. In company mode the mark is the API key's.

One mechanism for every submit route (app/services/submitter.py): the account is picked with
`chooser`, then `claim` (kind "video" or "image") answers the earlier task or names the new one;
its `origin_submit_id` goes where the payload carries a UUID of our own choosing (videos: metrics
`originSubmitId`; images: the draft's `id`); `before_generate`, then `accepted` or `failed`, keep
the marker true.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import random
import secrets
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import BinaryIO

from app import errors
from app.jimeng.client import JimengClient
from app.jimeng.regions import Token
from app.jimeng.history import created_seconds
from app.services.submitting import SubmitSettings, SubmittedTask
from app.services.tasks import fingerprint_key
from app.task_ids import TaskId, derive_key

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotencyKey:
    """What the client sent: its key, and whether it says this request is a retry."""

    key: str
    retried: bool = False

    @classmethod
    def from_headers(cls, key: str | None, retry_count: str | None) -> IdempotencyKey | None:
        if key is None:
            return None
        if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
            raise errors.InvalidRequest(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable ASCII characters",
                                        param="Idempotency-Key")
        retried = (retry_count or "").strip().isdigit() and int(retry_count.strip()[:6]) > 0
        return cls(key=key, retried=retried)


@dataclass(frozen=True)
class Previous:
    """A task an earlier request with this key created."""

    token: Token
    submit_id: str
    record: dict


def _uuid(digest: bytes) -> str:
    return str(uuid.UUID(bytes=digest[:16], version=4))


def submit_id(secret: str, key: str, token_fp: bytes) -> str:
    """Jimeng's submit_id for this key and account: the same every time, unguessable without SECRET_KEY."""
    mac = hmac.new(derive_key(secret, "idempotency-submit-id"), token_fp + b"\0" + key.encode(), hashlib.sha256)
    return _uuid(mac.digest())


def tag(secret: str, submit: str, body_digest: bytes) -> str:
    """The UUID that says which body made the task (set as originSubmitId)."""
    mac = hmac.new(derive_key(secret, "idempotency-body"), submit.encode() + b"\0" + body_digest, hashlib.sha256)
    return _uuid(mac.digest())


def body_digest(fields: dict, media: Iterable[tuple[str, str | None, BinaryIO | None]]) -> bytes:
    """SHA-256 of what the request asks for: its parsed fields and each medium (a URL, or a file's
    bytes, read and rewound), the same whether it came as JSON or multipart, ours or OpenAI's shape."""
    h = hashlib.sha256()
    for name in sorted(fields):
        h.update(f"{name}={fields[name]!r}\n".encode())
    for field, url, stream in media:
        h.update(f"media {field} ".encode())
        if stream is not None:
            position = stream.tell()
            for chunk in iter(lambda: stream.read(1 << 16), b""):
                h.update(chunk)
            stream.seek(position)
        else:
            h.update((url or "").encode())
        h.update(b"\n")
    return h.digest()


def with_webhook(digest: bytes, webhook: str | None) -> bytes:
    """The request digest with the webhook it asks for (its URL and events): the same key with
    another webhook is another request. Without one the digest is unchanged, so the tags Jimeng
    stores for earlier keys still match."""
    if not webhook:
        return digest
    return hashlib.sha256(digest + b"\0webhook " + webhook.encode()).digest()


def find(client: JimengClient, tokens: Sequence[Token], secret: str, key: str, fp_key: bytes) -> Previous | None:
    """The task an earlier request with this key created, in any of the request's accounts."""
    for token in tokens:
        sid = submit_id(secret, key, token.fingerprint(fp_key))
        records = client.history_by_ids(token, [sid], id_field="submit_ids")
        if sid in records:
            return Previous(token=token, submit_id=sid, record=records[sid])
    return None


def same_body(previous: Previous, expected_tag: str) -> bool:
    """Whether the listed task was made from this body (its stored metrics carry our tag)."""
    stored = previous.record.get("metrics_extra")
    draft = previous.record.get("draft_content")
    return any(isinstance(text, str) and expected_tag in text for text in (stored, draft))


def choose_for(key: str, secret: str):
    """A token chooser that picks the same account for the same key (so a retry lands where the first
    attempt did, even with several tokens)."""
    fp_key = fingerprint_key(secret)

    def choose(candidates: Sequence[Token]) -> Token:
        ranked = sorted(candidates, key=lambda t: hmac.new(fp_key, t.fingerprint(fp_key) + key.encode(),
                                                           hashlib.sha256).digest())
        return ranked[0]
    return choose


def chooser(idempotency: IdempotencyKey | None, secret: str) -> Callable[[Sequence[Token]], Token]:
    """The token chooser of a submit on the caller's own tokens: with a key, the same account for the
    same key; otherwise any. (The account pool chooses by load instead: a retry is still found on
    whichever account took the first attempt.)"""
    if idempotency is not None:
        return choose_for(idempotency.key, secret)
    return random.choice


ENDED = ":ended"                # + a mark's name: its last submit ended before anything reached Jimeng
ENDED_EMPTY = "nothing-created"


@dataclass(frozen=True)
class Marker:
    """The shared-state keys that cover one Idempotency-Key until Jimeng lists its task. Named by the
    key and whose it is (SubmitSettings.idempotency_scopes: each account of the bearer, or the API
    key), not by the account chosen nor by kind: the account pool may put a repeat on another account,
    and a key reused for the other kind must meet the first."""

    names: tuple[str, ...]   # each held while a submit is under way: "<owner nonce> <task id by submit id>";
                             # + ":task" once accepted. Sorted: every request takes them in one order.
    owner: str               # this request's value in each of `names`
    body: str                # what the request asks for, its kind included: a repeat or another request


@dataclass(frozen=True)
class Claim:
    """How a submit names its Jimeng task, or the earlier task that answers it instead."""

    submit_id: str
    origin_submit_id: str | None = None   # the body tag; None without a key
    earlier_task_id: str | None = None    # set: answer this task, send nothing
    earlier_created: int = 0
    earlier_alias: str | None = None      # the earlier task by its submit id, when answered by its history id
    marker: Marker | None = None          # covers this key in shared state until Jimeng lists the task


def claim(kind: str, idempotency: IdempotencyKey | None, token: Token, tokens: Sequence[Token],
          client: JimengClient, settings: SubmitSettings, body: bytes, *, count: int = 0) -> Claim:
    """The submit id (and body tag) for a task of `kind` on `token`'s account. Without a key: a fresh
    random id. With one: the task an earlier request with this key made, if Jimeng lists it; 409 when
    it was made from another body (`body`: its digest), or when this is a retry whose first attempt
    Jimeng does not list yet (it may still be charged: never risk a second) unless the shared state
    records that the key's last submit ended creating nothing. `count` travels in image task ids."""
    if idempotency is None:
        return Claim(submit_id=str(uuid.uuid4()))
    secret = settings.secret_key
    fp_key = fingerprint_key(secret)
    sid = submit_id(secret, idempotency.key, token.fingerprint(fp_key))
    maybe = TaskId(kind=kind, region=token.region.code, upstream_id=sid, submitted_at=int(settings.clock()),
                   token_fp=token.fingerprint(fp_key), id_type="submit", count=count).encode(secret)
    marker = _marker(settings, idempotency.key, kind, body, maybe) if settings.state is not None else None
    try:
        previous = find(client, tokens, secret, idempotency.key, fp_key)
    except errors.ServiceError:
        if marker is not None:
            _ended_before_sending(settings, marker)
        raise
    if previous is None:
        expected = tag(secret, sid, body)
        if marker is not None:
            for name in marker.names:
                done = _accepted(settings, name, marker.body)
                if done is not None:
                    return done
        if idempotency.retried and not (marker is not None and _ended_empty(settings, marker)):
            raise errors.IdempotencyConflict(
                "this is a retry, and Jimeng does not list a task for this Idempotency-Key yet: the first attempt "
                "may still have been accepted (Jimeng lists new tasks with a delay). Poll task_id; if it is not "
                "found after a few minutes, submit again with a new key",
                extra={"task_id": (marker and _in_flight(settings, marker)) or maybe})
        if marker is not None:
            _take(settings, marker)
        return Claim(submit_id=sid, origin_submit_id=expected, marker=marker)
    record = previous.record
    created = created_seconds(record, int(settings.clock()))
    history_id = str(record.get("history_record_id") or "")
    task = TaskId(kind=kind, region=previous.token.region.code, upstream_id=history_id or previous.submit_id,
                  submitted_at=created, token_fp=previous.token.fingerprint(fp_key),
                  id_type="history" if history_id else "submit", count=count)
    task_id = task.encode(secret)
    # The tag of the account that took the task (the account pool may choose another one this time).
    if not same_body(previous, tag(secret, previous.submit_id, body)):
        raise errors.IdempotencyConflict("this Idempotency-Key was already used for a different request; its "
                                         "task is task_id", extra={"task_id": task_id})
    log.info("idempotent submit answered with the earlier task",
             extra={"kind": kind, "region": previous.token.region.code})
    alias = replace(task, upstream_id=previous.submit_id, id_type="submit").encode(secret) if history_id else None
    return Claim(submit_id=previous.submit_id, earlier_task_id=task_id, earlier_created=created, earlier_alias=alias)


def _marker(settings: SubmitSettings, key: str, kind: str, body: bytes, maybe: str) -> Marker:
    secret = settings.secret_key
    mark_key = derive_key(secret, "idempotency-marker")
    names = sorted({"idem:" + hmac.new(mark_key, f"{scope}\0{key}".encode(), hashlib.sha256).hexdigest()[:32]
                    for scope in settings.idempotency_scopes})
    asked = hmac.new(derive_key(secret, "idempotency-marker-body"), kind.encode() + b"\0" + body,
                     hashlib.sha256).hexdigest()[:32]
    return Marker(names=tuple(names), owner=f"{secrets.token_hex(8)} {maybe}", body=asked)


def _take(settings: SubmitSettings, marker: Marker) -> None:
    """Mark the key on every scope of the request, in the marker's order (two requests sharing some
    accounts never each hold a part). One held by another request: what this one took is given
    back, and the answer is that request's 409."""
    taken = []
    try:
        for name in marker.names:
            held = settings.state.put_new(name, marker.owner, settings.listing_window)
            if held is not None:
                raise _being_submitted(held)
            taken.append(name)
    except errors.ServiceError:     # held elsewhere, or the state failed midway: nothing was sent
        for mine in taken:
            _quietly(settings.state.drop, mine, marker.owner)
        raise


def _accepted(settings: SubmitSettings, name: str, body: str) -> Claim | None:
    """The task this key's submit got from Jimeng, as the mark `name` holds it (None: no accepted submit)."""
    held = (settings.state.get(name + ":task") or "").split(" ", 2)
    if len(held) != 3 or not held[1].isdigit():
        return None
    asked, created, task_id = held
    if asked != body:
        raise errors.IdempotencyConflict("this Idempotency-Key was already used for a different request; its "
                                         "task is task_id", extra={"task_id": task_id})
    log.info("idempotent submit answered with the task just accepted")
    return Claim(submit_id="", earlier_task_id=task_id, earlier_created=int(created))


def _ended_before_sending(settings: SubmitSettings, marker: Marker) -> None:
    """The key's history lookup failed: nothing was sent. Recorded as an ended submit (the SDKs retry
    such an error), but only by taking the mark first: one held by another request stays its 409."""
    try:
        _take(settings, marker)
    except errors.ServiceError:
        return
    _record_ended(settings, marker)


def _record_ended(settings: SubmitSettings, marker: Marker) -> None:
    """Leave "ended, nothing created" on each scope, then give the mark back (in that order: while
    the record is written the mark still keeps other requests out). When the record cannot be
    written the mark stays until the window ends: a retry is then a 409, never a second charge."""
    try:
        settings.state.put_many([(name + ENDED, ENDED_EMPTY, settings.listing_window) for name in marker.names])
    except errors.StateUnavailable:
        log.warning("idempotency marker not written: shared state unavailable")
        return
    for name in marker.names:
        _quietly(settings.state.drop, name, marker.owner)


def _ended_empty(settings: SubmitSettings, marker: Marker) -> bool:
    """Whether the shared state knows this key's last submit ended creating nothing: no mark held
    and every scope's mark left an "ended, nothing created" record. No record at all proves nothing
    (never seen, expired, another process's memory), so a retry then stays a 409."""
    names = list(marker.names)
    found = settings.state.get_many(names + [name + ENDED for name in names])
    return all(name not in found and found.get(name + ENDED) == ENDED_EMPTY for name in names)


def _task_in(held: str) -> str:
    """The task id in an owner's mark ("<nonce> <task id>")."""
    return held.split(" ", 1)[-1]


def _in_flight(settings: SubmitSettings, marker: Marker) -> str | None:
    """The task id of the submit under way with this key (its account's submit id), if one is."""
    for name in marker.names:
        held = settings.state.get(name)
        if held:
            return _task_in(held)
    return None


def _being_submitted(held: str) -> errors.IdempotencyConflict:
    return errors.IdempotencyConflict(
        "a request with this Idempotency-Key is being submitted or was just submitted, and Jimeng does not "
        "list its task yet. Poll task_id; if it is not found after a few minutes, submit again with a new key",
        extra={"task_id": _task_in(held)})


def before_generate(claim: Claim, settings: SubmitSettings) -> None:
    """Just before the generate: the mark is still this request's (else 409, nothing sent), and its
    time starts again, so the listing window runs from the submit however long the uploads took."""
    if claim.marker is None or settings.state is None:
        return
    marker = claim.marker
    for name in marker.names:
        held = settings.state.put_new(name, marker.owner, settings.listing_window)
        if held is None or held == marker.owner:
            _quietly(settings.state.put, name, marker.owner, settings.listing_window)
            # From here the generate may reach Jimeng: no record may say this key's submit created nothing.
            settings.state.drop(name + ENDED, ENDED_EMPTY)
            continue
        for mine in marker.names:      # nothing was sent: the marks still this request's are given back
            _quietly(settings.state.drop, mine, marker.owner)
        raise _being_submitted(held)


def failed(claim: Claim, settings: SubmitSettings, exc: errors.ServiceError) -> None:
    """The submit failed: when nothing reached Jimeng (an error without a task id) its mark is
    dropped, so the key may be used again at once, and an "ended, nothing created" record is left
    first (written while the mark still keeps others out), so a request that says it is a retry
    (the SDKs' retry of a 429) is a fresh submit rather than a 409 naming a task that does not
    exist. Any other failure keeps the mark until the window ends: safe (a 409), never a second charge."""
    if claim.marker is not None and settings.state is not None and "task_id" not in exc.extra:
        _record_ended(settings, claim.marker)


def accepted(claim: Claim, settings: SubmitSettings, task: SubmittedTask) -> None:
    """Jimeng took the task: the marker holds it (and what was asked), so a repeat is answered with it."""
    if claim.marker is not None and settings.state is not None:
        held = f"{claim.marker.body} {task.created} {task.task_id}"
        _quietly(settings.state.put_many, [(f"{name}:task", held, settings.listing_window)
                                           for name in claim.marker.names])


def _quietly(write: Callable, *args) -> None:
    """A marker write that fails (Redis gone) must not turn an accepted task into an error: history
    still finds it once listed."""
    try:
        write(*args)
    except errors.StateUnavailable:
        log.warning("idempotency marker not written: shared state unavailable")
