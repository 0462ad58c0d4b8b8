"""`manage.py reconcile --date YYYY-MM-DD [--provider-file F]`: reconcile one day now (operators)."""

from __future__ import annotations

import argparse
import re
import time
from datetime import date, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.actor import Actor
from core.errors import DomainError
from core.money import format_plain
from providers.registry import UnknownProvider, default_provider_name, provider_class, provider_names
from reconciliation.enums import RunSource, RunStatus
from reconciliation.models import ReconciliationRun
from reconciliation.services import reconciliation_run
from reconciliation.window import yesterday


class Command(BaseCommand):
    help = (
        "Reconcile one day of provider refunds against our refunds and ledger, from the provider's list API "
        "or from its report CSV. Re-running a day replaces its current result; the old run is kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=day_argument, default=None, help="YYYY-MM-DD (default: yesterday)")
        parser.add_argument("--provider-file", default=None, help="the provider's report CSV (default: its list API)")
        parser.add_argument(
            "--provider", default=None, choices=provider_names(), help="default: settings.PROVIDER (stripe)"
        )

    def handle(self, *args, **options) -> None:
        day = options["date"] or yesterday()
        try:
            provider = options["provider"] or default_provider_name()
        except UnknownProvider as error:
            raise CommandError(f"{error}; say --provider {' or '.join(provider_names())}") from None
        capabilities = provider_class(provider)
        report = options["provider_file"]
        if report is not None:
            _check_report_file(report)
        elif not capabilities.lists_refunds:
            raise CommandError(
                f"{capabilities.label.lower()} have no provider API: give their report with --provider-file F"
            )
        source = RunSource.FILE if report is not None else RunSource.API
        started = time.monotonic()
        try:
            run = reconciliation_run(
                day=day,
                provider=provider,
                source=source,
                file=options["provider_file"],
                actor=Actor.system("manage.py reconcile"),
            )
        except DomainError as error:
            raise CommandError(error.message) from error
        except Exception as error:
            raise CommandError(f"reconciliation of {day} failed: {type(error).__name__}: {error}") from error
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"reconciliation run {run.pk} of {day} ended {run.status}: {run.error}")
        self._report(run, time.monotonic() - started)

    def _report(self, run: ReconciliationRun, seconds: float) -> None:
        out = self.stdout
        out.write(
            f"run {run.pk}: {run.day} {run.provider} from {run.source} ({run.source_name}) in {seconds:.1f} s - "
            f"{run.provider_rows} provider rows, {run.item_count} items, {run.exception_count} exceptions, "
            f"mismatch rate {run.mismatch_rate_pct} %"
        )
        for kind, count in run.counts.items():
            if count:
                out.write(f"  {kind:<22} {count}")
        for currency, total in run.totals.items():
            out.write(
                f"  {currency}: ledger {format_safe(total['ledger_minor'], currency)}"
                f"  provider {format_safe(total['provider_minor'], currency)}"
                f"  difference {format_safe(total['difference_minor'], currency)}"
            )
        if run.exception_count:
            out.write(self.style.WARNING(f"{run.exception_count} exception(s) to look at on the finance screens"))
        else:
            out.write(self.style.SUCCESS("provider and ledger agree"))


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def day_argument(text: str) -> date:
    """`--date`: exactly YYYY-MM-DD, a real calendar day (argparse shows the message and exits 2)."""
    value = text.strip()
    if not _DAY.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a date as YYYY-MM-DD (for example 2026-11-22)")
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a calendar day ({error})") from None


def _check_report_file(path: str) -> None:
    """Refuse a report that cannot even be opened before a run is recorded (a typo is not a failed run)."""
    report = Path(path)
    if not report.exists():
        raise CommandError(f"--provider-file {path}: no such file")
    if not report.is_file():
        raise CommandError(f"--provider-file {path}: not a file")
    try:
        with report.open("rb"):
            pass
    except OSError as error:
        raise CommandError(f"--provider-file {path}: cannot be read ({error.strerror})") from None


def format_safe(amount_minor: int, currency: str) -> str:
    try:
        return format_plain(amount_minor, currency)
    except ValueError:
        return f"{amount_minor} (minor units) {currency}"
