"""Paging through an account's Jimeng history without keeping state: the cursor carries Jimeng's own.

Cursor (base64url): version(1) token_fp(8) next_offset(8, signed) tag(12). The tag is HMAC-SHA256
under a key derived from SECRET_KEY, so a cursor can neither be forged nor replayed by another account.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from app import errors
from app.jimeng.client import JimengClient
from app.jimeng.regions import Token
from app.services.tasks import TaskSettings, TaskState, fingerprint_key, listed_states
from app.task_ids import TaskId, derive_key

_CURSOR = struct.Struct(">B8sq")
_TAG = 12
VERSION = 1
PREFIX = "page_"
SCAN_PAGES = 5          # `after=<video id>`: Jimeng list calls spent looking for that video
SCAN_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    states: list[TaskState]
    has_more: bool
    cursor: str | None          # pass back as `after` for the next page


def encode_cursor(secret: str, token_fp: bytes, offset: int) -> str:
    body = _CURSOR.pack(VERSION, token_fp, offset)
    tag = hmac.new(derive_key(secret, "history-cursor"), body, hashlib.sha256).digest()[:_TAG]
    return PREFIX + base64.urlsafe_b64encode(body + tag).rstrip(b"=").decode("ascii")


def decode_cursor(secret: str, text: str) -> tuple[bytes, int] | None:
    """(token_fp, Jimeng offset), or None for anything that is not a cursor we made."""
    if not text.startswith(PREFIX) or len(text) > 64:
        return None
    raw = text[len(PREFIX):]
    try:
        blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(blob) != _CURSOR.size + _TAG:
        return None
    body, tag = blob[:-_TAG], blob[-_TAG:]
    expected = hmac.new(derive_key(secret, "history-cursor"), body, hashlib.sha256).digest()[:_TAG]
    if not hmac.compare_digest(tag, expected):
        return None
    version, fp, offset = _CURSOR.unpack(body)
    return (fp, offset) if version == VERSION and offset > 0 else None


def recent_videos(tokens: Sequence[Token], client: JimengClient, settings: TaskSettings, *, limit: int,
                  after: str | None) -> Page:
    """One page of the account's video history, newest first.

    The first token's account is listed; a cursor names its account by fingerprint, so the next
    page comes from the same one even if the request lists its tokens in another order. `after`
    may also be a listed video's id (clients that page by the last item's id): the list is then
    read from the start until that video, at most SCAN_PAGES calls.
    """
    fp_key = fingerprint_key(settings.secret_key)
    token, offset = tokens[0], 0
    if after:
        decoded = decode_cursor(settings.secret_key, after)
        owner = next((t for t in tokens if decoded and t.fingerprint(fp_key) == decoded[0]), None)
        if owner is None:
            return _after_video(tokens, client, settings, limit, after)
        token, offset = owner, decoded[1]
    records, has_more, next_offset = client.history_list(token, count=limit, offset=offset)
    return _page(records, has_more, next_offset, token, settings)


def _page(records: list[dict], has_more: bool, next_offset: int, token: Token, settings: TaskSettings) -> Page:
    states = listed_states("video", records, token, settings)
    fp = token.fingerprint(fingerprint_key(settings.secret_key))
    cursor = encode_cursor(settings.secret_key, fp, next_offset) if has_more else None
    return Page(states=states, has_more=has_more, cursor=cursor)


def _after_video(tokens: Sequence[Token], client: JimengClient, settings: TaskSettings, limit: int,
                 after: str) -> Page:
    """The videos listed after the video `after` names (one of the request's accounts)."""
    fp_key = fingerprint_key(settings.secret_key)
    task = TaskId.decode(after, settings.secret_key)
    owner = next((t for t in tokens if task and task.kind == "video" and task.id_type == "history"
                  and t.fingerprint(fp_key) == task.token_fp and t.region.code == task.region), None)
    if owner is None:
        raise errors.InvalidRequest("after must be the last_id of an earlier page of this list (or a listed "
                                    "video's id), made for one of your tokens", param="after")
    offset = 0
    for _ in range(SCAN_PAGES):
        records, has_more, next_offset = client.history_list(owner, count=SCAN_PAGE_SIZE, offset=offset)
        ids = [str(r.get("history_record_id") or "") for r in records]
        if task.upstream_id in ids:
            rest = records[ids.index(task.upstream_id) + 1:]
            if len(rest) > limit:
                # The page goes on past this answer: the next request pages by its last video's id.
                page = _page(rest[:limit], False, 0, owner, settings)
                return Page(states=page.states, has_more=True, cursor=page.states[-1].task_id if page.states else None)
            return _page(rest, has_more, next_offset, owner, settings)
        if not has_more:
            break
        offset = next_offset
    raise errors.InvalidRequest("the video named by after is not among the account's recent videos",
                                param="after")
