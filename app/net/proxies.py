"""Token proxies (`http://host:port@sessionid`): only targets the operator allowed, checked like media URLs.

A proxy makes this service open a connection wherever the caller says, with the session cookie.
So proxies are off unless `TOKEN_PROXY_ALLOWLIST` names hosts or CIDRs; an allowed host must still
resolve to public addresses (a non-public address passes only when a listed CIDR covers it), and
the checked address is pinned into the proxy URL so DNS cannot change between check and connect.
Refusals happen before any connection, so no answer tells an open port from a closed one.
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from app.net.addresses import IPAddress, is_public_address, literal_ip
from app.errors import ProxyNotAllowed

Resolver = Callable[[str], list[str]]


@dataclass(frozen=True)
class ProxyAllowlist:
    """Host names (exact, case-insensitive) and networks a token's proxy may point at."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> ProxyAllowlist:
        """From `TOKEN_PROXY_ALLOWLIST`: comma or space separated; ValueError names a bad entry."""
        hosts, networks = set(), []
        for entry in text.replace(",", " ").split():
            if "/" in entry or literal_ip(entry) is not None:
                try:
                    networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                except ValueError:
                    raise ValueError(f"TOKEN_PROXY_ALLOWLIST: {entry!r} is not a valid address or CIDR") from None
            elif entry.replace("-", "").replace(".", "").isalnum():
                hosts.add(entry.lower().rstrip("."))
            else:
                raise ValueError(f"TOKEN_PROXY_ALLOWLIST: {entry!r} is not a host name, address or CIDR")
        return cls(frozenset(hosts), tuple(networks))

    @property
    def enabled(self) -> bool:
        return bool(self.hosts or self.networks)

    def covers(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.networks)


def _resolve(host: str) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]


def check_proxy(url: str, allowlist: ProxyAllowlist, *, param: str = "Authorization",
                resolve: Resolver = _resolve) -> str:
    """The proxy URL to connect through, its host pinned to the checked address; ProxyNotAllowed (400) else.

    The one check for every proxy a token or an account names.
    """
    if not allowlist.enabled:
        raise ProxyNotAllowed(param=param)
    try:
        parsed = parse_url(url)
    except LocationParseError:
        raise ProxyNotAllowed("the token's proxy is not a valid URL", param=param) from None
    host = (parsed.host or "").strip("[]").rstrip(".").lower()
    if not host:
        raise ProxyNotAllowed("the token's proxy is not a valid URL", param=param)
    literal = literal_ip(host)
    if literal is not None:
        addresses = [literal]
        if not allowlist.covers(literal):
            raise ProxyNotAllowed("the token's proxy is not in TOKEN_PROXY_ALLOWLIST", param=param)
    else:
        if host not in allowlist.hosts:
            raise ProxyNotAllowed("the token's proxy is not in TOKEN_PROXY_ALLOWLIST", param=param)
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host)]
        except (OSError, UnicodeError, ValueError):
            addresses = []
        if not addresses:
            raise ProxyNotAllowed("the token's proxy host name does not resolve", param=param)
    for ip in addresses:
        if not (is_public_address(ip) or allowlist.covers(ip)):
            # Never say which address: that would map internal DNS for the caller.
            raise ProxyNotAllowed("the token's proxy resolves to a non-public address that "
                                  "TOKEN_PROXY_ALLOWLIST does not list", param=param)
    if parsed.scheme == "https":
        return url  # TLS to the proxy checks its name: keep it (the address was checked above)
    pinned = f"[{addresses[0]}]" if addresses[0].version == 6 else str(addresses[0])
    return parsed._replace(host=pinned).url
