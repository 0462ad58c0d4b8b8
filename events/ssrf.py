"""Where we may send a merchant's webhooks: public https addresses only (no SSRF).

A webhook URL is chosen by whoever holds a `webhooks:write` key, and our
workers then POST to it from inside our network. So a URL must be `https://`
and every address its host resolves to must be public: loopback, private,
link-local (the cloud metadata service at 169.254.169.254), shared, reserved
and multicast addresses are refused — at registration, and again at each
delivery, where the request is then sent to the very address that was checked
(events.delivery), so a name re-pointed in between (DNS rebinding) cannot
reach inside. Redirects are never followed.

IPv6 ranges that carry an IPv4 address inside them are refused outright,
whatever that address is: NAT64 (64:ff9b::/96, 64:ff9b:1::/48), 6to4
(2002::/16), Teredo (2001::/32), IPv4-compatible (::/96) and IPv4-translated
(::ffff:0:0:0/96). A gateway on the way (NAT64 with DNS64 in IPv6-only and
dual-stack cloud subnets) turns `64:ff9b::a9fe:a9fe` into 169.254.169.254;
refusing the whole range is simpler and safer than decoding each scheme, and
no receiver needs them (a public host has a native address). Python calls
some non-public ranges global: 192.0.0.0/24 (IETF protocol assignments) and
fec0::/10 (deprecated site-local) are refused by name too. IPv4-mapped
addresses (::ffff:a.b.c.d) are unwrapped and judged as the IPv4 address.

A URL is ASCII: an internationalised host is IDNA-encoded (what the request
and the TLS handshake name), and any other non-ASCII character (in the path
or the query) is refused with a message to percent-encode it. An explicit
port 0 is refused.

`WEBHOOKS_ALLOW_PRIVATE_URLS=1` lifts the address rule and allows `http://`,
for tests and the demo, whose receivers listen on loopback; `check --deploy`
warns when it is on in production.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

MAX_URL_LENGTH = 2048
# Never a webhook target, whatever Python's `is_global` says (module docstring).
_REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "64:ff9b::/96",  # NAT64, well-known prefix (RFC 6052)
        "64:ff9b:1::/48",  # NAT64, local-use prefix (RFC 8215)
        "2002::/16",  # 6to4 (RFC 3056)
        "2001::/32",  # Teredo (RFC 4380)
        "::/96",  # IPv4-compatible (deprecated, RFC 4291), with :: and ::1
        "::ffff:0:0:0/96",  # IPv4-translated (RFC 2765)
        "fec0::/10",  # site-local (deprecated, RFC 3879)
        "192.0.0.0/24",  # IETF protocol assignments (RFC 6890)
    )
)


class UnsafeURL(ValueError):
    """The URL may not receive webhooks; the message says why, in words for the merchant."""


@dataclass(frozen=True)
class Target:
    """Where one request goes: the URL's parts, and the checked addresses to connect to."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[str, ...]


def private_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_URLS", False))


def is_public_address(address: str) -> bool:
    """A global unicast address: what the public internet can route to, and nothing that embeds another."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip.version == network.version and ip in network for network in _REFUSED_NETWORKS):
        return False
    return ip.is_global and not ip.is_multicast


def _ascii_host(host: str) -> str:
    """The host as it goes on the wire: an internationalised name IDNA-encoded; raises UnsafeURL."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise UnsafeURL("The webhook URL's host is not a valid domain name.") from None


def url_parse(url: str) -> Target:
    """Check the URL's form (no resolution); raises UnsafeURL."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"A webhook URL is an https:// URL of at most {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise UnsafeURL("A webhook URL has no spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise UnsafeURL("The webhook URL is not a valid URL.") from None
    allowed_schemes = ("https", "http") if private_allowed() else ("https",)
    if parts.scheme not in allowed_schemes:
        raise UnsafeURL("A webhook URL must start with https://.")
    if not host:
        raise UnsafeURL("The webhook URL has no host.")
    host = _ascii_host(host)
    if port == 0:
        raise UnsafeURL("A webhook URL's port is 1 to 65535.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("A webhook URL must not carry a user name or password.")
    if parts.fragment:
        raise UnsafeURL("A webhook URL has no #fragment.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not path.isascii():
        raise UnsafeURL("A webhook URL's path and query are ASCII: percent-encode other characters (%C3%A9).")
    return Target(
        scheme=parts.scheme,
        host=host,
        port=port or (443 if parts.scheme == "https" else 80),
        path=path,
        addresses=(),
    )


def url_resolve(url: str) -> Target:
    """Check the URL and resolve its host: every address must be public (unless private ones are allowed).

    Raises UnsafeURL when the form is wrong, the host does not resolve, or
    any address it resolves to is not public — a name with one private
    address among public ones is refused too.
    """
    target = url_parse(url)
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeURL(f"The host {target.host} does not resolve.") from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeURL(f"The host {target.host} does not resolve.")
    if not private_allowed():
        refused = [address for address in addresses if not is_public_address(address)]
        if refused:
            raise UnsafeURL(
                f"The host {target.host} resolves to {refused[0]}, which is not a public address: "
                "webhooks go to the public internet only."
            )
    return Target(scheme=target.scheme, host=target.host, port=target.port, path=target.path, addresses=addresses)
