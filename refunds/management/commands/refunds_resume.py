"""`manage.py refunds_resume {auto-approval|submission} [--provider P] --reason TEXT`: lift a kill switch."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import DomainError
from refunds.enums import PauseKind
from refunds.management.commands.refunds_pause import KINDS, add_switch_arguments, command_actor
from refunds.services.pauses import resume, scope_label


class Command(BaseCommand):
    help = (
        "Resume auto-approval or provider submission paused by refunds_pause (or the console); held messages "
        "are queued in outbox order. Audited as operations.resumed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_switch_arguments(parser)

    def handle(self, *args, kind: str, provider: str, reason: str, **options) -> None:
        try:
            row = resume(KINDS[kind], provider=provider, reason=reason, actor=command_actor("refunds_resume"))
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            f"Resumed {row.get_kind_display()} for {scope_label(row.provider)} "
            f"(paused since {row.paused_at:%Y-%m-%d %H:%M} UTC by {row.paused_by_label})."
        )
        if row.kind == PauseKind.SUBMISSION:
            self.stdout.write(f"Queued {row.counts['queued']} held message(s) in outbox order.")
