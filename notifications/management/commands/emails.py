"""Operators' view of the customer email outbox: list emails by status, replay failed ones (docs/runbooks.md)."""

from django.core.management.base import BaseCommand, CommandError

from notifications.models import CustomerEmail, EmailStatus
from notifications.outbox import email_replay


class Command(BaseCommand):
    help = "List customer emails by status (default: failed), or send failed ones again."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--status", default=EmailStatus.FAILED, choices=EmailStatus.values)
        parser.add_argument("--refund", help="only this refund's emails (its public id, rf_…)")
        parser.add_argument("--replay", nargs="*", type=int, metavar="ID", help="send these failed emails again")
        parser.add_argument("--replay-all-failed", action="store_true")

    def handle(self, *args, status: str, refund: str | None, replay, replay_all_failed: bool, **options) -> None:
        rows = CustomerEmail.objects.select_related("refund").order_by("updated_at")
        if refund:
            rows = rows.filter(refund__public_id=refund)
        ids = list(replay or [])
        if replay_all_failed:
            ids += list(rows.filter(status=EmailStatus.FAILED).values_list("pk", flat=True))
        for email_id in ids:
            try:
                email_replay(email_id=email_id)
            except (ValueError, CustomerEmail.DoesNotExist) as error:
                raise CommandError(f"email {email_id}: {error}") from None
            self.stdout.write(f"replayed {email_id}")
        if ids:
            return
        rows = rows.filter(status=status)
        for email in rows.iterator():
            self.stdout.write(
                f"{email.pk}\t{email.refund.public_id}\t{email.message_id}\tattempts={email.attempts}\t"
                f"{email.status}\t{email.last_error}"
            )
        self.stderr.write(f"{rows.count()} email(s) {status}")
