from django.core.management.base import BaseCommand, CommandError

from audit.models import AuditSeal
from audit.services import audit_seal_pending, audit_verify


class Command(BaseCommand):
    help = (
        "Seal the events still waiting for the chain, then verify the audit hash chain end to end; "
        "exits non-zero on any break."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--no-seal",
            action="store_true",
            help="verify only what is sealed already (events still queued are checked for age, not chained)",
        )

    def handle(self, *args, **options) -> None:
        if not options["no_seal"]:
            sealed = audit_seal_pending()
            if sealed:
                self.stdout.write(f"sealed {sealed} pending event(s) first")
        problems = list(audit_verify())
        for problem in problems[:50]:
            self.stderr.write(f"{problem.where}: {problem.problem}")
        if problems:
            raise CommandError(f"audit chain BROKEN: {len(problems)} problem(s)")
        self.stdout.write(f"audit chain OK: {AuditSeal.objects.count()} events verified")
