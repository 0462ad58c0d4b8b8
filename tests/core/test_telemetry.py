"""Tracing (core/telemetry.py): off by default, on with the standard OTEL_* variables, in the log lines.

Whether a process is traced is decided once per process, so the on/off cases
run `manage.py` in a process of their own with the environment under test;
the rest instrument this process against an in-memory exporter and undo it.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.db import connections
from django.test import Client
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from config.celery import app as celery_app
from core import telemetry
from core.logging import JsonFormatter
from tests.support.live import app_env, delete_queues, free_port, new_namespace, wait_for

ROOT = Path(__file__).resolve().parents[2]

# What the child process reports about itself: printed as the last line of stdout.
PROBE = """
import json, logging
from django.conf import settings
from opentelemetry import trace
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from core import telemetry

provider = trace.get_tracer_provider()
with trace.get_tracer("probe").start_as_current_span("probe") as span:
    logging.getLogger("probe").warning("inside a span", extra={"message_id": "MSG.test.probe"})
    context = span.get_span_context()
telemetry.shutdown_tracing()
print(json.dumps({
    "enabled": telemetry.tracing_enabled(),
    "provider": type(provider).__name__,
    "resource": dict(getattr(provider, "resource", None).attributes) if hasattr(provider, "resource") else {},
    "sampler": provider.sampler.get_description() if hasattr(provider, "sampler") else "",
    "middleware": [m for m in settings.MIDDLEWARE if "opentelemetry" in m or "telemetry" in m],
    "instrumented": [
        i.__name__ for i in (DjangoInstrumentor, CeleryInstrumentor, PsycopgInstrumentor, RequestsInstrumentor)
        if i().is_instrumented_by_opentelemetry
    ],
    "trace_id": trace.format_trace_id(context.trace_id) if context.is_valid else "",
}))
"""


def run_probe(**otel: str) -> tuple[dict, list[dict]]:
    """Run PROBE under manage.py (its configure_tracing call) with only `otel` of the OTEL_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(otel, DJANGO_SETTINGS_MODULE="config.settings.test", LOG_LEVEL="INFO", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    logs = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    return report, logs


# --- Which environment turns it on ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, []),
        ({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "console, otlp"}, ["otlp", "console"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, []),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, []),
        ({"OTEL_SDK_DISABLED": "TRUE", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, []),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "console"}, ["console"]),
    ],
)
def test_the_environment_decides_which_exporters_run(environ, expected):
    assert telemetry.requested_exporters(environ) == expected


def test_tracing_is_off_by_default_with_no_provider_and_no_instrumentation():
    report, logs = run_probe()

    assert report["enabled"] is False
    assert report["provider"] == "ProxyTracerProvider"  # the API's no-op: no SDK, no exporter thread
    assert report["middleware"] == []
    assert report["instrumented"] == []
    assert report["trace_id"] == ""
    probe = next(line for line in logs if line.get("message_id") == "MSG.test.probe")
    assert "trace_id" not in probe and "span_id" not in probe


def test_the_otel_variables_turn_it_on_with_the_sdks_own_settings():
    report, logs = run_probe(
        OTEL_TRACES_EXPORTER="console",
        OTEL_SERVICE_NAME="refund-desk-canary",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment=staging,service.version=1.2.3",
        OTEL_TRACES_SAMPLER="parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG="1.0",
    )

    assert report["enabled"] is True
    assert report["provider"] == "TracerProvider"
    assert report["resource"]["service.name"] == "refund-desk-canary"
    assert report["resource"]["deployment.environment"] == "staging"
    assert report["sampler"].startswith("ParentBased{root:TraceIdRatioBased{1.0}")
    assert report["instrumented"] == [
        "DjangoInstrumentor",
        "CeleryInstrumentor",
        "PsycopgInstrumentor",
        "RequestsInstrumentor",
    ]
    assert report["middleware"][:2] == [
        "core.telemetry._SuppressExcludedMiddleware",
        "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware",
    ]
    probe = next(line for line in logs if line.get("message_id") == "MSG.test.probe")
    assert probe["trace_id"] == report["trace_id"] != ""
    assert len(probe["span_id"]) == 16
    assert probe["correlation_id"] == ""  # kept beside it (no request here)


def test_the_process_kind_names_the_service_unless_the_environment_does():
    report, _ = run_probe(OTEL_TRACES_EXPORTER="console")

    assert report["resource"]["service.name"] == telemetry.SERVICE_MANAGE


def test_otel_sdk_disabled_wins_over_every_other_variable():
    report, _ = run_probe(
        OTEL_SDK_DISABLED="true",
        OTEL_TRACES_EXPORTER="otlp,console",
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
    )

    assert report["enabled"] is False
    assert report["provider"] == "ProxyTracerProvider"
    assert report["instrumented"] == []


# --- Log lines -------------------------------------------------------------------------------------


def _line(message: str) -> dict:
    record = logging.makeLogRecord({"name": "t", "levelname": "INFO", "msg": message, "correlation_id": "c-1"})
    return json.loads(JsonFormatter().format(record))


def test_a_log_line_in_a_recording_span_carries_its_trace_and_span_id():
    tracer = TracerProvider().get_tracer("t")

    with tracer.start_as_current_span("work") as span:
        inside = _line("in")
    outside = _line("out")

    context = span.get_span_context()
    assert inside["trace_id"] == f"{context.trace_id:032x}"
    assert inside["span_id"] == f"{context.span_id:016x}"
    assert inside["correlation_id"] == "c-1"
    assert "trace_id" not in outside and "span_id" not in outside


# --- This process instrumented --------------------------------------------------------------------


@pytest.fixture
def spans(transactional_db) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.install_for_tests(provider)
    connections.close_all()  # reopened through the instrumented psycopg
    try:
        yield exporter
    finally:
        telemetry.uninstall()
        connections.close_all()


def test_probes_and_scrapes_are_not_traced_not_even_their_queries(spans):
    client = Client()
    for path in ("/healthz", "/readyz", "/metrics"):
        client.get(path)
    assert spans.get_finished_spans() == ()

    client.get("/v1/refunds/nobody")  # any other request is

    (server,) = [s for s in spans.get_finished_spans() if s.kind.name == "SERVER"]
    assert server.attributes["http.method"] == "GET"


@pytest.mark.parametrize(
    ("path", "secret"),
    [
        ("/r/AbCdEfGhIjKlMnOpQrStUvWx/", "AbCdEfGhIjKlMnOpQrStUvWx"),  # a customer's status page
        ("/request/eyJvIjoxMjN9:1tXyZa:SiGnAtUrEsIgNaTuRe/", "SiGnAtUrE"),  # the portal's signed email link
    ],
)
def test_a_secret_link_never_reaches_a_span(spans, path, secret):
    Client().get(path)

    (server,) = [s for s in spans.get_finished_spans() if s.kind.name == "SERVER"]
    assert secret not in json.dumps(dict(server.attributes))
    assert secret not in server.name


def test_untraced_work_does_not_even_read_the_stored_context():
    def stored() -> dict:
        raise AssertionError("queried with tracing off")

    with telemetry.span_in_stored_trace("work", stored):
        pass
    telemetry.link_stored_trace(stored)

    assert telemetry.current_trace_context() == {}


# --- Each process kind turns it on where it starts ------------------------------------------------


@pytest.fixture
def console_env() -> Iterator[tuple[dict[str, str], str]]:
    """A process environment of a namespace of its own, tracing to the console; its queues dropped afterwards."""
    namespace = new_namespace("otel")
    env = {k: v for k, v in app_env(namespace=namespace).items() if not k.startswith("OTEL_")}
    env.update(OTEL_TRACES_EXPORTER="console", OTEL_BSP_SCHEDULE_DELAY="100")
    yield env, namespace
    delete_queues(namespace)


def _spans_in(output: Path) -> str:
    return output.read_text(errors="replace") if output.exists() else ""


def test_each_gunicorn_worker_traces_its_requests_but_not_the_probes(console_env, tmp_path):
    env, _ = console_env
    output = tmp_path / "stdout"
    port = free_port()
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            cwd=ROOT,
            env=env,
            stdout=sink,
        )
    try:
        wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz") == 200, timeout=60, message="gunicorn")
        assert _get(f"http://127.0.0.1:{port}/v1/schema") == 200
        wait_for(lambda: '"name": "GET v1/schema"' in _spans_in(output), timeout=30, message="the request's span")
    finally:
        process.terminate()
        process.wait(timeout=20)
    spans = _spans_in(output)
    assert f'"service.name": "{telemetry.SERVICE_WEB}"' in spans
    assert "healthz" not in spans


def test_a_prefork_worker_child_traces_the_tasks_it_runs(console_env, tmp_path, transactional_db):
    env, namespace = console_env
    output = tmp_path / "stdout"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork", "-c", "1",
                "-Q", namespace, "-n", f"otel.{namespace}@%h", "--without-gossip", "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        celery_app.send_task("refunds.sweep_outbox", kwargs={"limit": 1}, queue=namespace, routing_key=namespace)
        wait_for(
            lambda: '"name": "run/refunds.sweep_outbox"' in _spans_in(output), timeout=60, message="the task's span"
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert f'"service.name": "{telemetry.SERVICE_WORKER}"' in _spans_in(output)


def _get(url: str) -> int:
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return 0
