"""Every `requests.Session` of the service, made here: one recipe, so none forgets a rule.

Each reads nothing from the environment (a proxy variable would route every account alike, and
would make an address check meaningless; `.netrc` would add credentials), keeps no cookies (a
shared Session would carry one Jimeng account's cookies to another, or one media host's to the
next), and retries only what its caller chose.

- `upstream_session`: hosts we chose (Jimeng, its storage hosts), pooled for load.
- `public_session`: hosts someone else chose (a caller's media URL, a result URL in Jimeng's
  answer, a webhook target): public addresses only, pinned to the address checked, no redirects
  followed on their own (app/net/outbound.py follows them one checked hop at a time).
"""
from __future__ import annotations

import http.cookiejar

import requests
from requests.adapters import HTTPAdapter
from requests_hardened import Config as HardenedConfig
from requests_hardened import HTTPSession
from requests_hardened.ip_filter import InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter
from urllib3.util.retry import Retry

from app.net.addresses import is_public_address, literal_ip
from app.net.deadline import DeadlineAdapter

# What a public session raises for an address it will not connect to (at connect time, after DNS).
REFUSED_ADDRESS = InvalidIPAddress


def no_cookie_jar() -> http.cookiejar.CookieJar:
    """A jar that stores nothing: a shared Session must not carry one account's cookies to another."""
    jar = requests.cookies.RequestsCookieJar()
    jar.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return jar


def _ruled(session: requests.Session, *, http: HTTPAdapter, https: HTTPAdapter, proxy: str = "",
           headers: dict | None = None) -> requests.Session:
    session.trust_env = False
    session.cookies = no_cookie_jar()
    session.proxies = {"http": proxy, "https": proxy} if proxy else {}
    session.mount("http://", http)
    session.mount("https://", https)
    session.headers.update(headers or {})
    return session


def upstream_session(retry: Retry, *, pool_connections: int, pool_maxsize: int, proxy: str = "") -> requests.Session:
    """A pooled Session to hosts we chose. `pool_maxsize` is the connections kept per host (the calls
    a worker can have in flight, so none is opened and thrown away under load); `retry` is the
    caller's policy; `proxy` the operator's (UPSTREAM_PROXY) or none. Its connections can be cut by
    a `Watch` (app/net/deadline.py)."""
    adapter = DeadlineAdapter(pool_connections=pool_connections, pool_maxsize=pool_maxsize, max_retries=retry)
    return _ruled(requests.Session(), http=adapter, https=adapter, proxy=proxy)


class _PublicAdapter(IPFilterAdapter, DeadlineAdapter):
    """requests-hardened pins the connection to the address it checked; we hold that address to our
    stricter rule too (the library lets odd IPv6 forms such as `::7f00:1` through). Its connections
    can be cut by a `Watch`, for callers that need a total deadline."""

    def __init__(self, *, is_https_proto: bool, allow_loopback: bool, pool_maxsize: int) -> None:
        super().__init__(is_https_proto=is_https_proto, allow_loopback=allow_loopback)
        self._pool_maxsize = pool_maxsize
        self.init_poolmanager(self._pool_connections, pool_maxsize, block=self._pool_block)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        ip = literal_ip(host_params["host"])
        if ip is None or not is_public_address(ip, allow_loopback=self._allow_loopback):
            raise InvalidIPAddress(ip)
        return host_params, pool_kwargs


def public_session(allow_loopback: bool, *, headers: dict | None = None, pool_maxsize: int = 10,
                   timeout: tuple[float, float] = (5.0, 10.0), user_agent: str | None = None) -> requests.Session:
    """A Session that connects to public addresses only (loopback too when `allow_loopback`: tests
    and the sandbox) and never follows a redirect on its own; `timeout` is its default (connect, read)."""
    session = HTTPSession(HardenedConfig(ip_filter_enable=True, ip_filter_allow_loopback_ips=allow_loopback,
                                         never_redirect=True, default_timeout=timeout,
                                         user_agent_override=user_agent))

    def adapter(https: bool) -> _PublicAdapter:
        return _PublicAdapter(is_https_proto=https, allow_loopback=allow_loopback, pool_maxsize=pool_maxsize)
    return _ruled(session, http=adapter(False), https=adapter(True), headers=headers)
