"""Store credit codes never reach a span or a log line (issue 16 tracing; an attack first).

Store credit codes are spendable secrets: the database keeps only a keyed digest and a sealed copy
(credits/codes.py: "A copy of the database alone gives neither"). The merchant's checkout looks a
code up with `GET /v1/credits/{code}` and spends it with `POST /v1/credits/{code}/redeem`; the
Django instrumentation puts the path into `http.target`/`http.url`, and core.telemetry's scrub
only knows the status-page token and the portal link. So every code typed at a checkout is
exported in clear to the tracing backend (OTLP collector, Tempo/Jaeger storage, whoever reads it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.db import connections
from django.test import Client
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from core import telemetry


@pytest.fixture
def spans(transactional_db) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.install_for_tests(provider)
    connections.close_all()
    try:
        yield exporter
    finally:
        telemetry.uninstall()
        connections.close_all()


CODE = "SC-7KQM-4XWZ-9PRT"


@pytest.mark.parametrize("path", [f"/v1/credits/{CODE}", f"/v1/credits/{CODE}/redeem"])
def test_a_store_credit_code_never_reaches_a_span(spans, path):
    Client().get(path)

    (server,) = [s for s in spans.get_finished_spans() if s.kind.name == "SERVER"]
    exported = json.dumps(dict(server.attributes)) + server.name
    assert "7KQM-4XWZ-9PRT" not in exported, exported


@pytest.mark.django_db
def test_a_store_credit_code_never_reaches_a_log_line(caplog):
    """The same codes in the JSON log: Django logs every 4xx with its path ("Not Found: /v1/credits/SC-…"),
    and core.logging.scrub (the last line of defence) knows no store credit code."""
    import logging

    from core.logging import JsonFormatter

    caplog.set_level(logging.WARNING, logger="django.request")
    Client().get(f"/v1/credits/{CODE}")

    formatted = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert caplog.records, "Django logged nothing for the refused lookup"
    assert "7KQM-4XWZ-9PRT" not in formatted, formatted
