"""A JSON body read as it streams, with its base64 data URIs decoded straight to temporary files.

`json.loads` of a body carrying a 100 MB data URI holds the body, the parsed string and then the
decoded bytes at once: about four times the body. Here the body is read in chunks; every string
value that starts `data:<type>;base64,` is decoded on the fly into a spooled temporary file (as
multipart uploads are) and replaced in the JSON text by a placeholder, so only the small rest of
the document is ever parsed in memory.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

SPOOL_MEMORY_BYTES = 4 * 1024 * 1024
CHUNK_BYTES = 64 * 1024
PREFIX_BYTES = 256                   # a data URI's `data:<type>;base64,` header must fit in this
_DATA_URI_HEAD = re.compile(rb'data:([^,"]{0,200}?);base64,', re.IGNORECASE)
_STRING_STOP = re.compile(rb'["\\]')
_B64_DROP = b" \t\r\n"
_URLSAFE = bytes.maketrans(b"-_", b"+/")
_SIMPLE_ESCAPES = {ord("/"): b"/", ord("n"): b"", ord("r"): b"", ord("t"): b""}


class SkeletonTooLarge(Exception):
    """The JSON outside its data URIs is larger than allowed."""


@dataclass
class SpooledDataUri:
    """One data URI taken out of the body: its declared type and decoded bytes (or why not)."""

    declared_type: str
    file: BinaryIO = field(default_factory=lambda: tempfile.SpooledTemporaryFile(SPOOL_MEMORY_BYTES, "w+b"))
    size: int = 0
    invalid: bool = False
    too_large: bool = False
    used: bool = False


class _Decoder:
    """base64 text in, decoded bytes into the entry's file; whitespace and the URL-safe alphabet allowed."""

    def __init__(self, entry: SpooledDataUri, max_bytes: int) -> None:
        self.entry, self.max_bytes, self.pending = entry, max_bytes, bytearray()

    def feed(self, text: bytes) -> None:
        if self.entry.invalid or self.entry.too_large:
            return
        self.pending += text.translate(_URLSAFE, _B64_DROP)
        usable = len(self.pending) // 4 * 4
        if usable >= 64 * 1024:
            self._decode(bytes(self.pending[:usable]))
            del self.pending[:usable]

    def finish(self) -> None:
        if not (self.entry.invalid or self.entry.too_large):
            tail = bytes(self.pending)
            if len(tail) % 4:
                tail += b"=" * (-len(tail) % 4)     # unpadded base64 is common
            if tail:
                self._decode(tail)
        self.pending = bytearray()
        self.entry.file.seek(0)

    def _decode(self, text: bytes) -> None:
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            self.entry.invalid = True
            return
        self.entry.size += len(data)
        if self.entry.size > self.max_bytes:
            self.entry.too_large = True
            return
        self.entry.file.write(data)


def _found(index: int, buf: bytes) -> int:
    return index if index >= 0 else len(buf)


def parse(chunks: Iterator[bytes], *, max_skeleton: int, max_media_bytes: int) -> tuple[object, dict[str, SpooledDataUri]]:
    """(the parsed JSON with placeholders, placeholder -> SpooledDataUri).

    ValueError for JSON that does not parse (RecursionError included), SkeletonTooLarge when the
    document without its data URIs exceeds `max_skeleton` bytes.
    """
    skeleton = bytearray()
    spooled: dict[str, SpooledDataUri] = {}
    state = "outside"          # outside | prefix | string | data
    prefix = bytearray()
    decoder: _Decoder | None = None
    carry = b""
    walked = lowered = None     # the fast path's buffer, in lower case, and where its next \ and data: are
    escape_at = data_at = -1

    def emit(data: bytes) -> None:
        skeleton.extend(data)
        if len(skeleton) > max_skeleton:
            raise SkeletonTooLarge()

    for chunk in chunks:
        buf = carry + chunk
        carry = b""
        pos = 0
        while pos < len(buf):
            if state == "outside":
                # Fast path: up to the next escape or `data:`, every quote opens or closes a string and
                # none of those strings is a data URI, so the text goes to the skeleton as it is. A body of
                # 80,000 short strings is one pass instead of 80,000 turns of this loop.
                if walked is not buf:
                    walked, lowered, escape_at, data_at = buf, buf.lower(), -1, -1
                if escape_at < pos:     # each search starts past the last: one pass over the buffer
                    escape_at = _found(buf.find(b"\\", pos), buf)
                if data_at < pos:
                    data_at = _found(lowered.find(b"data:", pos), buf)
                cut = min(escape_at, data_at)
                last = buf.rfind(b'"', pos, cut)
                if last > pos:
                    emit(buf[pos:last + 1])
                    opened = buf.count(b'"', pos, last + 1) % 2 == 1
                    pos, state, prefix = last + 1, ("prefix" if opened else "outside"), bytearray()
                    continue
                quote = buf.find(b'"', pos)
                if quote < 0:
                    emit(buf[pos:])
                    pos = len(buf)
                else:
                    emit(buf[pos:quote + 1])
                    pos, state, prefix = quote + 1, "prefix", bytearray()
            elif state == "string":
                stop = _STRING_STOP.search(buf, pos)
                end = stop.start() if stop else len(buf)
                emit(buf[pos:end])
                pos = end
                if stop is None:
                    continue
                if buf[pos:pos + 1] == b'"':
                    emit(b'"')
                    pos, state = pos + 1, "outside"
                elif pos + 1 >= len(buf):
                    carry, pos = buf[pos:], len(buf)
                else:
                    emit(buf[pos:pos + 2])
                    pos += 2
            elif state == "prefix":
                limit = min(len(buf), pos + max(PREFIX_BYTES - len(prefix), 0))
                stop = _STRING_STOP.search(buf, pos, limit)
                end = stop.start() if stop else limit
                prefix += buf[pos:end]
                pos = end
                quote = stop is not None and buf[pos:pos + 1] == b'"'
                if stop is not None and not quote:       # an escape: keep it whole in the prefix
                    if pos + 1 >= len(buf):
                        carry, pos = buf[pos:], len(buf)
                    else:
                        prefix += buf[pos:pos + 2]
                        pos += 2
                    continue
                head = _DATA_URI_HEAD.match(prefix)
                if head is not None:
                    media_type = head.group(1).replace(b"\\/", b"/").decode("latin-1")
                    key = f"data:{media_type};base64,spooled-{secrets.token_hex(16)}"
                    entry = SpooledDataUri(declared_type=media_type.split(";")[0])
                    spooled[key] = entry
                    emit(key.encode("ascii"))
                    decoder = _Decoder(entry, max_media_bytes)
                    buf, pos, state = bytes(prefix[head.end():]) + buf[pos:], 0, "data"
                elif quote:
                    emit(bytes(prefix) + b'"')
                    pos, state = pos + 1, "outside"
                elif len(prefix) >= PREFIX_BYTES or not b"data:".startswith(bytes(prefix[:5]).lower()):
                    emit(bytes(prefix))
                    state = "string"
            else:  # data
                stop = _STRING_STOP.search(buf, pos)
                end = stop.start() if stop else len(buf)
                decoder.feed(buf[pos:end])
                pos = end
                if stop is None:
                    continue
                if buf[pos:pos + 1] == b'"':
                    decoder.finish()
                    emit(b'"')
                    pos, state, decoder = pos + 1, "outside", None
                    continue
                # An escape inside base64: `\/` is common; \uXXXX may spell any character.
                if pos + 1 >= len(buf) or (buf[pos + 1:pos + 2] == b"u" and pos + 6 > len(buf)):
                    carry, pos = buf[pos:], len(buf)
                    continue
                kind = buf[pos + 1]
                if kind == ord("u"):
                    try:
                        char = chr(int(buf[pos + 2:pos + 6], 16))
                        decoder.feed(char.encode("ascii"))
                    except (ValueError, UnicodeEncodeError):
                        decoder.entry.invalid = True
                    pos += 6
                elif kind in _SIMPLE_ESCAPES:
                    decoder.feed(_SIMPLE_ESCAPES[kind])
                    pos += 2
                else:
                    decoder.entry.invalid = True
                    pos += 2
    if carry or state != "outside":
        emit(carry)
        if state == "prefix":
            emit(bytes(prefix))
    try:
        data = json.loads(bytes(skeleton))
    except RecursionError:
        raise ValueError("too deeply nested") from None
    return data, spooled
