"""The address of the client that sent a request, for limits counted per address.

By default only the TCP peer (`REMOTE_ADDR`) is believed: any header such as
`X-Forwarded-For` can be written by the client itself, and believing it would
let an attacker give every guess a fresh address. Behind a reverse proxy the
peer is the proxy, so `CLIENT_IP_HEADER` names the header the proxy sets
(`X-Real-IP`, or `X-Forwarded-For` when the proxy appends the peer to it).
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _meta_key(header: str) -> str:
    """`X-Real-IP` or `HTTP_X_REAL_IP` → the `request.META` key `HTTP_X_REAL_IP`."""
    key = header.strip().upper().replace("-", "_")
    return key if key.startswith("HTTP_") or key == "REMOTE_ADDR" else f"HTTP_{key}"


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: from the trusted header when one is configured and valid, else the peer.

    A header holding a list (`X-Forwarded-For`) gives its last entry: the one
    our proxy appended; entries before it came from the client and prove nothing.
    """
    header = getattr(settings, "CLIENT_IP_HEADER", "")
    if header:
        value = request.META.get(_meta_key(header), "")
        candidate = _valid(value.split(",")[-1]) if value else None
        if candidate:
            return candidate
    return _valid(request.META.get("REMOTE_ADDR", "")) or None
