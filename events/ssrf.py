"""Where we may send a merchant's webhooks: public https addresses only (no SSRF).

A webhook URL is chosen by whoever holds a `webhooks:write` key, and our
workers then POST to it from inside our network. So a URL must be `https://`
and every address its host resolves to must be public: loopback, private,
link-local (the cloud metadata service at 169.254.169.254), shared, reserved
and multicast addresses are refused — at registration, and again at each
delivery, where the request is then sent to the very address that was checked
(events.delivery), so a name re-pointed in between (DNS rebinding) cannot
reach inside. Redirects are never followed.

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
    """A global unicast address: what the public internet can route to."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


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
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("A webhook URL must not carry a user name or password.")
    if parts.fragment:
        raise UnsafeURL("A webhook URL has no #fragment.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
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
