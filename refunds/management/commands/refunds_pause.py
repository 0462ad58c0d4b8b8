"""`manage.py refunds_pause {auto-approval|submission} [--provider P] --reason TEXT`: pull a kill switch.

The console's "Kill switches" page does the same (docs/runbooks.md "Kill switches").
"""

from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.actor import Actor
from core.errors import DomainError
from refunds.enums import PauseKind
from refunds.services.pauses import held_counts, pause, scope_label

# The switch names on the command line (dashes, as operators type them) -> PauseKind.
KINDS = {"auto-approval": PauseKind.AUTO_APPROVAL, "submission": PauseKind.SUBMISSION}


def command_actor(command: str) -> Actor:
    """`system:<command> (<OS user>)`: the audit trail names the command and who ran it on the host."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        who = "unknown OS user"
    return Actor.system(f"system:{command} ({who})")


def add_switch_arguments(parser: CommandParser) -> None:
    parser.add_argument("kind", choices=list(KINDS), help="which switch")
    parser.add_argument("--provider", default="", help="one provider (default: every provider)")
    parser.add_argument("--reason", required=True, help="why (incident or ticket); required, shown to every staff")


class Command(BaseCommand):
    help = (
        "Pause auto-approval (new requests go to review) or provider submission (the outbox holds messages, "
        "nothing is lost) until refunds_resume. Audited as operations.paused."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_switch_arguments(parser)

    def handle(self, *args, kind: str, provider: str, reason: str, **options) -> None:
        try:
            row = pause(KINDS[kind], provider=provider, reason=reason, actor=command_actor("refunds_pause"))
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"Paused {row.get_kind_display()} for {scope_label(row.provider)} (pause {row.pk}).")
        if row.kind == PauseKind.SUBMISSION:
            counts = row.counts
            self.stdout.write(
                f"Held: {counts['held']} message(s) waiting; {counts['in_flight']} call(s) already under way "
                "will finish. New approvals wait as approved until refunds_resume."
            )
            # What is held now, for the incident notes (the audit event recorded the count at the pause).
            now = held_counts(row.provider)
            if now != counts:
                self.stdout.write(f"Now: {now['held']} held, {now['in_flight']} in flight.")
        else:
            self.stdout.write("New requests the policy would approve go to review until refunds_resume.")
