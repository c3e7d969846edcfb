"""Which IP addresses an outbound connection may reach: media URLs and token proxies share this rule.

Only globally routable unicast is public. IPv6 is held to the global unicast block (2000::/3) so the
deprecated and odd forms (IPv4-compatible `::7f00:1`, IPv4-translated `::ffff:0:7f00:1`, site-local
`fec0::/10`) cannot smuggle a loopback, private or metadata address past the check; IPv6 forms that
carry an IPv4 address (mapped, 6to4, NAT64) are judged by that IPv4 address.
"""
from __future__ import annotations

import ipaddress
import re
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# Anycast relays and shared space that `is_global` does not exclude on every Python version.
_EXTRA_BLOCKED = (ipaddress.ip_network("192.88.99.0/24"), ipaddress.ip_network("100.64.0.0/10"),
                  ipaddress.ip_network("192.0.0.0/24"))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form stands for (mapped, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(ip: IPAddress, *, allow_loopback: bool = False) -> bool:
    """Globally routable unicast, or loopback when `allow_loopback` (tests and the sandbox).

    Refuses private, loopback, link-local (169.254.169.254 and other metadata services), shared
    (CGNAT), reserved, multicast, unspecified, site-local and every IPv6 form outside 2000::/3.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            return is_public_address(inner, allow_loopback=allow_loopback)
        if ip.is_loopback:
            return allow_loopback
        return ip in _GLOBAL_UNICAST_V6 and ip.is_global and not ip.is_multicast
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not ip.is_multicast and not any(ip in net for net in _EXTRA_BLOCKED)


def literal_ip(host: str) -> IPAddress | None:
    """The address a host written as an IP literal stands for, including the short IPv4 forms the
    system resolver accepts (`127.1`, `0x7f.0.0.1`, `2130706433`)."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fA-FxX.]+", host) and re.match(r"[0-9]", host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None
