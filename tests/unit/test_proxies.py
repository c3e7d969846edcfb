"""check_proxy: the one check for every proxy a token or an account names (issue 8, hole 1)."""
from __future__ import annotations

import pytest

from app.errors import ProxyNotAllowed
from app.net.proxies import ProxyAllowlist, check_proxy


def resolver(*addresses):
    return lambda host: list(addresses)


def test_an_empty_allowlist_refuses_every_proxy():
    with pytest.raises(ProxyNotAllowed) as exc:
        check_proxy("http://93.184.215.14:8080", ProxyAllowlist.parse(""))
    assert exc.value.http_status == 400 and exc.value.code == "proxy_not_allowed"


def test_a_listed_host_resolving_to_public_addresses_is_pinned_to_the_checked_one():
    allow = ProxyAllowlist.parse("proxy.example")
    url = check_proxy("http://user:pw@Proxy.Example:3128", allow, resolve=resolver("93.184.215.14"))
    assert url == "http://user:pw@93.184.215.14:3128"


def test_https_proxies_keep_their_name_for_the_certificate_check():
    allow = ProxyAllowlist.parse("proxy.example")
    url = check_proxy("https://proxy.example:443", allow, resolve=resolver("93.184.215.14"))
    assert url == "https://proxy.example:443"


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.5", "169.254.169.254", "::7f00:1", "fec0::1"])
def test_a_listed_host_resolving_inward_is_refused_without_naming_the_address(address):
    with pytest.raises(ProxyNotAllowed, match="non-public") as exc:
        check_proxy("socks5://proxy.example:1080", ProxyAllowlist.parse("proxy.example"), resolve=resolver(address))
    assert address not in exc.value.message


def test_one_inward_address_among_public_ones_is_enough_to_refuse():
    with pytest.raises(ProxyNotAllowed):
        check_proxy("http://proxy.example:1", ProxyAllowlist.parse("proxy.example"),
                    resolve=resolver("93.184.215.14", "10.0.0.1"))


def test_a_cidr_entry_allows_private_addresses_explicitly():
    allow = ProxyAllowlist.parse("10.0.0.0/8, proxy.internal")
    assert check_proxy("http://10.1.2.3:3128", allow) == "http://10.1.2.3:3128"
    assert check_proxy("http://proxy.internal:3128", allow, resolve=resolver("10.9.9.9")) == "http://10.9.9.9:3128"


def test_hosts_not_listed_are_refused_before_resolving():
    def must_not_resolve(host):
        raise AssertionError("resolved an unlisted host")

    with pytest.raises(ProxyNotAllowed, match="not in TOKEN_PROXY_ALLOWLIST"):
        check_proxy("http://elsewhere.example:1", ProxyAllowlist.parse("proxy.example"), resolve=must_not_resolve)
    with pytest.raises(ProxyNotAllowed, match="not in TOKEN_PROXY_ALLOWLIST"):
        check_proxy("http://10.0.0.1:1", ProxyAllowlist.parse("192.168.0.0/16"), resolve=must_not_resolve)


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "bad host!", "http://x"])
def test_bad_allowlist_entries_are_named(entry):
    with pytest.raises(ValueError, match="TOKEN_PROXY_ALLOWLIST"):
        ProxyAllowlist.parse(entry)
