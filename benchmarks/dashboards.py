"""The Grafana dashboards rendered from real metrics of a load run (issue 16's closing note).

Runs the system as production does, on this machine: gunicorn (2 workers)
and a Celery worker with embedded beat sharing one PROMETHEUS_MULTIPROC_DIR,
the provider simulator sending signed webhooks, PostgreSQL and Redis; and a
real Prometheus (Debian's /usr/bin/prometheus) scraping the app's /metrics
with its bearer token every second, with the rule files of deploy/prometheus.

An open-loop load generator makes refunds for `--duration` seconds (Poisson
arrivals at `--rate` per second, each create on its own thread, no client
retries). The mix, by order:

* 85 % reason `not_received`: auto-approved by the policy;
* 15 % `goodwill`: always reviewed; a senior agent's API key decides each one
  20-200 s later through POST /v1/refunds/{id}/decision, 70 % approve, 30 % deny;
* currencies USD 60 %, EUR 25 %, GBP 15 %; amounts 5-150 major units;
* the simulator's modes by payment id: 72 % ok, 15 % async (settled by webhook
  3 s later), 6 % 5xx twice then ok (outbox retries), 3 % failed by the
  provider, 3 % timeout (the answer stalls past the client timeout), and four
  `broken` payments that answer 500 forever (dead letters after 8 attempts).

Faults, at fixed times of the load: the provider is down for `--outage`
seconds (the simulator process stopped, as in benchmarks/faults.py: the
breaker opens, the outbox backs up, delivery retries); the simulator's clock
runs 45 s behind for a minute (webhook lag); `manage.py reconcile` runs for
today a minute in (refunds still in flight count as mismatches) and again
once everything settled (reconciliation age and mismatch). The mail server
(an SMTP sink) answers 451 for 4 % of customers and 550 for 2 % (email failures).
At `--pause-at` an operator pauses submission to the provider for `--pause`
seconds (`manage.py refunds_pause`/`refunds_resume`: the kill switch panels,
deliveries held). The synthetic refund runs every minute from beat.

Afterwards every query of deploy/grafana/*.json is evaluated through
Prometheus' query_range API over the run, with Grafana's variables filled in
as Grafana fills them (tests/support/grafana.py; `$__rate_interval` is set to
`--rate-interval`, see below), and each dashboard is drawn as one PNG into
docs/screenshots/dashboard-<name>.png (benchmarks/dashboard_render.py). The
run's figures go to benchmarks/results/dashboards.json, the raw series to
the run's temporary directory (re-render with `--render-only <series.json>`).

    .venv/bin/python benchmarks/dashboards.py [--duration 480] [--rate 3]

`$__rate_interval`: Grafana makes it 4 x the data source's scrape interval at
least; with the 1 s scrape of this run that is 4 s, and a picture of rates
over 4 s of a few refunds per second is mostly noise. The render uses 30 s
(`--rate-interval`), what Grafana gives a data source whose scrape interval
is set to 7.5 s; the dashboards themselves keep `$__rate_interval`.
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import json
import os
import platform
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from common import PG, ROOT, bench_env, manage, recreate_database, start_gunicorn, write_results
from dashboard_render import render

sys.path.insert(0, str(ROOT))  # the simulator launcher and the dashboards' reader live with the tests
from tests.support.faults import SmtpSink
from tests.support.grafana import NAMES, Intervals, all_values, duration, load, panels, promql
from tests.support.simulator import Simulator

SCREENSHOTS = ROOT / "docs" / "screenshots"
PROMETHEUS = os.environ.get("PROMETHEUS_BIN", "/usr/bin/prometheus")
TERMINAL = ("completed", "failed", "denied", "canceled")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the stack -------------------------------------------------------------------------------------------


class Run:
    """Every process of the run; `stop()` ends exactly these."""

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args, self.tmp = args, tmp
        self.web_port, self.prom_port = free_port(), free_port()
        self.metrics_token = secrets.token_urlsafe(24)
        multiproc = tmp / "metrics"
        multiproc.mkdir()
        # A mail server refusing some recipients: 451 (try later, retried) and 550 (given up).
        self.smtp = SmtpSink().start()
        self.env = bench_env(
            args.database,
            PROVIDER="stripe",
            PROVIDER_API_KEY="sk_test_bench_dashboards",
            PROVIDER_WEBHOOK_SECRET="whsec_bench_dashboards",
            CELERY_TASK_DEFAULT_QUEUE="bench-dashboards",
            PROMETHEUS_MULTIPROC_DIR=str(multiproc),
            METRICS_TOKEN=self.metrics_token,
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(self.smtp.port),
            # The synthetic refund every minute (test-mode key above), so its panels show real runs.
            SYNTHETIC_ENABLED="1",
            SYNTHETIC_INTERVAL_SECONDS="60",
        )
        self.simulator = Simulator(
            db_path=tmp / "sim.sqlite3",
            api_key="sk_test_bench_dashboards",
            webhook_secret="whsec_bench_dashboards",
            webhook_url=f"http://127.0.0.1:{self.web_port}/webhooks/payments",
            stall=10.0,
            async_delay=3.0,
            webhook_backoff=1.0,
            env=self.env,
        )
        self.processes: list[subprocess.Popen] = []
        self.prometheus: subprocess.Popen | None = None

    def start(self) -> None:
        recreate_database(self.args.database, self.env)
        self.key = _last_line(
            manage(self.env, "create_api_key", "bench-merchant", "--scopes", "orders:write,refunds:create,refunds:read")
        )
        self.reviewer_key = _last_line(
            manage(
                self.env,
                "create_api_key",
                "bench-reviewer",
                "--role",
                "senior_agent",
                "--scopes",
                "refunds:decide,refunds:read",
            )
        )
        self.simulator.start()
        self.env["PROVIDER_API_BASE"] = self.simulator.url
        subprocess.run(
            [sys.executable, "-m", "celery", "-A", "config", "purge", "-f"], cwd=ROOT, env=self.env, capture_output=True
        )
        worker_log = open(self.tmp / "worker.log", "ab")  # noqa: SIM115 - the child holds it until the run ends
        self.processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--loglevel=WARNING",
                    "--concurrency=2",
                    "--without-gossip",
                    "--without-mingle",
                    "-n",
                    "dashboards@%h",
                    # Embedded beat: sweepers, sealer and the rest run as in production, in the same metrics dir.
                    "-B",
                    "--schedule",
                    str(self.tmp / "beat-schedule"),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=worker_log,
                stderr=subprocess.STDOUT,
            )
        )
        self.processes.append(start_gunicorn(self.env, self.web_port, workers=2))
        self.start_prometheus()

    def start_prometheus(self) -> None:
        token_file = self.tmp / "metrics-token"
        token_file.write_text(self.metrics_token)
        rules = [str(path) for path in sorted((ROOT / "deploy" / "prometheus").glob("*.yml"))]
        self.rule_files = [path for path in rules if _rules_load(path)]
        config = {
            "global": {
                "scrape_interval": duration(self.args.scrape),
                "evaluation_interval": duration(self.args.scrape),
            },
            "rule_files": self.rule_files,
            "scrape_configs": [
                {
                    "job_name": "refund-desk",
                    "metrics_path": "/metrics",
                    "authorization": {"type": "Bearer", "credentials_file": str(token_file)},
                    "static_configs": [{"targets": [f"127.0.0.1:{self.web_port}"]}],
                }
            ],
        }
        (self.tmp / "prometheus.yml").write_text(json.dumps(config, indent=2))  # JSON is YAML
        log = open(self.tmp / "prometheus.log", "ab")  # noqa: SIM115 - the child holds it until the run ends
        self.prometheus = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={self.tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.prom_port}",
                "--storage.tsdb.retention.time=1d",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.prometheus.poll() is None:
            try:
                if urllib.request.urlopen(f"{self.prom_url}/-/ready", timeout=2).status == 200:
                    return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"prometheus did not become ready; see {self.tmp / 'prometheus.log'}")

    @property
    def prom_url(self) -> str:
        return f"http://127.0.0.1:{self.prom_port}"

    def stop(self) -> None:
        for process in [*self.processes, self.prometheus]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [*self.processes, self.prometheus]:
            if process is None:
                continue
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.simulator.stop()
        self.smtp.stop()


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def _rules_load(path: str) -> bool:
    """A rule file Prometheus would refuse stops it from starting: check each with promtool first."""
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    result = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
    if result.returncode != 0:
        # deploy/prometheus also holds a scrape config and promtool's unit tests: not rule files.
        print(f"not a rule file Prometheus loads, left out: {Path(path).relative_to(ROOT)}")
    return result.returncode == 0


# --- the load --------------------------------------------------------------------------------------------


def order_plan(count: int, seed: int, review_max: float = 200.0) -> list[dict]:
    """What each order is: currency, amount, reason, the simulator's mode for its payment."""
    rng = random.Random(seed)
    plan = []
    for n in range(count):
        mode = rng.choices(["ok", "async", "5xx", "fail", "timeout"], weights=[72, 15, 6, 3, 3])[0]
        if n in (40, 41, 42, 43):  # early, so their 8 attempts (about 4 min of backoff) end within the run
            mode = "broken"
        plan.append(
            {
                "order_id": f"DB-{n:05d}",
                "currency": rng.choices(["USD", "EUR", "GBP"], weights=[60, 25, 15])[0],
                "amount_minor": rng.randint(500, 15000),
                "reason": "goodwill" if rng.random() < 0.15 else "not_received",
                "mode": mode,
                "decision": "approve" if rng.random() < 0.7 else "deny",
                "decide_after": rng.uniform(20, review_max),
                "smtp_refusal": rng.choices([0, 451, 550], weights=[94, 4, 2])[0],
            }
        )
    return plan


class Api:
    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key

    def call(self, method: str, path: str, body: dict | None = None, **headers: str) -> tuple[int | str, dict]:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            conn.request(
                method,
                path,
                body=json.dumps(body) if body is not None else None,
                headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json", **headers},
            )
            response = conn.getresponse()
            data = response.read()
            conn.close()
        except OSError as error:
            return f"no answer ({type(error).__name__})", {}
        try:
            return response.status, json.loads(data) if data else {}
        except ValueError:
            return response.status, {}


def push_orders(api: Api, plan: list[dict], smtp: SmtpSink) -> None:
    from concurrent.futures import ThreadPoolExecutor

    captured_at = (datetime.now(UTC) - timedelta(days=1)).isoformat()

    def push(item: dict) -> None:
        amount = item["amount_minor"] * 2
        email = f"{item['order_id'].lower()}@example.com"
        if item["smtp_refusal"]:
            smtp.refuse[email] = item["smtp_refusal"]
        status, body = api.call(
            "POST",
            "/v1/orders",
            {
                "order_id": item["order_id"],
                "currency": item["currency"],
                "customer": {"id": f"c-{item['order_id']}", "email": email},
                "lines": [{"unit_amount_minor": amount - amount // 11, "tax_minor": amount // 11}],
                "payment": {
                    "provider_payment_id": f"pi_sim_{item['mode']}_{item['order_id'].lower().replace('-', '')}",
                    "rail": "card",
                    "amount_minor": amount,
                    "status": "captured",
                    "captured_at": captured_at,
                },
            },
        )
        if status != 201:
            raise RuntimeError(f"order push failed: {status} {body}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(push, plan))


class Load:
    """Open-loop creates, and a reviewer deciding the goodwill refunds when their time comes."""

    def __init__(self, run: Run, plan: list[dict], rate: float, seed: int) -> None:
        self.api, self.reviewer = Api(run.web_port, run.key), Api(run.web_port, run.reviewer_key)
        self.plan, self.rate, self.rng = plan, rate, random.Random(seed + 1)
        self.creates: Counter = Counter()
        self.decisions: Counter = Counter()
        self.lock = threading.Lock()
        self.due: list[tuple[float, str, str]] = []  # (when, refund id, decision)
        self.stopped = threading.Event()
        self.used = 0

    def create(self, item: dict) -> None:
        status, body = self.api.call(
            "POST",
            f"/v1/orders/{item['order_id']}/refunds",
            {"amount_minor": item["amount_minor"], "currency": item["currency"], "reason": item["reason"]},
            **{"Idempotency-Key": f"create-{item['order_id']}"},
        )
        with self.lock:
            self.creates[str(status)] += 1
            if status in (201, 202) and body.get("state") == "requested":
                when = time.monotonic() + item["decide_after"]
                heapq.heappush(self.due, (when, body["refund_id"], item["decision"]))

    def run_creates(self, duration: float) -> None:
        started = time.monotonic()
        at = 0.0
        while True:
            at += self.rng.expovariate(self.rate)
            if at >= duration or self.used >= len(self.plan):
                return
            delay = started + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            threading.Thread(target=self.create, args=(self.plan[self.used],), daemon=True).start()
            self.used += 1

    def run_reviewer(self) -> None:
        while not self.stopped.is_set() or self.due:
            with self.lock:
                ready = self.due and self.due[0][0] <= time.monotonic()
                item = heapq.heappop(self.due) if ready else None
            if item is None:
                time.sleep(0.2)  # the next one is not due yet (the loop ends once the load stopped and none is left)
                continue
            _, refund_id, decision = item
            body = {"decision": decision, "note": "bench review"}
            if decision == "deny":
                body["rationale"] = "not covered by goodwill"
            status, _ = self.reviewer.call("POST", f"/v1/refunds/{refund_id}/decision", body)
            with self.lock:
                self.decisions[f"{decision} {status}"] += 1


def provider_outage(run: Run, seconds: float, notes: dict) -> None:
    notes["outage_started"] = time.time()
    run.simulator.stop()
    time.sleep(seconds)
    run.simulator.start()
    notes["outage_ended"] = time.time()


def webhook_lag(run: Run, seconds: float, behind: float, notes: dict) -> None:
    """The simulator's clock `behind` seconds slow: its events look that much older when they arrive."""

    def clock(offset: float) -> None:
        data = urllib.parse.urlencode({"offset": str(offset)}).encode()
        try:
            urllib.request.urlopen(urllib.request.Request(f"{run.simulator.url}/_sim/clock", data=data), timeout=5)
        except OSError as error:  # the simulator is down (an outage overlapping): no lag then
            notes.setdefault("lag_errors", []).append(repr(error))

    notes["lag_started"] = time.time()
    clock(-behind)
    time.sleep(seconds)
    clock(0)
    notes["lag_ended"] = time.time()


def kill_switch(run: Run, seconds: float, notes: dict) -> None:
    """An operator pauses submission to the provider, then resumes it: the held messages go in order."""
    notes["pause_started"] = time.time()
    for command in ("refunds_pause", "refunds_resume"):
        result = subprocess.run(
            [sys.executable, "manage.py", command, "submission", "--provider", "stripe", "--reason", "benchmark drill"],
            cwd=ROOT,
            env=run.env,
            capture_output=True,
            text=True,
        )
        notes.setdefault("kill_switch", []).append({"command": command, "ok": result.returncode == 0})
        if command == "refunds_pause":
            time.sleep(seconds)
    notes["pause_ended"] = time.time()


def reconcile(run: Run, notes: dict) -> None:
    day = date.today().isoformat()
    result = subprocess.run(
        [sys.executable, "manage.py", "reconcile", "--date", day], cwd=ROOT, env=run.env, capture_output=True, text=True
    )
    notes.setdefault("reconciliations", []).append(
        {"at": time.time(), "ok": result.returncode == 0, "output": (result.stdout or result.stderr).strip()[:300]}
    )


def at(delay: float, action, *args) -> threading.Thread:
    def later() -> None:
        time.sleep(delay)
        action(*args)

    thread = threading.Thread(target=later, daemon=True)
    thread.start()
    return thread


def database_figures(run: Run) -> dict:
    with psycopg.connect(f"{PG}/{run.args.database}") as conn:
        states = dict(conn.execute("SELECT state, count(*) FROM refunds_refund GROUP BY state").fetchall())
        outcomes = dict(conn.execute("SELECT policy_outcome, count(*) FROM refunds_refund GROUP BY 1").fetchall())
        outbox = dict(conn.execute("SELECT status, count(*) FROM refunds_outboxmessage GROUP BY status").fetchall())
        amounts = conn.execute(
            "SELECT currency, sum(amount_minor) FROM refunds_refund WHERE state = 'completed' GROUP BY currency"
        ).fetchall()
    return {
        "refunds_by_state": states,
        "refunds_by_policy_outcome": outcomes,
        "outbox_by_status": outbox,
        "completed_minor_by_currency": {currency: int(total) for currency, total in amounts},
    }


def wait_settled(run: Run, limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        figures = database_figures(run)
        open_ = sum(n for state, n in figures["refunds_by_state"].items() if state not in TERMINAL)
        waiting = figures["outbox_by_status"].get("pending", 0)
        # The dead letters' refunds stay `approved` (the outbox gave up on them): not waited for.
        if open_ <= figures["outbox_by_status"].get("dead", 0) and not waiting:
            break
        time.sleep(2)
    return time.monotonic() - started


# --- evaluating and drawing the dashboards --------------------------------------------------------------


def query_range(prom_url: str, expr: str, start: float, end: float, step: float) -> list[dict]:
    params = urllib.parse.urlencode(
        {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": duration(step)}
    )
    with urllib.request.urlopen(f"{prom_url}/api/v1/query_range?{params}", timeout=60) as response:
        answer = json.loads(response.read())
    if answer.get("status") != "success":
        raise RuntimeError(f"{expr}: {answer}")
    return answer["data"]["result"]


def legend(template: str, labels: dict[str, str]) -> str:
    if not template:
        return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "value"
    text = template
    for key, value in labels.items():
        text = text.replace("{{" + key + "}}", value)
    # A label the series lacks is left out, as Grafana does.
    while "{{" in text and "}}" in text:
        head, _, rest = text.partition("{{")
        text = head + rest.partition("}}")[2]
    return " ".join(text.split()) or "value"


def evaluate(prom_url: str, start: float, end: float, args: argparse.Namespace) -> tuple[dict, dict]:
    """Every panel's queries over [start, end]: (series per dashboard and panel, a summary per panel)."""
    range_s = end - start
    grafana = Intervals.grafana(range_s=range_s, max_data_points=args.points, scrape_s=args.scrape)
    intervals = Intervals(interval=grafana.interval, rate=max(grafana.rate, args.rate_interval), range=range_s)
    series: dict = {}
    summary: dict = {}
    for name in NAMES:
        dashboard = load(name)
        variables = all_values(dashboard)
        series[name], summary[name] = {}, {}
        for panel in panels(dashboard):
            results = []
            for target in panel.get("targets", []):
                expr = promql(target["expr"], intervals, variables)
                for item in query_range(prom_url, expr, start, end, intervals.interval):
                    points = [[float(t), None if v in ("NaN", "+Inf", "-Inf") else float(v)] for t, v in item["values"]]
                    results.append({"legend": legend(target.get("legendFormat", ""), item["metric"]), "points": points})
            if panel["type"] == "row":
                continue
            series[name][str(panel["id"])] = results
            lasts = {r["legend"]: _last_value(r["points"]) for r in results}
            summary[name][panel["title"]] = (
                {k: round(v, 4) for k, v in lasts.items() if v is not None}
                if any(v is not None for v in lasts.values())
                else "no data"
            )
    return series, {"intervals": intervals.__dict__, "panels": summary}


def _last_value(points: list) -> float | None:
    for _, value in reversed(points):
        if value is not None:
            return value
    return None


def draw_all(series: dict, window: tuple[float, float], subtitle: str) -> list[str]:
    written = []
    for name in NAMES:
        path = SCREENSHOTS / f"dashboard-{name}.png"
        render(load(name), series[name], window, path, subtitle)
        written.append(str(path.relative_to(ROOT)))
    return written


def subtitle_for(args: argparse.Namespace, window: tuple[float, float], notes: dict) -> str:
    start = datetime.fromtimestamp(window[0], UTC)
    minutes, shown = args.duration / 60, (window[1] - window[0]) / 60
    outage = ""
    if "outage_started" in notes:
        outage = (
            f"; provider down {datetime.fromtimestamp(notes['outage_started'], UTC):%H:%M:%S}–"
            f"{datetime.fromtimestamp(notes['outage_ended'], UTC):%H:%M:%S}"
        )
    return (
        f"Rendered from Prometheus (query_range): a {minutes:g}-minute load and its settling ({shown:.0f} min shown), "
        f"{start:%Y-%m-%d %H:%M} UTC: "
        f"{args.rate:g} refunds/s open loop, gunicorn ×2 + Celery + simulator{outage}. "
        f"Time range = the run (the dashboards' defaults are longer); rates over {args.rate_interval:g} s."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=480.0, help="seconds of load")
    parser.add_argument("--rate", type=float, default=3.0, help="refund creates per second (Poisson)")
    parser.add_argument("--outage-at", type=float, default=150.0, help="seconds into the load")
    parser.add_argument("--outage", type=float, default=75.0, help="seconds the provider is down")
    parser.add_argument("--pause-at", type=float, default=400.0, help="seconds into the load: submission paused")
    parser.add_argument("--pause", type=float, default=30.0, help="seconds submission stays paused")
    parser.add_argument("--lag-at", type=float, default=330.0, help="seconds into the load")
    parser.add_argument("--scrape", type=float, default=1.0, help="Prometheus scrape interval, seconds")
    parser.add_argument("--rate-interval", type=float, default=30.0, help="seconds for $__rate_interval (see above)")
    parser.add_argument("--points", type=int, default=300, help="Grafana's max data points per query")
    parser.add_argument("--database", default=os.environ.get("BENCH_DB", "refund_desk_test_bench_dashboards"))
    parser.add_argument("--review-max", type=float, default=200.0, help="a person decides 20 s to this after a request")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--render-only", type=Path, help="draw from a series.json of an earlier run")
    args = parser.parse_args()
    if args.render_only:
        saved = json.loads(args.render_only.read_text())
        print(draw_all(saved["series"], tuple(saved["window"]), saved["subtitle"]))
        return
    started_wall = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dashboards-"))
    run = Run(args, tmp)
    notes: dict = {}
    try:
        run.start()
        plan = order_plan(int(args.rate * args.duration * 1.3) + 50, args.seed, args.review_max)
        push_orders(Api(run.web_port, run.key), plan, run.smtp)
        print(
            f"stack up, {len(plan)} orders pushed, prometheus on {run.prom_url}; load for {args.duration:.0f} s",
            flush=True,
        )
        load_start = time.time()
        load = Load(run, plan, args.rate, args.seed)
        reviewer = threading.Thread(target=load.run_reviewer, daemon=True)
        reviewer.start()
        faults = [
            at(args.outage_at, provider_outage, run, args.outage, notes),
            at(args.lag_at, webhook_lag, run, 60.0, 45.0, notes),
            at(60.0, reconcile, run, notes),
            at(args.pause_at, kill_switch, run, args.pause, notes),
        ]
        load.run_creates(args.duration)
        for fault in faults:
            fault.join()
        load_end = time.time()
        load.stopped.set()
        reviewer.join(timeout=args.review_max + 60)
        settle_s = wait_settled(run, 180.0)
        reconcile(run, notes)  # again once settled: today's refunds all final (the first run saw them in flight)
        time.sleep(20)  # a few more scrapes of the quiet system after it drained
        end = time.time()
        window = (load_start - 20, end)
        series, evaluated = evaluate(run.prom_url, *window, args)
        subtitle = subtitle_for(args, window, notes)
        (tmp / "series.json").write_text(json.dumps({"series": series, "window": window, "subtitle": subtitle}))
        written = draw_all(series, window, subtitle)
        git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        results = {
            "commit": git.stdout.strip(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "setup": "gunicorn 2 workers + 1 Celery worker (concurrency 2) with embedded beat, one "
            "PROMETHEUS_MULTIPROC_DIR; stripe simulator with webhooks; PostgreSQL, Redis; "
            f"Prometheus {_prometheus_version()} scraping /metrics every {args.scrape:g} s with the bearer token",
            "rule_files": [str(Path(p).relative_to(ROOT)) for p in run.rule_files],
            "load": {
                "duration_s": args.duration,
                "rate_per_s": args.rate,
                "creates": dict(load.creates),
                "person_decisions": dict(load.decisions),
                "settled_after_load_s": round(settle_s, 1),
            },
            "faults": {
                "provider_outage_s": args.outage,
                "outage_from_load_start_s": round(notes.get("outage_started", load_start) - load_start, 1),
                "webhook_clock_behind_s": 45,
                "lag_from_load_start_s": round(notes.get("lag_started", load_start) - load_start, 1),
                "reconciliations": notes.get("reconciliations", []),
            },
            "database": database_figures(run),
            "evaluated": evaluated,
            "empty_panels": {
                name: [title for title, value in evaluated["panels"][name].items() if value == "no data"]
                for name in NAMES
            },
            "screenshots": written,
            "load_window_utc": [
                datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds") for t in (load_start, load_end)
            ],
            "wall_clock_s": round(time.monotonic() - started_wall, 1),
        }
    finally:
        run.stop()
    path = write_results("dashboards", results)
    print(json.dumps({k: results[k] for k in ("load", "empty_panels", "screenshots", "wall_clock_s")}, indent=2))
    print(f"written to {path}; series and logs in {tmp}")


def _prometheus_version() -> str:
    out = subprocess.run([PROMETHEUS, "--version"], capture_output=True, text=True)
    first = (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else ""
    return first.split("version ")[-1].split(" ")[0] if "version" in first else "unknown"


if __name__ == "__main__":
    main()
