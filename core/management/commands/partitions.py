"""`manage.py partitions`: create the coming months' partitions now and say how every partitioned table stands.

Beat runs the same work every hour (`operations.ensure_partitions`); this is
for a deploy script, a person after an alert, or a database restored from a
backup taken months ago. Exits non-zero when something needs a person: rows
in a default partition, a month that could not get its partition, or no
partition for next month (docs/operations.md "Partitions").
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.partitions import partitions_ensure


class Command(BaseCommand):
    help = "Create the monthly partitions due within --months-ahead months, then report each partitioned table."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--months-ahead",
            type=int,
            default=settings.PARTITION_MONTHS_AHEAD,
            help="how many months after the current one get their partition now (default PARTITION_MONTHS_AHEAD)",
        )

    def handle(self, *args, **options) -> None:
        if options["months_ahead"] < 1:
            raise CommandError("--months-ahead must be at least 1: next month's rows need their partition")
        reports = partitions_ensure(months_ahead=options["months_ahead"])
        if not reports:
            self.stdout.write("no partitioned tables (SQLite, or migrations not applied)")
            return
        problems = []
        for report in reports:
            line = (
                f"{report.table} by month of {report.column}: {report.months_ahead} month(s) ahead, "
                f"{report.default_rows} row(s) in the default partition"
            )
            if report.created:
                line += f"; created {', '.join(report.created)}"
            self.stdout.write(line)
            for name in report.blocked:
                problems.append(f"{name}: rows of that month are in {report.table}'s default partition")
            for name in report.deferred:
                problems.append(f"{name}: not created, a lock was not granted in time (run again)")
            if report.default_rows:
                problems.append(f"{report.table}: {report.default_rows} row(s) in its default partition")
            if report.months_ahead < 1:
                problems.append(f"{report.table}: next month has no partition")
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f'{len(problems)} partition problem(s): see docs/operations.md "Partitions"')
