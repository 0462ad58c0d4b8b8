"""The channel page at /_sim/ (placeholder until the Block Kit renderer lands)."""

from __future__ import annotations

import html

from devtools.slack_sim.state import Workspace

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def render(ws: Workspace, *, channel: str | None, user: str | None, notice: str | None) -> str:
    count = sum(len(m) for m in ws.messages.values())
    return f"<!doctype html><title>Slack simulator</title><p>{html.escape(str(count))} messages</p>"
