"""Reconciliation at scale (issue 5): one day of N refunds against a provider report of N rows.

    .venv/bin/python benchmarks/reconcile.py [--n 1000000] [--skip-pandas] [--db NAME] [--out NAME|PATH.json]

1. A fresh PostgreSQL database gets N completed refunds with their REFUND_SETTLED
   entries and postings, written with COPY (triggers off for the bulk load:
   the data is generated balanced), and a provider report CSV of N rows in
   Stripe's itemized balance-report layout, with 0.1 % planted exceptions
   (amount, currency, state, missing at provider, missing in ledger).
2. `manage.py reconcile --date D --provider-file F` runs in its own process:
   wall time and that process's peak RSS (wait4) are measured; the joins run
   inside PostgreSQL, whose memory is bounded by work_mem, not by N.
3. The run is re-run (idempotence at scale: the first run is superseded).
4. The run's CSV export is streamed through the finance view in its own
   process: rows/s and RSS sampled along the way (flat = constant memory).
5. The same two datasets merged with pandas on provider_refund_id, as a finance
   analyst would: a ledger CSV extract plus the provider report, read, merged
   and classified; time and peak RSS of that process; ratio to ours.

6. Correctness, not only speed: the kinds found must be exactly the planted
   ones, and the run's per-currency totals exactly what the seed worked out
   (`ExpectedTotals`) - including the rows of currencies only the provider
   used (the planted currency mismatches).

Writes benchmarks/results/reconcile.json (a smaller --n writes reconcile-n<N>.json,
so a quick correctness check never replaces the reference figures).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from common import PG, ROOT, bench_env, recreate_database, write_results

DB = "refund_desk_bench_reconcile"
# Weighted currencies with their exponents, and a look-alike of the same exponent for currency mismatches.
CURRENCIES = ["USD"] * 12 + ["EUR"] * 5 + ["JPY"] * 2 + ["KWD"]
EXPONENT = {"USD": 2, "EUR": 2, "JPY": 0, "KWD": 3, "CAD": 2, "GBP": 2, "KRW": 0, "BHD": 3}
LOOKALIKE = {"USD": "CAD", "EUR": "GBP", "JPY": "KRW", "KWD": "BHD"}
REPORT_COLUMNS = [
    "balance_transaction_id",
    "created_utc",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
    "source_id",
    "payment_intent_id",
    "refund_metadata[refund_id]",
]
TARGET_SECONDS, TARGET_RSS_MB, TARGET_EXPORT_ROWS_S = 30.0, 512.0, 100_000


def major(amount_minor: int, currency: str) -> str:
    exp = EXPONENT[currency]
    if exp == 0:
        return str(amount_minor)
    whole, fraction = divmod(amount_minor, 10**exp)
    return f"{whole}.{fraction:0{exp}d}"


def seed(n: int, day: date, report: Path, ledger_extract: Path, db: str = DB) -> dict:
    """Our side (COPY into PostgreSQL) and the provider report (CSV file), with planted exceptions."""
    import psycopg

    rng = random.Random(5)
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    orders = max(1, n // 100)
    planted = rng.sample(range(n), max(5, n // 1000))
    cut = [len(planted) * share // 20 for share in (5, 8, 11, 15)]  # 25 % 15 % 15 % 20 % (+25 % extra rows)
    amount_bad = set(planted[: cut[0]])
    currency_bad = set(planted[cut[0] : cut[1]])
    state_bad = set(planted[cut[1] : cut[2]])
    missing_at_provider = set(planted[cut[2] : cut[3]])
    missing_in_ledger = len(planted) - cut[3]
    started = time.perf_counter()
    with psycopg.connect(f"{PG}/{db}", autocommit=False) as conn, conn.cursor() as cur:
        # Bulk load of generated, balanced data: the per-row ledger triggers would only re-prove it.
        cur.execute("SET session_replication_role = replica")
        cur.execute("SELECT id FROM refunds_refundpolicy ORDER BY version DESC LIMIT 1")
        policy = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO refunds_customer (id, external_id, email, name, locale, created_at) "
            "VALUES (1, 'bench', 'bench@example.com', '', 'en', now())"
        )
        with cur.copy(
            "COPY refunds_order (id, order_id, currency, created_at, updated_at, customer_id) FROM STDIN"
        ) as copy:
            for o in range(orders):
                copy.write_row((o + 1, f"BENCH-{o}", CURRENCIES[o % len(CURRENCIES)], start, start, 1))
        with cur.copy(
            "COPY refunds_payment (id, rail, provider_payment_id, amount_minor, currency, status, captured_at, "
            "refund_reserved_minor, updated_at, order_id) FROM STDIN"
        ) as copy:
            for o in range(orders):
                currency = CURRENCIES[o % len(CURRENCIES)]
                copy.write_row((o + 1, "card", f"pi_bench_{o}", 10**15, currency, "captured", start, 0, start, o + 1))
        amounts = [rng.randint(100, 50_000) for _ in range(n)]
        offsets = [10 + i * 86_000 // n for i in range(n)]  # seconds into the day, spread evenly
        with cur.copy(
            "COPY refunds_refund (id, public_id, amount_minor, currency, reason, customer_note, evidence, state, "
            "requested_via, correlation_id, policy_outcome, policy_rule, policy_rule_text, recommendation, "
            "approvals_required, draft_reply, decline_reason, override_flagged, provider_refund_id, failure_code, "
            "failure_retryable, submission_count, status_token_sealed, status_token_digest, created_at, updated_at, "
            "decided_at, submitted_at, completed_at, order_id, payment_id, policy_version_id, provider_status) "
            "FROM STDIN"
        ) as copy:
            for i in range(n):
                o = i % orders
                at = start + timedelta(seconds=offsets[i])
                copy.write_row(
                    (
                        i + 1, f"rf_{i:024d}", amounts[i], CURRENCIES[o % len(CURRENCIES)], "other", "", "[]",
                        "completed", "api_key", "", "auto_approve", "R-BENCH", "bench", "approve", 1, "", "",
                        False, f"re_{i:024d}", "", False, 1, f"t{i}", f"d{i}", at, at, at, at, at, o + 1, o + 1,
                        policy, "succeeded",
                    )
                )  # fmt: skip
        with cur.copy(
            "COPY ledger_journalentry (id, entry_type, currency, amount_minor, memo, created_at, refund_id,"
            " event_on, booked_on) FROM STDIN"
        ) as copy:
            for i in range(n):
                currency = CURRENCIES[(i % orders) % len(CURRENCIES)]
                at = start + timedelta(seconds=offsets[i] + 1)
                copy.write_row((i + 1, "REFUND_SETTLED", currency, amounts[i], "", at, i + 1, at.date(), at.date()))
        with cur.copy("COPY ledger_posting (entry_id, account_id, currency, amount_minor) FROM STDIN") as copy:
            for i in range(n):
                currency = CURRENCIES[(i % orders) % len(CURRENCIES)]
                copy.write_row((i + 1, "refunds_payable", currency, amounts[i]))
                copy.write_row((i + 1, "provider_clearing", currency, -amounts[i]))
        for table in ("refunds_customer", "refunds_order", "refunds_payment", "refunds_refund", "ledger_journalentry"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        cur.execute("SET session_replication_role = DEFAULT")
        conn.commit()
        conn.autocommit = True
        for table in ("refunds_refund", "ledger_journalentry", "ledger_posting"):
            cur.execute(f"VACUUM ANALYZE {table}")
        db_seconds = time.perf_counter() - started
        # What an analyst would pull from our side for the pandas comparison: the day's settled refunds.
        extract_started = time.perf_counter()
        with (
            ledger_extract.open("wb") as out,
            cur.copy(
                "COPY (SELECT r.provider_refund_id, r.public_id, je.amount_minor, je.currency, r.state "
                "FROM ledger_journalentry je JOIN refunds_refund r ON r.id = je.refund_id "
                f"WHERE je.entry_type = 'REFUND_SETTLED' AND je.created_at >= '{start.isoformat()}' "
                f"AND je.created_at < '{(start + timedelta(days=1)).isoformat()}') TO STDOUT WITH (FORMAT csv, HEADER)"
            ) as copy,
        ):
            for block in copy:
                out.write(block)
        extract_seconds = time.perf_counter() - extract_started

    started = time.perf_counter()
    rows = 0
    expected = ExpectedTotals()
    with report.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(REPORT_COLUMNS)
        for i in range(n):
            ours = CURRENCIES[(i % orders) % len(CURRENCIES)]
            expected.ledger(ours, amounts[i])
            if i in missing_at_provider:
                expected.exception(ours)
                continue
            o = i % orders
            currency = CURRENCIES[o % len(CURRENCIES)]
            amount = amounts[i] + (1 if i in amount_bad else 0)
            if i in currency_bad:
                currency = LOOKALIKE[currency]
            if i in amount_bad or i in currency_bad or i in state_bad:
                expected.exception(ours, currency)
            if i not in state_bad:  # a failed refund is not in the provider's succeeded total
                expected.provider(currency, amount)
            created = (start + timedelta(seconds=offsets[i] - 5)).strftime("%Y-%m-%d %H:%M:%S")
            gross = major(amount, currency)
            base = [f"txn_{i}", created, currency.lower()]
            tail = [f"re_{i:024d}", f"pi_bench_{o}", f"rf_{i:024d}"]
            writer.writerow([*base, f"-{gross}", "0", f"-{gross}", "refund", *tail])
            rows += 1
            if i in state_bad:  # the refund failed at the provider: its money came back
                writer.writerow([f"txn_f{i}", created, currency.lower(), gross, "0", gross, "refund_failure", *tail])
                rows += 1
        for k in range(missing_in_ledger):
            created = (start + timedelta(seconds=3600 + k)).strftime("%Y-%m-%d %H:%M:%S")
            writer.writerow(
                [f"txn_x{k}", created, "usd", "-9.99", "0", "-9.99", "refund", f"re_stranger_{k}", "pi_x", ""]
            )
            rows += 1
            expected.provider("USD", 999)
            expected.exception("USD")
    return {
        "refunds": n,
        "report_rows": rows,
        "report_mb": round(report.stat().st_size / 2**20, 1),
        "planted": {
            "amount_mismatch": len(amount_bad),
            "currency_mismatch": len(currency_bad),
            "state_mismatch": len(state_bad),
            "missing_at_provider": len(missing_at_provider),
            "missing_in_ledger": missing_in_ledger,
        },
        "expected_totals": expected.as_totals(),
        "seed_db_seconds": round(db_seconds, 1),
        "ledger_extract_seconds": round(extract_seconds, 2),
        "report_write_seconds": round(time.perf_counter() - started, 1),
    }


class ExpectedTotals:
    """Per-currency totals the run must report, worked out from what the seed planted.

    The rules of docs/reconciliation.md "Per-currency totals": each side's money in its own
    currency, so a planted currency mismatch (USD refund, provider says CAD) puts the ledger
    amount on the USD row and the provider amount on the CAD row - a currency our ledger never
    refunded in, hence `ledger_count` 0 there - and counts the exception on both rows.
    """

    def __init__(self) -> None:
        self.totals: dict[str, dict[str, int]] = {}

    def _row(self, currency: str) -> dict[str, int]:
        return self.totals.setdefault(
            currency, {"ledger_minor": 0, "ledger_count": 0, "provider_minor": 0, "provider_count": 0, "exceptions": 0}
        )

    def ledger(self, currency: str, amount: int) -> None:
        row = self._row(currency)
        row["ledger_minor"] += amount
        row["ledger_count"] += 1

    def provider(self, currency: str, amount: int) -> None:
        row = self._row(currency)
        row["provider_minor"] += amount
        row["provider_count"] += 1

    def exception(self, *currencies: str) -> None:
        for currency in set(currencies):
            self._row(currency)["exceptions"] += 1

    def as_totals(self) -> dict[str, dict[str, int]]:
        return {
            currency: {**row, "difference_minor": row["provider_minor"] - row["ledger_minor"]}
            for currency, row in sorted(self.totals.items())
        }


def totals_differences(expected: dict, reported: dict) -> dict:
    """Currency -> {field: (expected, reported)} wherever the run's totals differ from the seed's."""
    differences = {}
    for currency in sorted(set(expected) | set(reported)):
        want, got = expected.get(currency, {}), reported.get(currency, {})
        fields = {key: (want.get(key), got.get(key)) for key in set(want) | set(got) if want.get(key) != got.get(key)}
        if fields:
            differences[currency] = fields
    return differences


def run_child(args: list[str], env: dict[str, str]) -> dict:
    """Run one phase in its own process (it reports its own peak RSS); return wall time and output."""
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    if process.returncode != 0:
        sys.stderr.write(stderr[-4000:])
        raise SystemExit(f"{' '.join(args[:4])} failed with {process.returncode}")
    return {"wall_seconds": round(wall, 2), "stdout": stdout, "stderr": stderr}


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def phase_reconcile(day: str, report: str) -> None:
    """In a child process: what `manage.py reconcile` does, reporting its own peak RSS."""
    import django

    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("reconcile", "--date", day, "--provider-file", report)
    from reconciliation.models import ReconciliationRun

    run = ReconciliationRun.objects.filter(day=day, is_current=True).get()
    print(
        json.dumps(
            {
                "seconds": round(time.perf_counter() - started, 2),
                "run_seconds": round((run.finished_at - run.started_at).total_seconds(), 2),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "run_id": run.pk,
                "items": run.item_count,
                "counts": run.counts,
                "mismatch_rate_pct": float(run.mismatch_rate_pct),
                "totals": run.totals,
            }
        )
    )


def phase_export(run_id: int) -> None:
    """In a child process: stream the run's CSV through the finance view, sampling RSS."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    from console.finance.exports import run_export

    user = get_user_model().objects.create_superuser("bench-finance", "f@example.com", "x")
    request = RequestFactory().get(f"/finance/runs/{run_id}/export.csv")
    request.user = user
    rss_start = current_rss_mb()
    started = time.perf_counter()
    response = run_export(request, run_id=run_id)
    rows, size, samples = -1, 0, []
    for chunk in response.streaming_content:
        rows += chunk.count(b"\n")
        size += len(chunk)
        if len(samples) < 1000 and rows // 50_000 > len(samples):
            samples.append(round(current_rss_mb(), 1))
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "rows": rows,
                "mb": round(size / 2**20, 1),
                "seconds": round(seconds, 2),
                "rows_per_second": round(rows / seconds),
                "rss_start_mb": round(rss_start, 1),
                "rss_samples_mb_every_50k_rows": samples,
                "rss_end_mb": round(current_rss_mb(), 1),
                "peak_rss_mb": round(peak_rss_mb(), 1),
            }
        )
    )


def phase_pandas(report: str, ledger_extract: str, strings: str) -> None:
    """What a finance analyst would do instead: two CSVs, read, merged on the provider refund id, classified.

    `strings`: "pyarrow" is pandas 3's default string storage when pyarrow is installed; "python" is
    what pandas falls back to without it (object strings).
    """
    import numpy as np
    import pandas as pd

    if strings == "python":
        pd.set_option("future.infer_string", False)
    started = time.perf_counter()
    ours = pd.read_csv(ledger_extract)
    provider = pd.read_csv(report, usecols=["source_id", "currency", "gross", "reporting_category"])
    provider = provider[provider["reporting_category"].isin(["refund", "refund_failure"])]
    provider["currency"] = provider["currency"].str.upper()
    exponent = provider["currency"].map(EXPONENT).fillna(2)
    provider["amount_minor"] = (provider["gross"].abs() * 10**exponent).round().astype("int64")
    provider["failed"] = provider["reporting_category"] == "refund_failure"
    provider = provider.groupby("source_id", as_index=False).agg(
        amount_minor=("amount_minor", "max"), currency=("currency", "max"), failed=("failed", "any")
    )
    merged = ours.merge(
        provider, how="outer", left_on="provider_refund_id", right_on="source_id", suffixes=("_ours", "_prov")
    )

    def flag(series) -> np.ndarray:
        return series.fillna(False).to_numpy(dtype=bool)

    at_provider, in_ledger = merged["source_id"].notna(), merged["provider_refund_id"].notna()
    merged["kind"] = np.select(
        [
            flag(~at_provider),
            flag(~in_ledger),
            flag(merged["currency_ours"] != merged["currency_prov"]),
            flag(merged["amount_minor_ours"] != merged["amount_minor_prov"]),
            flag(merged["failed"]),
        ],
        ["missing_at_provider", "missing_in_ledger", "currency_mismatch", "amount_mismatch", "state_mismatch"],
        default="matched",
    )
    counts = merged["kind"].value_counts().to_dict()
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "pandas": pd.__version__,
                "strings": strings,
                "seconds": round(seconds, 2),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "counts": {k: int(v) for k, v in counts.items()},
            }
        )
    )


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--phase", choices=["reconcile", "export", "pandas"], default=None)
    parser.add_argument("--day")
    parser.add_argument("--report")
    parser.add_argument("--ledger-extract")
    parser.add_argument("--run-id", type=int)
    parser.add_argument("--strings", choices=["pyarrow", "python"], default="pyarrow")
    parser.add_argument("--db", default=DB, help=f"database to (re)create for the run (default {DB})")
    parser.add_argument(
        "--out", default=None, help="results name under benchmarks/results/ (default: reconcile, or reconcile-n<N>)"
    )
    args = parser.parse_args()
    if args.phase == "reconcile":
        return phase_reconcile(args.day, args.report)
    if args.phase == "export":
        return phase_export(args.run_id)
    if args.phase == "pandas":
        return phase_pandas(args.report, args.ledger_extract, args.strings)

    env = bench_env(args.db)
    recreate_database(args.db, env)
    day = date.today() - timedelta(days=2)
    work = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    report, extract = work / "provider_report.csv", work / "ledger_extract.csv"
    print(f"seeding {args.n:,} refunds and a provider report of as many rows ...", flush=True)
    seeded = seed(args.n, day, report, extract, db=args.db)
    print(json.dumps({k: v for k, v in seeded.items() if k != "expected_totals"}), flush=True)
    me = [sys.executable, str(Path(__file__).resolve())]

    print("reconciling ...", flush=True)
    first = last_json(
        run_child([*me, "--phase", "reconcile", "--day", str(day), "--report", str(report)], env)["stdout"]
    )
    print(json.dumps({k: v for k, v in first.items() if k != "totals"}), flush=True)
    print("re-running the same day ...", flush=True)
    again = last_json(
        run_child([*me, "--phase", "reconcile", "--day", str(day), "--report", str(report)], env)["stdout"]
    )
    print("exporting ...", flush=True)
    export = last_json(run_child([*me, "--phase", "export", "--run-id", str(again["run_id"])], env)["stdout"])
    print(json.dumps(export), flush=True)
    pandas_results: dict[str, dict] = {}
    import importlib.util

    if not args.skip_pandas and importlib.util.find_spec("pandas") is None:
        print("pandas is not installed: skipping the pandas comparison (pip install pandas pyarrow)", flush=True)
    elif not args.skip_pandas:
        backends = ["pyarrow", "python"] if importlib.util.find_spec("pyarrow") else ["python"]
        for strings in backends:
            print(f"pandas merge of the same datasets ({strings} strings) ...", flush=True)
            phase = [*me, "--phase", "pandas", "--report", str(report), "--ledger-extract", str(extract)]
            pandas_results[strings] = last_json(run_child([*phase, "--strings", strings], env)["stdout"])
            print(json.dumps(pandas_results[strings]), flush=True)

    expected = dict(seeded["planted"])
    found = {k: v for k, v in first["counts"].items() if k != "matched" and v}
    totals_off = totals_differences(seeded["expected_totals"], first["totals"])
    results = {
        "what": "one day reconciled from a Stripe-layout provider report CSV (manage.py reconcile, own process)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "day": str(day),
        "seed": seeded,
        "reconcile": first,
        "rerun": {k: again[k] for k in ("seconds", "run_seconds", "peak_rss_mb", "run_id", "items", "counts")},
        "planted_found": found == expected,
        "totals_match_seed": not totals_off,
        "totals_differences": totals_off,
        "export": export,
        "pandas": pandas_results,
        "ratio_pandas_over_ours": {
            strings: {
                "time": round(result["seconds"] / first["seconds"], 2),
                "time_with_ledger_extract": round(
                    (result["seconds"] + seeded["ledger_extract_seconds"]) / first["seconds"], 2
                ),
                "peak_rss": round(result["peak_rss_mb"] / first["peak_rss_mb"], 2),
            }
            for strings, result in pandas_results.items()
        },
        "notes": [
            "Reconcile seconds include reading and converting the report in Python, COPY into a TEMP table, "
            "the classifying INSERT … SELECT in PostgreSQL (1 row per refund written to the items table), "
            "totals, and the commit. The join work and its memory are PostgreSQL's (work_mem 256MB per hash), "
            "not the Python process's; peak_rss_mb is the Python process.",
            "pandas does not persist anything; ours writes every item, supersedes the day's previous run and audits.",
        ],
        "targets": {
            "reconcile_seconds": TARGET_SECONDS,
            "reconcile_rss_mb": TARGET_RSS_MB,
            "export_rows_per_second": TARGET_EXPORT_ROWS_S,
            "met": {
                "reconcile_seconds": first["seconds"] <= TARGET_SECONDS,
                "reconcile_rss_mb": first["peak_rss_mb"] <= TARGET_RSS_MB,
                "export_rows_per_second": export["rows_per_second"] >= TARGET_EXPORT_ROWS_S,
            },
        },
    }
    if args.out and args.out.endswith(".json"):
        path = Path(args.out)
        path.write_text(json.dumps(results, indent=2) + "\n")
    else:
        path = write_results(args.out or ("reconcile" if args.n == 1_000_000 else f"reconcile-n{args.n}"), results)
    print(json.dumps(results["targets"], indent=2))
    print(f"planted exceptions found exactly: {results['planted_found']} ({found} vs {expected})")
    print(f"per-currency totals as the seed planted them: {results['totals_match_seed']} {totals_off or ''}")
    if results["ratio_pandas_over_ours"]:
        print(f"pandas / ours: {results['ratio_pandas_over_ours']}")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
