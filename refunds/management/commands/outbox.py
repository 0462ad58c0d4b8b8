"""Operators' view of the provider outbox: list dead letters and replay them."""

from django.core.management.base import BaseCommand, CommandError

from core.actor import Actor
from core.errors import DomainError
from refunds.enums import OutboxStatus
from refunds.models import OutboxMessage
from refunds.services.outbox import outbox_replay


class Command(BaseCommand):
    help = "List provider outbox messages by status, or replay dead-lettered ones."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--status", default=OutboxStatus.DEAD, choices=OutboxStatus.values)
        parser.add_argument("--replay", nargs="*", type=int, metavar="ID", help="replay these dead messages")
        parser.add_argument("--replay-all-dead", action="store_true")

    def handle(self, *args, status: str, replay: list[int] | None, replay_all_dead: bool, **options) -> None:
        ids = list(replay or [])
        if replay_all_dead:
            ids += list(OutboxMessage.objects.filter(status=OutboxStatus.DEAD).values_list("pk", flat=True))
        actor = Actor.system("operator (manage.py outbox)")
        for message_id in ids:
            try:
                outbox_replay(message_id=message_id, actor=actor)
            except (DomainError, OutboxMessage.DoesNotExist) as error:
                raise CommandError(f"message {message_id}: {error}") from None
            self.stdout.write(f"replayed {message_id}")
        if ids:
            return
        rows = OutboxMessage.objects.filter(status=status).select_related("refund").order_by("updated_at")
        for message in rows.iterator():
            self.stdout.write(
                f"{message.pk}\t{message.refund.public_id}\t{message.refund.state}\tattempts={message.attempts}\t"
                f"key={message.idempotency_key}\t{message.last_error[:120]}"
            )
        self.stderr.write(f"{rows.count()} message(s) {status}")
