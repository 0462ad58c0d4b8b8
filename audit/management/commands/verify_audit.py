from django.core.management.base import BaseCommand, CommandError

from audit.models import AuditEvent
from audit.services import audit_verify


class Command(BaseCommand):
    help = "Verify the audit hash chain end to end; exits non-zero on any break."

    def handle(self, *args, **options) -> None:
        problems = list(audit_verify())
        for problem in problems[:50]:
            self.stderr.write(f"seq {problem.seq}: {problem.problem}")
        if problems:
            raise CommandError(f"audit chain BROKEN: {len(problems)} problem(s)")
        self.stdout.write(f"audit chain OK: {AuditEvent.objects.count()} events verified")
