"""JSON log lines with the message id and correlation id (SPEC §10), and the trace id when traced.

Log calls pass structured fields in `extra={"message_id": ..., ...}`; only ids,
amounts and states go there — never names, emails or card data. Each line is
scrubbed again (`scrub`) for what other code puts in exception texts.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from opentelemetry import trace

from core.correlation import get_correlation_id

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "correlation_id"}
# A customer's status-page link is a bearer secret. Django logs the path of a failing request
# (and the request object itself), so every line is scrubbed of anything shaped like one.
_STATUS_TOKEN_PATH = re.compile(r"/r/[A-Za-z0-9_-]{16,}")
# Our own log calls never pass a customer's address or name, but text we do not write reaches the
# logs too: exception messages (an email service's "address rejected: …", Celery's task failure
# lines) and PostgreSQL's error details, which repeat the values of the row or key they refused.
# Lines are scrubbed of those as a last line of defence (the JSON text: newlines appear as \n).
_SCRUBS = [
    (_STATUS_TOKEN_PATH, "/r/[token]"),
    # A store credit code is spendable (credits/codes.py keeps only its digest): the API's paths name it
    # (Django logs a refused lookup's path; tracing records it), in whatever form the checkout typed it.
    (re.compile(r"(/v1/credits/)[^/?#\s\"]+"), r"\1[code]"),
    (re.compile(r"\bSC-?[A-Za-z0-9]{4}-?[A-Za-z0-9]{4}-?[A-Za-z0-9]{4}\b", re.IGNORECASE), "[store-credit-code]"),
    (re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), "[email]"),
    (re.compile(r"(Failing row contains )\(.*?\)(?=\.?(?:\\n|\"|$))"), r"\1([redacted])"),
    (
        re.compile(r"(Key \([^)]*\))=\(.*?\)(?= already exists| is not present| conflicts| is still referenced)"),
        r"\1=([redacted])",
    ),
]


class CorrelationIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "correlation_id", None):
            record.correlation_id = get_correlation_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", ""),
        }
        # The span the line was logged in (core.telemetry): a log search lands on the trace, and back.
        # Absent with tracing off (the API's no-op span never records).
        span = trace.get_current_span()
        if span.is_recording():
            context = span.get_span_context()
            entry["trace_id"] = trace.format_trace_id(context.trace_id)
            entry["span_id"] = trace.format_span_id(context.span_id)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return scrub(json.dumps(entry, default=str, ensure_ascii=False))


def scrub(text: str) -> str:
    """`text` without status-link tokens, email addresses, or the row and key values of database errors."""
    for pattern, replacement in _SCRUBS:
        text = pattern.sub(replacement, text)
    return text
