"""Attack: an IPv6 literal that carries a private IPv4 address inside it, registered and then called.

`events.ssrf.is_public_address` unwraps IPv4-mapped addresses (::ffff:a.b.c.d) only. Python 3.11's
`is_global` calls the NAT64 prefix (64:ff9b::/96, RFC 6052), the local-use NAT64 prefix
(64:ff9b:1::/48, RFC 8215), 6to4 (2002::/16, RFC 3056) and the deprecated IPv4-compatible form
(::a.b.c.d) "global". On a network with NAT64 (IPv6-only and dual-stack cloud subnets with DNS64,
the AWS NAT gateway among them), `https://[64:ff9b::a9fe:a9fe]/` is 169.254.169.254 and
`https://[64:ff9b::a00:1]/` is 10.0.0.1: the gateway translates them to the IPv4 address inside.
"""

from __future__ import annotations

import pytest

from core.errors import ERR_VALIDATION, DomainError
from events.services.endpoints import endpoint_url_check
from events.ssrf import UnsafeURL, url_resolve

EMBEDDED_PRIVATE = [
    "https://[64:ff9b::a9fe:a9fe]/latest/meta-data/",  # NAT64 of 169.254.169.254
    "https://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
    "https://[64:ff9b::7f00:1]/hook",  # NAT64 of 127.0.0.1
    "https://[64:ff9b:1::a00:1]/hook",  # local-use NAT64 prefix (RFC 8215)
    "https://[2002:a9fe:a9fe::1]/hook",  # 6to4 of 169.254.169.254
    "https://[2002:a00:1::1]/hook",  # 6to4 of 10.0.0.1
    "https://[::a9fe:a9fe]/hook",  # IPv4-compatible 169.254.169.254
    "https://[::7f00:1]/hook",  # IPv4-compatible 127.0.0.1
]


@pytest.fixture(autouse=True)
def _private_off(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False


@pytest.mark.parametrize("url", EMBEDDED_PRIVATE)
def test_an_ipv6_literal_embedding_a_private_ipv4_is_refused_at_registration(url):
    with pytest.raises(DomainError) as refused:
        endpoint_url_check(url)
    assert refused.value.code == ERR_VALIDATION


@pytest.mark.parametrize("url", EMBEDDED_PRIVATE)
def test_an_ipv6_literal_embedding_a_private_ipv4_is_refused_at_delivery(url):
    # events.transport.webhook_post sends to what url_resolve returns.
    with pytest.raises(UnsafeURL):
        url_resolve(url)
