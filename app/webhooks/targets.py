"""Where an event may be sent: the rules of media URLs (app/media/intake.py), for a URL we POST to.

At submit the URL is judged by itself and by what its host resolves to now (a clear 400 before the
task is paid for). At delivery, requests-hardened resolves again, refuses a non-public address and
connects to the very address it checked (DNS may have changed since submit). Redirects are never
followed: a 3xx is an unsuccessful attempt.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from app.net.addresses import is_public_address, literal_ip
from app.errors import InvalidRequest

MAX_URL_LENGTH = 2048
# Media hosts' rule: default web ports only, so the service cannot be pointed at a non-web service
# of a public host, nor used to scan ports. Loopback targets (tests, the demo) may use any port.
ALLOWED_PORTS = frozenset({80, 443})


@dataclass(frozen=True)
class Target:
    url: str
    host: str


def check_target(url: object, *, https_only: bool, allow_loopback: bool, param: str = "webhook_url",
                 resolve=socket.getaddrinfo) -> Target:
    """The URL, normalised, or a 400 saying what is wrong (never echoing the URL)."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequest(f"{param} must be an https URL", param=param)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        # urlsplit would drop tabs and line breaks silently: the URL kept would not be the one given.
        raise InvalidRequest(f"{param} must not contain control characters (CR, LF, NUL, tab...)", param=param)
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(f"{param} is longer than {MAX_URL_LENGTH} characters", param=param)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidRequest(f"{param} is not a valid URL", param=param) from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and not https_only):
        raise InvalidRequest(f"{param} must be an https URL" if https_only else
                             f"{param} must be an http or https URL", param=param)
    if "@" in parts.netloc:
        raise InvalidRequest(f"{param} must not contain credentials (user:password@)", param=param)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidRequest(f"{param} is not a valid URL (no host)", param=param)
    ip = literal_ip(host)
    loopback = ip.is_loopback if ip is not None else host == "localhost" or host.endswith(".localhost")
    if port is not None and port not in ALLOWED_PORTS and not (allow_loopback and loopback):
        raise InvalidRequest(f"{param} must use the default port (443, or 80 for http)", param=param)
    addresses = [ip] if ip is not None else _resolved(host, port or (443 if scheme == "https" else 80),
                                                        param, resolve)
    if (loopback and not allow_loopback) or not all(
            is_public_address(a, allow_loopback=allow_loopback) for a in addresses):
        raise InvalidRequest(f"{param} must point to a public address (not loopback, private, link-local "
                             "or a metadata service)", param=param)
    normal = urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))
    return Target(url=normal, host=host)


def _resolved(host: str, port: int, param: str, resolve) -> list:
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise InvalidRequest(f"{param}: the host name does not resolve", param=param) from None
    found = [literal_ip(info[4][0]) for info in infos]
    if not found or any(a is None for a in found):
        raise InvalidRequest(f"{param}: the host name does not resolve", param=param)
    return found
