"""Attack on `manage.py serve_metrics` (issue 16): one idle client silences a worker host's metrics.

The command serves with wsgiref's `make_server`: one request at a time, no socket timeout. A
client (anyone who can reach the port on the host's private address: another tenant's pod, a
port scanner, a half-open load-balancer check) that connects and sends nothing holds the only
thread forever, and Prometheus's scrapes of that host time out from then on: the worker host's
counters go stale without anyone having to know the token.
"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import requests

from tests.support.live import ROOT, app_env, free_port, new_namespace, wait_for

pytestmark = pytest.mark.slow


def test_a_silent_connection_does_not_stop_the_scrapes(tmp_path):
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
