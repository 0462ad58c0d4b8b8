"""OpenTelemetry traces, off unless the standard `OTEL_*` variables ask for them (docs/operations.md "Tracing").

`configure_tracing(service_name)` runs once per process, where that process
kind starts (config/wsgi.py and gunicorn's `post_fork` for the web, Celery's
`worker_process_init`/`worker_init` for workers, manage.py for commands). It
installs an SDK `TracerProvider` with a `BatchSpanProcessor` per exporter and
the official Django, Celery, psycopg and requests instrumentations. With
tracing off nothing is imported from the SDK, no middleware is inserted and no
function is wrapped: the only cost left is `trace.get_current_span()` in the
log formatter and the outbox, which answers the API's no-op span.

What the SDK reads itself is left to it: `OTEL_SERVICE_NAME` and
`OTEL_RESOURCE_ATTRIBUTES` (`Resource.create`), `OTEL_TRACES_SAMPLER(_ARG)`
(the `TracerProvider`'s default sampler), `OTEL_BSP_*` (the batch processor),
`OTEL_EXPORTER_OTLP_*` (the OTLP/HTTP exporter). Only whether to trace at all
is decided here, because this project keeps tracing off by default where the
specification's default exporter would be OTLP.

A refund's trace crosses the outbox: `current_trace_context()` is what
`submission_open` stores on the message (W3C `traceparent`/`tracestate`),
`span_in_stored_trace` is how the delivery task rejoins it, and
`link_stored_trace` is how the provider's webhook (a trace of its own) points at it.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

logger = logging.getLogger("core.telemetry")

SERVICE_WEB = "refund-desk-web"
SERVICE_WORKER = "refund-desk-worker"
SERVICE_MANAGE = "refund-desk-manage"
EXPORTERS = ("otlp", "console")
# Probes and scrapes are not traced (one span per probe every few seconds is noise, and /metrics runs
# the scrape-time database gauges). Regular expressions searched in the request's URL, as the
# instrumentation reads OTEL_PYTHON_DJANGO_EXCLUDED_URLS; that variable (or OTEL_PYTHON_EXCLUDED_URLS) replaces them.
DEFAULT_EXCLUDED_URLS = "/healthz$,/readyz$,/metrics$"
# Links that are bearer secrets stay out of spans as out of logs: a customer's status page (core.logging
# scrubs it) and the portal's signed link from the merchant's email (portal/urls.py: any segment under
# /request/ but the fixed pages). core.logging.scrub also takes email addresses (the console's ?q=).
_PORTAL_LINK_PATH = re.compile(r"(/request/)(?!(?:code|order|done|leave)/)[^/?#]+")
_URL_ATTRIBUTES = ("http.target", "http.url", "url.full", "url.path", "url.query")

# Only the W3C trace context is stored on outbox rows, never baggage (which may carry anything).
_PROPAGATOR = TraceContextTextMapPropagator()
_lock = threading.Lock()
_provider: TracerProvider | None = None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def requested_exporters(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The span exporters the environment asks for; [] means tracing stays off.

    `OTEL_SDK_DISABLED=true` always wins. `OTEL_TRACES_EXPORTER` (a comma
    list) names them: `otlp`, `console`, or `none`. Without it, an OTLP
    endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` or `..._TRACES_ENDPOINT`) turns
    OTLP on. Nothing set: off.
    """
    if _truthy(environ.get("OTEL_SDK_DISABLED")):
        return []
    names = [name.strip().lower() for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if name.strip()]
    if names:
        unknown = sorted(set(names) - {*EXPORTERS, "none"})
        if unknown:
            logger.warning(
                "unknown trace exporters ignored",
                extra={"message_id": "MSG.telemetry.unknown_exporter", "exporters": unknown},
            )
        return [] if "none" in names else [name for name in EXPORTERS if name in names]
    if environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return ["otlp"]
    return []


def configure_tracing(service_name: str) -> bool:
    """Turn tracing on in this process if the environment asks for it; returns whether it is on.

    Idempotent: a second call (gunicorn's `post_fork`, then config/wsgi.py) is
    a no-op. A process forked from a traced one (gunicorn `--preload`, Celery
    prefork) is traced already: the SDK's batch processor restarts its export
    thread in the child (`os.register_at_fork`). `service_name` is used only
    when neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES names one.
    Must run before Django's handler loads its middleware.
    """
    with _lock:
        if _provider is not None:
            return True
        exporters = requested_exporters()
        if not exporters:
            return False
        provider = _build_provider(service_name, exporters)
        trace.set_tracer_provider(provider)
        _install(provider)
    logger.info(
        "tracing on",
        extra={"message_id": "MSG.telemetry.on", "exporters": exporters, "service": _service_of(provider)},
    )
    return True


def _build_provider(service_name: str, exporters: list[str]) -> TracerProvider:
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    resource = Resource.create()  # OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME over it
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    provider = TracerProvider(resource=resource)  # sampler: OTEL_TRACES_SAMPLER(_ARG), else parentbased_always_on
    for name in exporters:
        if name == "otlp":
            protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
                "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
            )
            if protocol != "http/protobuf":
                logger.warning(
                    "only OTLP over HTTP (protobuf) is installed: exporting with it",
                    extra={"message_id": "MSG.telemetry.protocol", "protocol": protocol},
                )
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()  # endpoint, headers, timeout, compression: OTEL_EXPORTER_OTLP_*
        else:
            # The real stdout: a Celery worker redirects sys.stdout into its log as warnings.
            exporter = ConsoleSpanExporter(out=sys.__stdout__)
        provider.add_span_processor(BatchSpanProcessor(exporter))  # OTEL_BSP_* (queue, batch size, delay)
    return provider


def _service_of(provider: TracerProvider) -> str:
    return str(provider.resource.attributes.get("service.name", ""))


def _install(provider: TracerProvider) -> None:
    """Instrument Django, Celery, psycopg and requests, reporting to `provider`."""
    global _provider
    from django.conf import settings
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    excluded = (
        os.environ.get("OTEL_PYTHON_DJANGO_EXCLUDED_URLS")
        or os.environ.get("OTEL_PYTHON_EXCLUDED_URLS")
        or DEFAULT_EXCLUDED_URLS
    )
    # Inserts its middleware first in settings.MIDDLEWARE: only a handler built afterwards has it.
    DjangoInstrumentor().instrument(tracer_provider=provider, excluded_urls=excluded, request_hook=_scrub_request)
    # Ahead of it: the database queries of an excluded request (the scrape-time gauges of /metrics)
    # would otherwise be root spans of their own, one trace per query.
    settings.MIDDLEWARE.insert(0, _SUPPRESS_MIDDLEWARE)
    _SuppressExcludedMiddleware.excluded = excluded
    CeleryInstrumentor().instrument(tracer_provider=provider)
    # Statements with their placeholders, never the parameters (capture_parameters stays off): no
    # customer data in spans. No SQL comments either (they would defeat PostgreSQL's statement stats).
    PsycopgInstrumentor().instrument(tracer_provider=provider, enable_commenter=False)
    RequestsInstrumentor().instrument(tracer_provider=provider)
    _provider = provider


def install_for_tests(provider: TracerProvider) -> None:
    """Instrument this process reporting to `provider` without making it the global one (tests only).

    The global provider can be set once per process; a test's in-memory
    exporter must not outlive the test. Undo with `uninstall`.
    """
    with _lock:
        _install(provider)


def uninstall() -> None:
    """Remove every instrumentation `_install` added (tests; the global provider, if set, stays)."""
    global _provider
    from django.conf import settings
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    with _lock:
        for instrumentor in (RequestsInstrumentor, PsycopgInstrumentor, CeleryInstrumentor, DjangoInstrumentor):
            instrumentor().uninstrument()
        while _SUPPRESS_MIDDLEWARE in settings.MIDDLEWARE:
            settings.MIDDLEWARE.remove(_SUPPRESS_MIDDLEWARE)
        _provider = None


def tracing_enabled() -> bool:
    return _provider is not None


def shutdown_tracing() -> None:
    """Export what is still queued (a Celery child's exit does not always run atexit handlers)."""
    if _provider is not None:
        _provider.force_flush()


def _scrub_request(span: trace.Span, request: Any) -> None:
    """The request's URL attributes without secret links (the route, not the token, names the span)."""
    from core.logging import scrub

    attributes = getattr(span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str):
            clean = _PORTAL_LINK_PATH.sub(r"\1[signed]", scrub(value))
            if clean != value:
                span.set_attribute(key, clean)


class _SuppressExcludedMiddleware:
    """No spans at all for the excluded URLs, not even their database queries."""

    excluded = DEFAULT_EXCLUDED_URLS

    def __init__(self, get_response: Callable) -> None:
        from opentelemetry.util.http import parse_excluded_urls

        self.get_response = get_response
        self.excluded_urls = parse_excluded_urls(self.excluded)

    def __call__(self, request: Any) -> Any:
        if not self.excluded_urls.url_disabled(request.path):
            return self.get_response(request)
        from opentelemetry.instrumentation.utils import suppress_instrumentation

        with suppress_instrumentation():
            return self.get_response(request)


_SUPPRESS_MIDDLEWARE = f"{__name__}.{_SuppressExcludedMiddleware.__qualname__}"


# --- Carrying a refund's trace across the outbox ---------------------------------------------------


def current_trace_context() -> dict[str, str]:
    """The W3C trace context of the current span (`traceparent`, maybe `tracestate`); {} without one."""
    if not trace.get_current_span().get_span_context().is_valid:
        return {}
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


def trace_id_of(carrier: Mapping[str, str] | None) -> int | None:
    """The trace id a stored context names, or None."""
    context = trace.get_current_span(_PROPAGATOR.extract(dict(carrier or {}))).get_span_context()
    return context.trace_id if context.is_valid else None


@contextmanager
def span_in_stored_trace(
    name: str, stored: Callable[[], Mapping[str, str] | None], **attributes: str | int
) -> Iterator[None]:
    """Run the block in a span of the trace `stored()` names (a context `current_trace_context` returned).

    With tracing off: no span, and `stored` is not even called (it is a query).
    If the current span is already in that trace (the task queued on commit:
    Celery's instrumentation carried the context in the task's headers), the
    new span is simply its child. Otherwise (a task the sweeper queued, a
    dead letter replayed) it is a child of the stored context, so the work
    joins the refund's trace, with a link back to the span that runs it.
    Nothing stored: a child of the current span.
    """
    if _provider is None:
        yield
        return
    here = trace.get_current_span().get_span_context()
    stored_context = _PROPAGATOR.extract(dict(stored() or {}))
    parent = trace.get_current_span(stored_context).get_span_context()
    context, links = None, []
    if parent.is_valid and parent.trace_id != here.trace_id:
        context = stored_context
        links = [trace.Link(here, {"refund_desk.link": "runner"})] if here.is_valid else []
    tracer = _provider.get_tracer(__name__)
    with tracer.start_as_current_span(name, context=context, links=links, attributes=attributes):
        yield


def link_stored_trace(stored: Callable[[], Mapping[str, str] | None], **attributes: str) -> None:
    """Link the current span to the trace `stored()` names (the webhook that settles a refund).

    The span keeps its own trace: the provider started this request, not us.
    With tracing off, or no recording span, `stored` is not called.
    """
    span = trace.get_current_span()
    if _provider is None or not span.is_recording():
        return
    target = trace.get_current_span(_PROPAGATOR.extract(dict(stored() or {}))).get_span_context()
    if target.is_valid and target.trace_id != span.get_span_context().trace_id:
        span.add_link(target, attributes or None)
