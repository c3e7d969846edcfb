"""Task ids: everything needed to find a task again, protected by an HMAC tag (contract section 3).

One task, one id: the id a submit answers is the id every query, batch, list and OpenAI route shows.
So an id holds only what never changes after submit and what a history record gives back by itself:
the kind, the account's region and fingerprint, the record id (or the submit id when the generate
answer was lost), Jimeng's own `created_time` in whole seconds, and the count of results asked for.

Layout before base64url (big-endian), version 2: version(1) kind<<4|region(1) submitted_s(4)
count<<4|id_type(1) id_len(1) upstream_id(id_len) token_fp(8) tag(16). `count` is how many results
were asked for (images: 1-8; 0 = not recorded), so a task can be called complete without remembering
anything between requests. The tag is 128 bits of HMAC-SHA256 under a key derived from SECRET_KEY;
a tampered or foreign id does not decode.

Version 1 (issued before ids became stable) also held Jimeng's queue and generation forecast at
submit (eta_s(2), after submitted_s), which the history list cannot know, and the service's own clock
as the submit time. Those ids still decode, forecast included, and keep working; none is made again.
"""
from __future__ import annotations

import base64
import functools
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass

from app.jimeng.regions import REGION_CODES

VERSION = 2
LEGACY_VERSION = 1
KINDS = ("video", "image")
ID_TYPES = ("history", "submit")
MAX_LENGTH = 128
MAX_COUNT = 15
_TAG_BYTES = 16
_FP_BYTES = 8
_HEAD = struct.Struct(">BBIBB")
_LEGACY_HEAD = struct.Struct(">BBIHBB")
_HEADS = {VERSION: _HEAD, LEGACY_VERSION: _LEGACY_HEAD}


@functools.lru_cache(maxsize=64)
def derive_key(secret: str, purpose: str) -> bytes:
    """One sub-key per purpose, so the tag key and the fingerprint key never coincide (a pure
    function of its arguments, derived once per secret and purpose)."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class TaskId:
    kind: str                # "video" | "image"
    region: str              # region code, e.g. "cn"
    upstream_id: str         # Jimeng history_record_id (or submit_id when id_type is "submit")
    submitted_at: int        # unix seconds: the record's created_time (version 1: the service's clock)
    token_fp: bytes          # keyed fingerprint of the submitting token
    id_type: str = "history"
    count: int = 0           # results asked for (0..15; 0 = not recorded)
    legacy_eta_seconds: int = 0   # version 1 only: Jimeng's forecast at submit; never encoded again

    def encode(self, secret: str) -> str:
        raw_id = self.upstream_id.encode("ascii")
        if not raw_id:
            raise ValueError("a task id needs an upstream id")
        if self.legacy_eta_seconds:
            raise ValueError("task ids no longer carry a forecast (it is not in the history record)")
        head = _HEAD.pack(VERSION, (KINDS.index(self.kind) << 4) | REGION_CODES.index(self.region),
                          self.submitted_at & 0xFFFFFFFF,
                          (min(max(self.count, 0), MAX_COUNT) << 4) | ID_TYPES.index(self.id_type), len(raw_id))
        body = head + raw_id + self.token_fp
        tag = hmac.new(derive_key(secret, "task-id-tag"), body, hashlib.sha256).digest()[:_TAG_BYTES]
        text = base64.urlsafe_b64encode(body + tag).rstrip(b"=").decode("ascii")
        if len(text) > MAX_LENGTH:
            raise ValueError("upstream id too long for a task id")
        return text

    @classmethod
    def decode(cls, text: str, secret: str) -> TaskId | None:
        """The task id (either version), or None when it is malformed, tampered or made under another key."""
        if not text or len(text) > MAX_LENGTH:
            return None
        try:
            blob = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(blob) < _HEAD.size + _FP_BYTES + _TAG_BYTES:
            return None
        body, tag = blob[:-_TAG_BYTES], blob[-_TAG_BYTES:]
        expected = hmac.new(derive_key(secret, "task-id-tag"), body, hashlib.sha256).digest()[:_TAG_BYTES]
        if not hmac.compare_digest(tag, expected):
            return None
        head = _HEADS.get(body[0])
        if head is None or len(body) < head.size + _FP_BYTES:
            return None
        if head is _LEGACY_HEAD:
            _, kind_region, submitted, eta, count_type, id_len = head.unpack_from(body)
        else:
            (_, kind_region, submitted, count_type, id_len), eta = head.unpack_from(body), 0
        kind, region = kind_region >> 4, kind_region & 0x0F
        count, id_type = count_type >> 4, count_type & 0x0F
        if (kind >= len(KINDS) or region >= len(REGION_CODES) or id_type >= len(ID_TYPES)
                or len(body) != head.size + id_len + _FP_BYTES):
            return None
        if base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii") != text:
            return None  # one task, one spelling: padding, junk or loose trailing bits are refused
        upstream = body[head.size:head.size + id_len].decode("ascii", errors="replace")
        return cls(kind=KINDS[kind], region=REGION_CODES[region], upstream_id=upstream,
                   submitted_at=submitted, token_fp=body[-_FP_BYTES:], id_type=ID_TYPES[id_type], count=count,
                   legacy_eta_seconds=eta)


def short_form(text: str) -> str:
    """How logs name a task id: its last 12 characters (the tag, different for every task)."""
    return text[-12:]


def is_raw_history_id(text: str) -> bool:
    """Older clients send Jimeng's own numeric history record id."""
    return text.isascii() and text.isdigit() and 0 < len(text) <= 32
