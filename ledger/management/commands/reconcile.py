"""`manage.py reconcile --date YYYY-MM-DD [--provider-file F]`: reconcile one day now (operators)."""

from __future__ import annotations

import time
from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import Actor
from ledger.reconcile.enums import ReconProvider, RunSource, RunStatus
from ledger.reconcile.services import reconciliation_run
from ledger.reconcile.window import yesterday
from refunds.errors import DomainError
from refunds.money import format_plain


class Command(BaseCommand):
    help = (
        "Reconcile one day of provider refunds against our refunds and ledger, from the provider's list API "
        "or from its report CSV. Re-running a day replaces its current result; the old run is kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: yesterday)")
        parser.add_argument("--provider-file", default=None, help="the provider's report CSV (default: its list API)")
        parser.add_argument(
            "--provider", default=None, choices=ReconProvider.values, help="default: settings.PROVIDER (stripe)"
        )

    def handle(self, *args, **options) -> None:
        day = options["date"] or yesterday()
        provider = options["provider"] or getattr(settings, "PROVIDER", ReconProvider.STRIPE)
        source = RunSource.FILE if options["provider_file"] else RunSource.API
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

    def _report(self, run, seconds: float) -> None:
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


def format_safe(amount_minor: int, currency: str) -> str:
    try:
        return format_plain(amount_minor, currency)
    except ValueError:
        return f"{amount_minor} (minor units) {currency}"
