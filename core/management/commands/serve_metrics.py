"""`manage.py serve_metrics --port P`: the in-process metrics of a host that runs workers and no web process.

A web process's /metrics sums the files of every process of its host in
PROMETHEUS_MULTIPROC_DIR (core.metrics), the host's Celery workers included,
plus the database gauges. A host with workers only has nobody to answer for
its workers: this serves their counters and histograms from the same
directory, and never the database gauges (the web hosts report those; twice
would count them twice in a `sum`). With METRICS_TOKEN set it asks for the
same bearer token as /metrics.

Each connection gets a thread of its own (prometheus_client's ThreadingWSGIServer) and a socket
timeout (CONNECTION_TIMEOUT_SECONDS): a client that connects and sends nothing (a port scanner,
a half-open health check) holds one thread until the timeout, never the scrapes of the others.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from core.metrics import in_process_registry, multiprocess_dir

# Within Prometheus's default scrape timeout (10 s): a scrape sends its request at once, so only an
# idle or stalled client ever waits this long, and its thread is then freed.
CONNECTION_TIMEOUT_SECONDS = 5


class _QuietHandler(WSGIRequestHandler):
    timeout = CONNECTION_TIMEOUT_SECONDS  # socketserver.StreamRequestHandler: the connection's socket timeout

    def log_message(self, format: str, *args: Any) -> None:
        """One line per scrape would be noise; errors still reach stderr through the server."""


def metrics_app(token: str) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """The WSGI app: prometheus_client's exposition of the host's multiprocess files, behind the token if set."""
    exposition = make_wsgi_app(in_process_registry())

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if token:
            scheme, _, presented = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token.encode()):
                start_response(
                    "401 Unauthorized",
                    [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="metrics"')],
                )
                return [b"metrics need the bearer token\n"]
        return exposition(environ, start_response)

    return app


class Command(BaseCommand):
    help = "Serve the in-process metrics of this host's worker processes (PROMETHEUS_MULTIPROC_DIR), no DB gauges."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, required=True, help="port to listen on")
        parser.add_argument(
            "--bind", default="127.0.0.1", help="address to listen on: the host's private address for Prometheus"
        )

    def handle(self, *args: Any, port: int, bind: str, **options: Any) -> None:
        if not multiprocess_dir():
            raise CommandError(
                "PROMETHEUS_MULTIPROC_DIR is not set: set it to the directory the host's workers write to "
                '(docs/operations.md "Metrics").'
            )
        token = "" if settings.DEBUG else settings.METRICS_TOKEN  # as /metrics (core.health.metrics_authorized)
        server = make_server(
            bind, port, metrics_app(token), server_class=ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self.stdout.write(f"serving the metrics of {multiprocess_dir()} on http://{bind}:{port}/metrics")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
