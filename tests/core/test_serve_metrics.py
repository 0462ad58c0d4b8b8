"""`manage.py serve_metrics`: a worker-only host's in-process metrics, from the shared multiprocess directory."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import requests
from django.core.management import CommandError, call_command
from prometheus_client.parser import text_string_to_metric_families

from tests.support.live import ROOT, app_env, free_port, new_namespace, wait_for

# A worker process of the host: counts three completed refunds, as a Celery child would, then exits.
WORKER = """
import django
django.setup()
from refunds.metrics import REFUND_OUTCOME_TOTAL
REFUND_OUTCOME_TOTAL.labels(state="completed").inc({n})
"""


def test_it_serves_the_sum_of_every_worker_process_and_no_database_gauge(tmp_path):
    env = app_env(namespace=new_namespace("metrics"), PROMETHEUS_MULTIPROC_DIR=str(tmp_path), METRICS_TOKEN="s3cret")
    for n in (2, 3):  # two processes, two pids, two files
        subprocess.run([sys.executable, "-c", WORKER.format(n=n)], cwd=ROOT, env=env, check=True, timeout=60)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve_metrics", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"

        def answer() -> requests.Response | None:
            try:
                return requests.get(url, headers={"Authorization": "Bearer s3cret"}, timeout=2)
            except requests.ConnectionError:
                return None

        response = wait_for(answer, timeout=30, message="serve_metrics to answer")
        assert response.status_code == 200
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }
        assert samples[("refund_outcome_total", (("state", "completed"),))] == 5
        names = {name for name, _ in samples}
        assert not names & {"refund_auto_decision_rate_pct", "outbox_pending_messages", "audit_unsealed_oldest_seconds"}

        refused = requests.get(url, timeout=2)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_it_refuses_to_start_without_the_multiprocess_directory(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with pytest.raises(CommandError, match="PROMETHEUS_MULTIPROC_DIR"):
        call_command("serve_metrics", "--port", "1")


@pytest.mark.slow
def test_a_silent_connection_does_not_stop_the_scrapes(tmp_path):
    """A client that connects and sends nothing (no token needed: anyone who reaches the port) holds
    its own thread until the connection timeout, never the server: Prometheus still scrapes."""
    env = app_env(namespace=new_namespace("metrics"), PROMETHEUS_MULTIPROC_DIR=str(tmp_path), METRICS_TOKEN="s3cret")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve_metrics", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    auth = {"Authorization": "Bearer s3cret"}
    idle = None
    try:

        def answer() -> requests.Response | None:
            try:
                return requests.get(url, headers=auth, timeout=2)
            except requests.ConnectionError:
                return None

        assert wait_for(answer, timeout=30, message="serve_metrics to answer").status_code == 200

        idle = socket.create_connection(("127.0.0.1", port))  # connects, sends nothing, no token needed
        # Prometheus's default scrape timeout is 10 s: the scrape must answer well within it.
        try:
            scraped = requests.get(url, headers=auth, timeout=10)
        except requests.Timeout:
            scraped = None
        assert scraped is not None and scraped.status_code == 200, "one idle client blocks every scrape"
    finally:
        if idle is not None:
            idle.close()
        server.terminate()
        server.wait(timeout=10)
