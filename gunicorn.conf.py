"""gunicorn's settings for the web process, read from the working directory (`gunicorn config.wsgi`).

Run gunicorn from the application directory, or pass `-c /path/to/gunicorn.conf.py`
(docs/operations.md). Command-line options override what is set here.
"""

# Answers gunicorn gives itself (request line or headers too large) in the API's error JSON, not HTML.
worker_class = "config.gunicorn_worker.JsonErrorSyncWorker"

# The request line (method, path with query, version) is bounded by gunicorn, before any Python of ours
# runs. gunicorn's default, 4094 bytes, kept on purpose: the longest URL of the API is under 300 bytes
# (ids are at most 100 characters), the console's under 2 KiB; a larger bound only lets a client make
# every worker buffer more. (gunicorn accepts at most 8190; 0, "unlimited", would let one connection
# grow a worker's memory without bound.) Longer lines answer 414 ERR.VALIDATION.uri.too_long.
limit_request_line = 4094


def child_exit(server, worker) -> None:
    """A worker exited (recycled, crashed, shut down): drop its live gauges from the multiprocess directory.

    With PROMETHEUS_MULTIPROC_DIR set (docs/operations.md "Metrics") each worker
    writes its metrics to files named by its pid. Its counters and histograms
    stay, summed into every later scrape (a counter must not go down because a
    worker went); only gauges of a `live*` multiprocess mode are removed.
    """
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker) -> None:
    """Tracing in each worker, before it loads the app (core/telemetry.py; off unless OTEL_* ask for it).

    Each worker gets its own span processor and export thread (threads do not survive a fork). With
    `--preload` config/wsgi.py has configured the master already and this is a no-op: the SDK
    restarts the inherited processor's thread in the child.
    """
    from core.telemetry import SERVICE_WEB, configure_tracing

    configure_tracing(SERVICE_WEB)
