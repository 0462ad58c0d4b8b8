"""gunicorn's sync worker, answering the oversized requests it refuses itself with the API's error JSON.

A request line over `limit_request_line` (gunicorn.conf.py) or headers over
`limit_request_fields`/`limit_request_field_size` never reach Django: gunicorn
answers them with an HTML page of its own. Merchant systems and providers are
promised the error JSON for every answer (docs/api.md), so these two refusals
are written in that shape: 414 `ERR.VALIDATION.uri.too_long` and 431
`ERR.VALIDATION.headers.too_large`. The path is not known at that point (the
line was not read whole), so every path gets the JSON: no browser page of
ours has a URL anywhere near the limit.

Other malformed requests (a broken request line, an invalid header, bad
chunking) keep gunicorn's own answer: they are not HTTP any client of ours
sends.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from gunicorn import util
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.workers.sync import SyncWorker


def refusal_code(exc: BaseException) -> str | None:
    """The error code of a refusal this worker answers in JSON, or None for gunicorn's own answer."""
    from core.errors import ERR_HEADERS_TOO_LARGE, ERR_URI_TOO_LONG

    if isinstance(exc, LimitRequestLine):
        return ERR_URI_TOO_LONG
    if isinstance(exc, LimitRequestHeaders):
        return ERR_HEADERS_TOO_LARGE
    return None


def refusal_bytes(code: str) -> bytes:
    """The whole HTTP answer: status line, headers and the error JSON, with a fresh correlation id."""
    from core.correlation import new_correlation_id, reset_correlation_id, set_correlation_id
    from core.errors import error_body

    correlation_id = new_correlation_id()
    token = set_correlation_id(correlation_id)
    try:
        status, body = error_body(code)
    finally:
        reset_correlation_id(token)
    payload = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
        f"X-Correlation-Id: {correlation_id}\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + payload


class JsonErrorSyncWorker(SyncWorker):
    """The default (sync) worker; selected by `worker_class` in gunicorn.conf.py."""

    def handle_error(self, req, client, addr, exc) -> None:
        code = refusal_code(exc)
        if code is None:
            super().handle_error(req, client, addr, exc)
            return
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        try:
            util.write_nonblock(client, refusal_bytes(code))
        except Exception:  # noqa: BLE001 - as gunicorn's own handler: a client gone is nothing to report
            self.log.debug("Failed to send error message.")
        # The sync worker then closes gracefully (half-close, drain what is still coming): the client
        # reads this answer rather than a connection reset.
