"""Outbound HTTP to an address someone else chose: a caller's media URL, a result URL in Jimeng's answer.

One mechanism for both. Our own checks judge what the URL alone shows (scheme, credentials, port,
literal addresses) so callers can say clearly what is wrong; requests-hardened then resolves each
host, refuses non-public addresses and connects to the very IP it checked (no DNS rebinding between
check and connect). Redirects are followed here, one hop at a time, so every hop gets both checks:
a result URL that redirects to 127.0.0.1 is refused like a media URL that does.

No Flask and no error codes: callers turn these exceptions into their own answers (a media URL is
the caller's 400, a result URL is Jimeng's 502).
"""
from __future__ import annotations

import socket
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

from app.net.addresses import is_public_address, literal_ip
from app.net.sessions import REFUSED_ADDRESS

MAX_REDIRECTS = 3
MAX_URL_LENGTH = 4096
# Default web ports only. The address filter stops internal targets, but not a service of our own
# host reachable on its public IP (Redis, admin panels on odd ports), nor use of this service as a
# port scanner of third parties (errors differ for open and closed ports). Media hosts and CDNs
# serve on 80/443. Loopback targets, allowed only in tests and the sandbox, may use any port.
ALLOWED_PORTS = frozenset({80, 443})


class OutboundError(Exception):
    """Why a fetch did not happen or did not finish; `reason` reads after the thing's name."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadURL(OutboundError):
    """The URL itself is not one we fetch ("is not a valid URL", "must use the default port ...")."""


class Refused(OutboundError):
    """The URL or a redirect leads where we do not connect (a non-public address, a redirect loop).
    Never names the address a host resolved to: that would map internal DNS for an attacker."""


class Unreachable(OutboundError):
    """No answer could be had (DNS, connection, TLS)."""


class TimedOut(OutboundError):
    """The deadline passed."""


_REDIRECT_NOT_PUBLIC = "a redirect's address is not public"


def checked_url(url: str, *, allow_loopback: bool) -> str:
    """The URL without its fragment, or BadURL / Refused saying what is wrong with it (without echoing it)."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise BadURL(f"is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadURL("is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise BadURL("must be an http or https URL")
    if "@" in parts.netloc:
        raise BadURL("must not contain credentials (user:password@)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise BadURL("is not a valid URL (no host)")
    ip = literal_ip(host)
    loopback_host = (ip.is_loopback if ip is not None else host == "localhost" or host.endswith(".localhost"))
    if (loopback_host and not allow_loopback) or (
            ip is not None and not is_public_address(ip, allow_loopback=allow_loopback)):
        raise Refused("its address is not public")
    if port is not None and port not in ALLOWED_PORTS and not (allow_loopback and loopback_host):
        raise BadURL("must use the default port (80 or 443)")
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path or "/", parts.query, ""))


def open_public(session: requests.Session, url: str, *, allow_loopback: bool,
                timeouts: Callable[[], tuple[float, float]], headers: dict | None = None) -> requests.Response:
    """GET `url` streamed, following at most MAX_REDIRECTS redirects, each hop checked; the first
    answer that is no redirect (the caller closes it). `timeouts()` gives each hop its (connect,
    read) socket timeouts and raises TimedOut when no time is left."""
    current = checked_url(url, allow_loopback=allow_loopback)
    for hop in range(MAX_REDIRECTS + 1):
        resp = _get(session, current, timeouts(), headers, redirected=hop > 0)
        if not resp.is_redirect:
            return resp
        location = resp.headers.get("Location", "")
        resp.close()
        if hop == MAX_REDIRECTS:
            raise Refused(f"more than {MAX_REDIRECTS} redirects")
        try:
            current = checked_url(urljoin(current, location), allow_loopback=allow_loopback)
        except Refused:
            raise Refused(_REDIRECT_NOT_PUBLIC) from None
        except BadURL as exc:
            raise BadURL(f"redirects to a URL that {exc.reason}") from None
    raise AssertionError("unreachable")


def _get(session: requests.Session, url: str, timeout: tuple[float, float], headers: dict | None, *,
         redirected: bool) -> requests.Response:
    try:
        return session.get(url, headers=headers, stream=True, allow_redirects=False, timeout=timeout)
    except REFUSED_ADDRESS:
        raise Refused(_REDIRECT_NOT_PUBLIC if redirected else "its address is not public") from None
    except requests.Timeout:
        raise TimedOut("timed out") from None
    except requests.exceptions.SSLError:
        raise Unreachable("the TLS handshake or certificate check failed") from None
    except requests.ConnectionError as exc:
        if isinstance(exc.__cause__, socket.gaierror):
            raise Unreachable("the host name does not resolve") from None
        raise Unreachable("cannot connect to the host") from None
    except requests.RequestException as exc:
        raise Unreachable(type(exc).__name__) from None
