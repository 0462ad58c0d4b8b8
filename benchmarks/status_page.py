"""Server time of the customer status page, /r/<token>/ (issue 6: p95 ≤ 20 ms).

Runs the whole Django stack in this process — middleware, rate limiter (Redis
INCR), token lookup (PostgreSQL), Babel formatting, template — through Django's
test client, so what is timed is server time without a network in between. A
fresh PostgreSQL database is seeded with refunds in every customer-visible
state, in English, Arabic and German; requests cycle over them. The htmx poll
is timed too, both when nothing changed (204) and as a full card.

    .venv/bin/python benchmarks/status_page.py [--requests 3000]

Writes benchmarks/results/status_page.json and status_page.txt.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import tempfile
import time

from common import RESULTS, ROOT, bench_env, manage, percentiles, recreate_database, write_results

DB = "refund_desk_bench_status"
TARGET_P95_MS = 20.0
# Its own Redis database: nothing here should reach a worker of another benchmark.
REDIS = os.environ.get("BENCH_STATUS_REDIS", "redis://127.0.0.1:6379/12")


def seed(per_combination: int) -> list[tuple[str, str]]:
    """Refunds in each state × language, written straight through the ORM (no emails, no provider)."""
    from django.db import transaction
    from django.utils import timezone

    from refunds.enums import PaymentStatus, Rail, RefundState
    from refunds.models import Customer, Order, OrderLine, Payment, Refund
    from refunds.services.merchants import merchant_default
    from refunds.services.policy import policy_get_active
    from refunds.services.reference_data import reference_data_ensure

    reference_data_ensure()
    merchant = merchant_default()
    policy = policy_get_active()
    paths = {
        RefundState.REQUESTED: [],
        RefundState.PROVIDER_PENDING: [RefundState.APPROVED, RefundState.SUBMITTING, RefundState.PROVIDER_PENDING],
        RefundState.COMPLETED: [RefundState.APPROVED, RefundState.SUBMITTING, RefundState.COMPLETED],
        RefundState.DENIED: [RefundState.DENIED],
        RefundState.FAILED: [RefundState.APPROVED, RefundState.SUBMITTING, RefundState.FAILED],
    }
    rails = itertools.cycle([Rail.CARD, Rail.PAYNOW, Rail.BANK_TRANSFER])
    tokens: list[tuple[str, str]] = []
    now = timezone.now()
    with transaction.atomic():
        for n, (state, language) in enumerate(
            itertools.product(paths, ["en", "ar", "de"] * per_combination),
        ):
            customer = Customer.objects.create(
                merchant=merchant, external_id=f"bench-{n}", email=f"c{n}@example.com", locale=language
            )
            order = Order.objects.create(
                merchant=merchant, order_id=f"BENCH-{n:05d}", customer=customer, currency="EUR"
            )
            for line in range(1, 4):
                OrderLine.objects.create(order=order, line_no=line, description=f"Item {line}", unit_amount_minor=3000)
            payment = Payment.objects.create(
                provider="stripe",
                order=order, rail=next(rails), provider_payment_id=f"pi_bench_{n}", amount_minor=9000,
                currency="EUR", status=PaymentStatus.CAPTURED, captured_at=now, refund_reserved_minor=4250,
            )  # fmt: skip
            refund = Refund.objects.create(
                order=order, merchant_id=order.merchant_id, payment=payment, amount_minor=4250, currency="EUR",
                reason="other",
                customer_email=customer.email,
                policy_version=policy, policy_outcome="review", policy_rule="R-BENCH", policy_rule_text="bench",
                recommendation="approve",
            )  # fmt: skip
            for step in paths[state]:
                Refund.objects.filter(pk=refund.pk).update(state=step)
            Refund.objects.filter(pk=refund.pk).update(
                decided_at=now if paths[state] else None,
                submitted_at=now if len(paths[state]) > 1 else None,
                completed_at=now if state == RefundState.COMPLETED else None,
                decline_reason="Bench reason." if state == RefundState.DENIED else "",
            )
            tokens.append((refund.status_token, state))
    return tokens


def timed(client, paths: list[str], **headers) -> dict:
    """Wall time per request (what a customer waits for) and this process's CPU time (what
    it costs, insensitive to other load on a shared machine; excludes PostgreSQL's own CPU)."""
    wall, cpu, statuses = [], [], {}
    for path in paths:
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path, **headers)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    cpu_p = percentiles(cpu)
    return {**percentiles(wall), "cpu_p50_ms": cpu_p["p50_ms"], "cpu_p95_ms": cpu_p["p95_ms"], "statuses": statuses}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()

    # As in production: hashed static names from a collectstatic manifest (DEBUG off).
    env = bench_env(DB, REDIS_URL=REDIS, CELERY_BROKER_URL=REDIS, VAR_DIR=tempfile.mkdtemp(prefix="bench-status-"))
    recreate_database(DB, env)
    manage(env, "collectstatic", "--noinput", "-v", "0")
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.test import Client

    from scripts.compile_messages import compile_all

    compile_all()
    cache.clear()
    # The limiter stays on (its INCR is part of the cost), just out of reach.
    settings.STATUS_PAGE_RATE_LIMIT_PER_MINUTE = 10**9
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]

    tokens = seed(per_combination=4)
    client = Client()
    pages = [f"/r/{token}/" for token, _ in tokens]
    cycle = itertools.cycle(pages)
    timed(client, [next(cycle) for _ in range(200)])  # warm-up: connections, catalogues, template cache

    n = args.requests
    load_before = os.getloadavg()
    page = timed(client, [next(cycle) for _ in range(n)])
    # A poll that finds nothing new: what an open page costs every few seconds.
    versions = {}
    for path in pages:
        body = client.get(path).content.decode()
        if "since=" in body:
            versions[path] = body.split("since=", 1)[1].split('"', 1)[0].replace("&amp;", "&")
    poll_cycle = itertools.cycle([f"{p}?since={v}" for p, v in versions.items()])
    results = {
        "what": "server time in-process (Django test client: middleware, Redis rate limit, PostgreSQL, templates)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "refunds": len(tokens),
        "page": page,
        "poll_unchanged_204": timed(client, [next(poll_cycle) for _ in range(n)], HTTP_HX_REQUEST="true"),
        "poll_card": timed(client, [next(cycle) for _ in range(n // 3)], HTTP_HX_REQUEST="true"),
        "not_found": timed(client, [f"/r/{'x' * 43}/" for _ in range(n // 3)]),
        "load_average_1m": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
        "target": {"page_p95_ms": TARGET_P95_MS, "met": page["p95_ms"] <= TARGET_P95_MS},
    }
    path = write_results("status_page", results)
    lines = [f"status page benchmark ({results['what']}), {len(tokens)} refunds, {n} page requests"]
    for name in ("page", "poll_unchanged_204", "poll_card", "not_found"):
        r = results[name]
        lines.append(
            f"  {name:<20} p50 {r['p50_ms']:6.2f} ms  p95 {r['p95_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms"
            f"  (CPU p50 {r['cpu_p50_ms']:5.2f} p95 {r['cpu_p95_ms']:5.2f})  {r['statuses']}"
        )
    lines.append(f"  machine load average (1 min) before/after: {results['load_average_1m']}")
    lines.append(f"  target page p95 ≤ {TARGET_P95_MS} ms: {'met' if results['target']['met'] else 'NOT met'}")
    (RESULTS / "status_page.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"written to {path}")
    print(json.dumps(results["target"]))


if __name__ == "__main__":
    main()
