"""Run the synthetic refund once (operations.synthetic), or show the last runs (--last)."""

from django.core.management.base import BaseCommand, CommandError

from operations.models import SyntheticRun
from operations.synthetic import SyntheticBusy, SyntheticRefused, synthetic_refund_run


class Command(BaseCommand):
    help = (
        "Take a test-mode refund end to end (payment, create, decision, provider, webhook, ledger, audit), "
        "print each step's time, exit non-zero on any failure. Needs the web, a worker and beat running."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--provider", default=None, help="provider name (default SYNTHETIC_PROVIDER or PROVIDER)")
        parser.add_argument(
            "--step-timeout", type=float, default=None, help="seconds per step (SYNTHETIC_STEP_TIMEOUT_SECONDS)"
        )
        parser.add_argument(
            "--last", type=int, nargs="?", const=1, default=None, metavar="N", help="show the last N runs"
        )

    def handle(self, *args, provider: str | None, step_timeout: float | None, last: int | None, **options) -> None:
        if last is not None:
            self._show(last)
            return
        try:
            run = synthetic_refund_run(provider=provider, step_timeout=step_timeout, out=self.stdout.write)
        except SyntheticBusy as busy:
            raise CommandError(f"already running: {busy}") from None  # exit 1: this one did not run
        except SyntheticRefused as refusal:
            raise CommandError(f"refused: {refusal}") from None
        if not run.ok:
            raise CommandError(f"synthetic refund failed at {run.error}")
        self.stdout.write(f"synthetic refund {run.refund_public_id} ok (run {run.pk})")

    def _show(self, count: int) -> None:
        runs = list(SyntheticRun.objects.order_by("-started_at", "-id")[: max(count, 1)])
        if not runs:
            self.stdout.write("no synthetic run yet")
        for run in runs:
            outcome = {True: "ok", False: "FAILED", None: "running"}[run.ok]
            steps = " ".join(f"{s['step']}={s['seconds']:.2f}s{'' if s['ok'] else '!'}" for s in run.steps)
            error = f"  {run.error}" if run.error else ""
            self.stdout.write(
                f"{run.started_at:%Y-%m-%d %H:%M:%S} {outcome:<7} {run.provider} {run.refund_public_id or '-'} "
                f"{steps}{error}"
            )
