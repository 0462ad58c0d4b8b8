"""Issue 16 journey 21: one trace follows a refund from the API call to the provider; the webhook links it.

Everything runs for real in this process, reporting to an in-memory span
exporter: the API create through Django's test client (the server span), the
delivery task in a real Celery worker thread consuming this session's
provider queue on the real Redis broker (the run span), its call to a real
simulator process (the requests client span), and the simulator's settling
webhook, which it POSTs to a live server thread of this process (the
webhook's server span, a trace of its own that links the refund's). The
instrumentations are removed afterwards, so other tests run untraced.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connections
from django.test import Client
from django.test.testcases import LiveServerThread, _StaticFilesHandler
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from config.celery import app as celery_app
from core import telemetry
from refunds.enums import Reason, RefundState
from refunds.models import OutboxMessage, Refund
from refunds.services.outbox import outbox_sweep
from tests.refunds.factories import api_key, captured_order
from tests.support.live import SIM_WEBHOOK_SECRET, delete_queues, point_provider_at, stack_simulator, wait_for


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(spans, transactional_db) -> Iterator[TracerProvider]:
    """This process instrumented (not its global provider), reporting to memory; undone afterwards."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    telemetry.install_for_tests(provider)
    # Connections opened before psycopg was instrumented would never report their queries.
    connections.close_all()
    try:
        yield provider
    finally:
        telemetry.uninstall()
        connections.close_all()
        provider.shutdown()


@pytest.fixture
def webhook_server(provider) -> Iterator[str]:
    """A live server thread whose handler is built now, with the tracing middleware in it."""
    server = LiveServerThread("127.0.0.1", _StaticFilesHandler, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.terminate()


@pytest.fixture
def simulator(tmp_path: Path, webhook_server: str, settings):
    """A simulator that settles `pi_sim_async_*` refunds a second later and tells our webhook."""
    sim = stack_simulator(tmp_path, webhook_url=f"{webhook_server}/webhooks/payments").start()
    point_provider_at(settings, sim, timeout=5.0)
    settings.PROVIDER_WEBHOOK_SECRET = SIM_WEBHOOK_SECRET
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def worker(provider, simulator) -> Iterator[None]:
    """A real Celery worker (solo pool, a thread of this process) on this session's provider queue."""
    with start_worker(
        celery_app,
        pool="solo",
        perform_ping_check=False,
        queues=[settings.CELERY_PROVIDER_QUEUE],
        shutdown_timeout=30,
    ):
        yield
    # What the request queued elsewhere (emails, merchant events) has no worker here.
    delete_queues(settings.TEST_NAMESPACE)


def _create_refund(*, amount_minor: int = 2500) -> Refund:
    order = captured_order(amount_minor=10000, provider_payment_id=f"pi_sim_async_{uuid.uuid4().hex[:16]}")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key('merchant')}")
    response = client.post(
        f"/v1/orders/{order.order_id}/refunds",
        {"amount_minor": amount_minor, "currency": "USD", "reason": Reason.NOT_RECEIVED},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=f"j21-{uuid.uuid4().hex}",
    )
    assert response.status_code == 202, response.content
    return Refund.objects.get(public_id=response.json()["refund_id"])


def _completed(refund: Refund) -> bool:
    refund.refresh_from_db()
    return refund.state == RefundState.COMPLETED


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    """The span's parent chain up to its root; fails if a parent is missing (the chain is broken)."""
    chain = []
    while span.parent is not None:
        assert span.parent.span_id in by_id, f"the parent of {span.name} was not recorded"
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


def _server_spans(exporter: InMemorySpanExporter, path: str) -> list[ReadableSpan]:
    def path_of(span: ReadableSpan) -> str:
        url = span.attributes.get("http.url") or span.attributes.get("url.full") or ""
        return urlsplit(str(url)).path

    return [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER and path_of(s) == path]


def test_one_trace_follows_the_refund_from_the_api_to_the_provider_and_the_webhook_links_it(
    provider, spans, simulator, worker
):
    refund = _create_refund()
    assert refund.state in (RefundState.APPROVED, RefundState.SUBMITTING, RefundState.PROVIDER_PENDING)
    wait_for(lambda: _completed(refund), timeout=60, message="the settling webhook to complete the refund")
    wait_for(lambda: _server_spans(spans, "/webhooks/payments"), timeout=10, message="the webhook's span")

    finished = spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    (create,) = _server_spans(spans, f"/v1/orders/{refund.order.order_id}/refunds")
    assert create.parent is None  # the merchant's call starts the trace
    trace_id = create.context.trace_id
    in_trace = [s for s in finished if s.context.trace_id == trace_id]

    # The provider call: a requests client span to the simulator, whose parent chain runs through the
    # delivery task's run span back to the create's server span.
    (provider_call,) = [
        s
        for s in in_trace
        if s.kind == SpanKind.CLIENT and str(s.attributes.get("http.url", "")).startswith(simulator.url)
    ]
    chain = _ancestors(provider_call, by_id)
    names = [s.name for s in chain]
    assert "run/refunds.deliver_outbox" in names
    assert "refunds.outbox.deliver" in names
    assert "apply_async/refunds.deliver_outbox" in names
    assert chain[-1] is create
    run = next(s for s in chain if s.name == "run/refunds.deliver_outbox")
    assert run.kind == SpanKind.CONSUMER
    # The database work of both processes' halves is in it too.
    assert any(s.attributes.get("db.system") == "postgresql" and s.parent for s in in_trace)
    assert any(s.attributes.get("db.system") == "postgresql" and run in _ancestors(s, by_id) for s in in_trace), (
        "the worker's queries are in the refund's trace"
    )

    # The outbox row stored the create's context.
    message = OutboxMessage.objects.get(refund=refund)
    assert telemetry.trace_id_of(message.trace_context) == trace_id
    assert message.trace_context["traceparent"].split("-")[1] == f"{trace_id:032x}"

    # The settling webhook: its own trace (the provider started it), linked to the refund's.
    webhooks = _server_spans(spans, "/webhooks/payments")
    assert webhooks
    for webhook in webhooks:
        assert webhook.context.trace_id != trace_id
        assert webhook.parent is None
        assert trace_id in {link.context.trace_id for link in webhook.links}


def test_a_delivery_the_sweeper_queued_joins_the_refunds_trace(provider, spans, simulator, settings):
    """No worker when the refund is created; its task is lost with the broker's queue; the sweeper queues another."""
    refund = _create_refund()
    delete_queues(settings.TEST_NAMESPACE)  # the broker lost the task queued on commit
    OutboxMessage.objects.filter(refund=refund).update(queued_until=None)
    with provider.get_tracer("beat").start_as_current_span("sweep") as sweep:
        assert outbox_sweep(limit=10) == [OutboxMessage.objects.get(refund=refund).pk]

    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, queues=[settings.CELERY_PROVIDER_QUEUE], shutdown_timeout=30
    ):
        wait_for(lambda: _completed(refund), timeout=60, message="the swept delivery and the webhook")
    delete_queues(settings.TEST_NAMESPACE)

    trace_id = telemetry.trace_id_of(OutboxMessage.objects.get(refund=refund).trace_context)
    finished = spans.get_finished_spans()
    (deliver,) = [s for s in finished if s.name == "refunds.outbox.deliver"]
    run = next(s for s in finished if s.name == "run/refunds.deliver_outbox")
    # The task ran in the sweeper's trace (Celery carried that context); its work joined the refund's.
    assert run.context.trace_id == sweep.get_span_context().trace_id != trace_id
    assert deliver.context.trace_id == trace_id
    assert run.context.span_id in {link.context.span_id for link in deliver.links}
    (provider_call,) = [
        s
        for s in finished
        if s.kind == SpanKind.CLIENT and str(s.attributes.get("http.url", "")).startswith(simulator.url)
    ]
    assert provider_call.context.trace_id == trace_id
