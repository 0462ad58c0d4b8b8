"""Attack: an IPv6 literal that carries a private IPv4 address inside it, registered and then called.

The fix (events.ssrf): those ranges are refused outright, whatever the IPv4 inside — and so are
Teredo, 192.0.0.0/24 and site-local fec0::/10, which Python 3.11 calls global too; an explicit
port 0; and a URL that is not ASCII (an IDN host is IDNA-encoded, a path must be percent-encoded).

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
from events.ssrf import UnsafeURL, is_public_address, url_parse, url_resolve

EMBEDDED_PRIVATE = [
    "https://[64:ff9b::a9fe:a9fe]/latest/meta-data/",  # NAT64 of 169.254.169.254
    "https://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
    "https://[64:ff9b::7f00:1]/hook",  # NAT64 of 127.0.0.1
    "https://[64:ff9b:1::a00:1]/hook",  # local-use NAT64 prefix (RFC 8215)
    "https://[2002:a9fe:a9fe::1]/hook",  # 6to4 of 169.254.169.254
    "https://[2002:a00:1::1]/hook",  # 6to4 of 10.0.0.1
    "https://[::a9fe:a9fe]/hook",  # IPv4-compatible 169.254.169.254
    "https://[::7f00:1]/hook",  # IPv4-compatible 127.0.0.1
    "https://[2001:0:a00:1::1]/hook",  # Teredo (its server field here 10.0.0.1)
    "https://[::ffff:0:a00:1]/hook",  # IPv4-translated 10.0.0.1
    "https://[64:ff9b::808:808]/hook",  # NAT64 of a public address: the whole range is refused
    "https://192.0.0.8/hook",  # IETF protocol assignments, "global" to Python 3.11
    "https://[fec0::1]/hook",  # deprecated site-local, "global" to Python 3.11
    "https://93.184.215.14:0/hook",  # port 0: refused, not sent to 443
    "https://93.184.215.14/hooks/caf\u00e9",  # a non-ASCII path: percent-encode it
    "https://93.184.215.14/hooks?name=\u00e9",  # a non-ASCII query
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


def test_public_addresses_and_a_percent_encoded_path_are_still_accepted():
    assert is_public_address("93.184.215.14")
    assert is_public_address("2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    assert is_public_address("::ffff:93.184.215.14")  # IPv4-mapped: judged as the IPv4 address
    target = url_resolve("https://93.184.215.14:8443/hooks/caf%C3%A9?a=1")
    assert (target.port, target.path, target.addresses) == (8443, "/hooks/caf%C3%A9?a=1", ("93.184.215.14",))


def test_an_internationalised_host_is_idna_encoded_for_the_request_and_tls():
    assert url_parse("https://b\u00fccher.example/hooks").host == "xn--bcher-kva.example"
    assert url_parse("https://\u043f\u0440\u0438\u043c\u0435\u0440.example/").host == "xn--e1afmkfd.example"
