"""User media (URLs, data URIs, uploaded files) turned into `Media` values ready to upload.

No Flask here: views hand over plain values. Every source is copied in chunks into a
`SpooledTemporaryFile` (memory up to SPOOL_MEMORY_BYTES, disk beyond) with a size cap and a running
CRC32, so a 100 MB video never sits in one bytes object. The type comes from the bytes, not from
what the client claims; a claim that contradicts the bytes is refused (415).

URL fetching is the SSRF-sensitive part: it goes through `app.net.outbound` (public addresses only,
every redirect hop re-checked), as result downloads do; its refusals are 400s naming the field.
"""
from __future__ import annotations

import base64
import binascii
import logging
import posixpath
import re
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import requests
import urllib3

from app.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from app.jimeng.assets import Media
from app.media import probe
from app.net import outbound, sessions
from app.net.addresses import is_public_address  # noqa: F401  (public API)

log = logging.getLogger(__name__)

SPOOL_MEMORY_BYTES = 4 * 1024 * 1024   # larger media goes to a temporary file
CHUNK_BYTES = 64 * 1024
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0                     # longest silence between two reads; the whole fetch has its own deadline
# Declared types that say nothing about the content: defer to the sniffed type.
GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/binary"})

_FETCH_HEADERS = {
    "User-Agent": "Mozilla/5.0 (compatible; jimeng-api media fetcher)",
    "Accept": "image/png,image/jpeg,image/webp,video/mp4,video/quicktime;q=0.9,*/*;q=0.5",
    "Accept-Encoding": "identity",      # media is compressed already; also no decompression bombs
}


# -- public API ---------------------------------------------------------------------------------

def fetch_url(url: str, *, field: str, max_bytes: int, timeout: float, allow_loopback: bool = False) -> Media:
    """Download a public http(s) URL into a Media, following at most MAX_REDIRECTS checked redirects.

    `timeout` is the deadline for the whole fetch (redirects and body included). `allow_loopback`
    (tests and the sandbox demo) lets loopback addresses through; private, link-local and
    metadata addresses stay refused.
    """
    deadline = time.monotonic() + timeout

    def hop_timeouts() -> tuple[float, float]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise outbound.TimedOut("timed out")
        return min(CONNECT_TIMEOUT, remaining), min(READ_TIMEOUT, remaining)

    session = _fetch_session(allow_loopback)
    try:
        try:
            resp = outbound.open_public(session, url, allow_loopback=allow_loopback, timeouts=hop_timeouts)
        except outbound.BadURL as exc:
            raise InvalidRequest(f"{field} {exc.reason}", param=field) from None
        except outbound.TimedOut:
            raise _timed_out(field, timeout) from None
        except outbound.OutboundError as exc:
            raise InvalidRequest(f"could not fetch {field}: {exc.reason}", param=field) from None
        current = resp.url
        with resp:
            if not 200 <= resp.status_code < 300:
                raise InvalidRequest(f"could not fetch {field}: the server answered HTTP {resp.status_code}",
                                     param=field)
            declared_length = _content_length(resp)
            if declared_length is not None and declared_length > max_bytes:
                raise _too_large(field, max_bytes)
            file, size, crc = _spool(_body_chunks(resp, field=field, deadline=deadline, timeout=timeout),
                                     field=field, max_bytes=max_bytes)
        declared = resp.headers.get("Content-Type", "")
    finally:
        session.close()
    log.debug("fetched %s from %s: %d bytes", field, urlsplit(current).hostname, size)
    return _to_media(file, size, crc, declared_type=declared, field=field, filename=_url_filename(current))


def from_data_uri(uri: str, *, field: str, max_bytes: int) -> Media:
    """Decode a `data:<type>;base64,<data>` URI into a Media."""
    if uri[:5].lower() != "data:":
        raise InvalidRequest(f"{field} is not a data URI", param=field)
    header, comma, payload = uri[5:].partition(",")
    if not comma:
        raise InvalidRequest(f"{field} is not a valid data URI (no comma before the data)", param=field)
    params = header.split(";")
    if "base64" not in (p.strip().lower() for p in params[1:]):
        raise InvalidRequest(f"{field}: only base64 data URIs are accepted", param=field)
    if re.search(r"\s", payload):
        payload = re.sub(r"\s+", "", payload)
    if "-" in payload or "_" in payload:           # URL-safe alphabet
        payload = payload.translate(str.maketrans("-_", "+/"))
    # Size check before decoding anything: 4 characters carry 3 bytes.
    decoded_size = len(payload) * 3 // 4 - (len(payload) - len(payload.rstrip("=")))
    if decoded_size > max_bytes:
        raise _too_large(field, max_bytes)
    if len(payload) % 4:
        payload += "=" * (-len(payload) % 4)       # unpadded base64 is common
    file, size, crc = _spool(_base64_chunks(payload, field), field=field, max_bytes=max_bytes)
    return _to_media(file, size, crc, declared_type=params[0], field=field, filename="")


def from_stream(stream: BinaryIO, *, filename: str, declared_type: str | None, field: str,
                max_bytes: int) -> Media:
    """Copy an uploaded file (a multipart part's stream) into a Media."""
    def chunks() -> Iterator[bytes]:
        while chunk := stream.read(CHUNK_BYTES):
            yield chunk

    file, size, crc = _spool(chunks(), field=field, max_bytes=max_bytes)
    return _to_media(file, size, crc, declared_type=declared_type or "", field=field, filename=filename or "")


def expect_kind(media: Media, kind: str) -> Media:
    """The media itself when it is of `kind` ("image" or "video"); a 400 naming its field otherwise."""
    if media.kind != kind:
        raise InvalidRequest(f"{media.field or 'this field'} must be an {kind}, got a {media.kind} "
                             f"({media.content_type})", param=media.field or None)
    return media


# -- the fetch session -----------------------------------------------------------------------------

def _fetch_session(allow_loopback: bool) -> requests.Session:
    return sessions.public_session(allow_loopback, headers=_FETCH_HEADERS)


def _body_chunks(resp: requests.Response, *, field: str, deadline: float, timeout: float) -> Iterator[bytes]:
    """The body in chunks; `read1` returns whatever arrived, so the deadline is checked often even
    against a server that drips bytes slowly enough to dodge the read timeout."""
    raw = resp.raw
    while True:
        if time.monotonic() > deadline:
            raise _timed_out(field, timeout)
        try:
            chunk = raw.read1(CHUNK_BYTES, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError:
            raise _timed_out(field, timeout) from None
        except (urllib3.exceptions.HTTPError, OSError):
            raise InvalidRequest(f"could not fetch {field}: the connection broke while reading",
                                 param=field) from None
        if not chunk:
            return
        yield chunk


def _content_length(resp: requests.Response) -> int | None:
    try:
        return int(resp.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _url_filename(url: str) -> str:
    return posixpath.basename(unquote(urlsplit(url).path))[:255]


# -- decoding and spooling ----------------------------------------------------------------------

def _base64_chunks(payload: str, field: str) -> Iterator[bytes]:
    step = CHUNK_BYTES // 3 * 4            # a multiple of 4 characters: chunks decode independently
    for start in range(0, len(payload), step):
        try:
            yield base64.b64decode(payload[start:start + step], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"{field}: the data URI's base64 is invalid", param=field) from None


def _spool(chunks: Iterable[bytes], *, field: str, max_bytes: int) -> tuple[BinaryIO, int, str]:
    """Copy chunks into a spooled temporary file: (file at position 0, size, CRC32 as 8 hex digits)."""
    file = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES, mode="w+b")
    size, crc = 0, 0
    try:
        for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(field, max_bytes)
            crc = zlib.crc32(chunk, crc)
            file.write(chunk)
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return file, size, f"{crc:08x}"


def _to_media(file: BinaryIO, size: int, crc: str, *, declared_type: str, field: str, filename: str) -> Media:
    """Sniff, check the declared type against the bytes, probe; closes the file on refusal."""
    try:
        if size == 0:
            raise InvalidRequest(f"{field} is empty", param=field)
        sniffed = probe.sniff(file.read(probe.SNIFF_BYTES))
        if sniffed is None:
            raise UnsupportedMediaType(f"{field} is not a supported image or video "
                                       f"(send {probe.SUPPORTED_LABELS})", param=field)
        if not sniffed.supported:
            raise UnsupportedMediaType(f"{field} is {sniffed.label}, which Jimeng does not accept "
                                       f"(send {probe.SUPPORTED_LABELS})", param=field)
        _check_declared(declared_type, sniffed, field)
        media = Media(kind=sniffed.kind, content_type=sniffed.content_type, filename=filename, size=size,
                      crc32=crc, file=file, field=field)
        if sniffed.kind == "image":
            media.width, media.height = probe.image_size(file, sniffed.content_type)
        else:
            duration = probe.video_duration(file, size)
            if duration is None:
                # Unknown would pass any length limit (a fragmented 20 s MP4 used to read as 0 s).
                raise InvalidRequest(f"{field}: the video's length cannot be read from its header; send an "
                                     f"MP4 or MOV with a readable duration", param=field)
            media.duration_s = duration
        file.seek(0)
        return media
    except BaseException:
        file.close()
        raise


def _check_declared(declared_type: str, sniffed: probe.Sniffed, field: str) -> None:
    """A declared type of another kind (image vs video, or text/html) contradicts the bytes.

    Within one kind the sniffed type wins: servers and browsers often label a WebP or PNG as
    image/jpeg, and Jimeng is told the real type by the upload anyway.
    """
    declared = declared_type.split(";", 1)[0].strip().lower()
    if declared in GENERIC_TYPES:
        return
    if declared.startswith("image/"):
        kind = "image"
    elif declared.startswith("video/") or declared == "application/mp4":
        kind = "video"
    else:
        kind = "other"
    if kind != sniffed.kind:
        raise UnsupportedMediaType(f"{field} is declared as {declared[:100]} but its content is "
                                   f"{sniffed.label} ({sniffed.content_type})", param=field)


# -- errors -------------------------------------------------------------------------------------

def _too_large(field: str, max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"{field} is larger than the {max_bytes / (1024 * 1024):.3g} MB limit", param=field)


def _timed_out(field: str, timeout: float) -> InvalidRequest:
    return InvalidRequest(f"timed out fetching {field} (limit {timeout:g} s)", param=field)
