"""User media (URLs, data URIs, uploaded files) turned into `Media` values ready to upload.

No Flask here: views hand over plain values. Every source is copied in chunks into a
`SpooledTemporaryFile` (memory up to SPOOL_MEMORY_BYTES, disk beyond) with a size cap and a running
CRC32, so a 100 MB video never sits in one bytes object. The type comes from the bytes, not from
what the client claims; a claim that contradicts the bytes is refused (415).

URL fetching is the SSRF-sensitive part. Our own checks give clear 400s for what can be judged
from the URL alone (scheme, credentials, port, literal addresses); requests-hardened then resolves
each host, refuses non-public addresses and connects to the very IP it checked (no DNS rebinding
between check and connect). Redirects are followed here, one hop at a time, so every hop gets both.
"""
from __future__ import annotations

import base64
import binascii
import logging
import posixpath
import re
import socket
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import requests
import urllib3
from requests_hardened import Config as HardenedConfig
from requests_hardened import HTTPSession
from requests_hardened.ip_filter import InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter

from app import media_probe
from app.addresses import is_public_address, literal_ip  # noqa: F401  (is_public_address: public API)
from app.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from app.jimeng.assets import Media

log = logging.getLogger(__name__)

SPOOL_MEMORY_BYTES = 4 * 1024 * 1024   # larger media goes to a temporary file
CHUNK_BYTES = 64 * 1024
MAX_REDIRECTS = 3
MAX_URL_LENGTH = 4096
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0                     # longest silence between two reads; the whole fetch has its own deadline
# Default web ports only. The address filter stops internal targets, but not a service of our own
# host reachable on its public IP (Redis, admin panels on odd ports), nor use of this service as a
# port scanner of third parties (errors differ for open and closed ports). Media hosts and CDNs
# serve on 80/443. Loopback targets, allowed only in tests and the sandbox, may use any port.
ALLOWED_PORTS = frozenset({80, 443})
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
    current = _checked_url(url, field=field, allow_loopback=allow_loopback)
    session = _fetch_session(allow_loopback)
    try:
        for hop in range(MAX_REDIRECTS + 1):
            resp = _get(session, current, field=field, deadline=deadline, timeout=timeout)
            if not resp.is_redirect:
                break
            location = resp.headers.get("Location", "")
            resp.close()
            if hop == MAX_REDIRECTS:
                raise InvalidRequest(f"could not fetch {field}: more than {MAX_REDIRECTS} redirects", param=field)
            current = _checked_url(urljoin(current, location), field=field, allow_loopback=allow_loopback)
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


# -- URL checks and the hardened session ----------------------------------------------------------

def _checked_url(url: str, *, field: str, allow_loopback: bool) -> str:
    """The URL without its fragment, or a 400 saying what is wrong with it (without echoing it)."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(f"{field} is longer than {MAX_URL_LENGTH} characters", param=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidRequest(f"{field} is not a valid URL", param=field) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidRequest(f"{field} must be an http or https URL", param=field)
    if "@" in parts.netloc:
        raise InvalidRequest(f"{field} must not contain credentials (user:password@)", param=field)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidRequest(f"{field} is not a valid URL (no host)", param=field)
    ip = literal_ip(host)
    loopback_host = (ip.is_loopback if ip is not None else host == "localhost" or host.endswith(".localhost"))
    if (loopback_host and not allow_loopback) or (
            ip is not None and not is_public_address(ip, allow_loopback=allow_loopback)):
        raise _not_public(field)
    if port is not None and port not in ALLOWED_PORTS and not (allow_loopback and loopback_host):
        raise InvalidRequest(f"{field} must use the default port (80 or 443)", param=field)
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path or "/", parts.query, ""))


class _StrictIPFilterAdapter(IPFilterAdapter):
    """requests-hardened pins the connection to the address it checked; we hold that address to our
    stricter rule too (the library lets odd IPv6 forms such as `::7f00:1` through)."""

    def __init__(self, *, is_https_proto: bool, allow_loopback: bool) -> None:
        super().__init__(is_https_proto=is_https_proto, allow_loopback=allow_loopback)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        ip = literal_ip(host_params["host"])
        if ip is None or not is_public_address(ip, allow_loopback=self._allow_loopback):
            raise InvalidIPAddress(ip)
        return host_params, pool_kwargs


def _fetch_session(allow_loopback: bool) -> requests.Session:
    session = HTTPSession(HardenedConfig(
        ip_filter_enable=True,
        ip_filter_allow_loopback_ips=allow_loopback,
        never_redirect=True,            # we follow redirects ourselves, re-checking each hop
        default_timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
    ))
    session.mount("http://", _StrictIPFilterAdapter(is_https_proto=False, allow_loopback=allow_loopback))
    session.mount("https://", _StrictIPFilterAdapter(is_https_proto=True, allow_loopback=allow_loopback))
    # No proxies or .netrc from the environment: a proxy would make the IP check meaningless.
    session.trust_env = False
    session.max_redirects = MAX_REDIRECTS
    session.headers.update(_FETCH_HEADERS)
    return session


def _get(session: requests.Session, url: str, *, field: str, deadline: float, timeout: float) -> requests.Response:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _timed_out(field, timeout)
    try:
        return session.get(url, stream=True, allow_redirects=False,
                           timeout=(min(CONNECT_TIMEOUT, remaining), min(READ_TIMEOUT, remaining)))
    except InvalidIPAddress:
        raise _not_public(field) from None
    except requests.Timeout:
        raise _timed_out(field, timeout) from None
    except requests.exceptions.SSLError:
        raise InvalidRequest(f"could not fetch {field}: the TLS handshake or certificate check failed",
                             param=field) from None
    except requests.ConnectionError as exc:
        if isinstance(exc.__cause__, socket.gaierror):
            reason = "the host name does not resolve"
        else:
            reason = "cannot connect to the host"
        raise InvalidRequest(f"could not fetch {field}: {reason}", param=field) from None
    except requests.RequestException as exc:
        raise InvalidRequest(f"could not fetch {field}: {type(exc).__name__}", param=field) from None


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
        sniffed = media_probe.sniff(file.read(media_probe.SNIFF_BYTES))
        if sniffed is None:
            raise UnsupportedMediaType(f"{field} is not a supported image or video "
                                       f"(send {media_probe.SUPPORTED_LABELS})", param=field)
        if not sniffed.supported:
            raise UnsupportedMediaType(f"{field} is {sniffed.label}, which Jimeng does not accept "
                                       f"(send {media_probe.SUPPORTED_LABELS})", param=field)
        _check_declared(declared_type, sniffed, field)
        media = Media(kind=sniffed.kind, content_type=sniffed.content_type, filename=filename, size=size,
                      crc32=crc, file=file, field=field)
        if sniffed.kind == "image":
            media.width, media.height = media_probe.image_size(file, sniffed.content_type)
        else:
            duration = media_probe.video_duration(file, size)
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


def _check_declared(declared_type: str, sniffed: media_probe.Sniffed, field: str) -> None:
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


def _not_public(field: str) -> InvalidRequest:
    # Never say which address a name resolved to: that would map internal DNS for an attacker.
    return InvalidRequest(f"could not fetch {field}: its address is not public", param=field)


def _timed_out(field: str, timeout: float) -> InvalidRequest:
    return InvalidRequest(f"timed out fetching {field} (limit {timeout:g} s)", param=field)
