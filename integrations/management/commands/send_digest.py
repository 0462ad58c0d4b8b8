"""`manage.py send_digest [--week YYYY-Www] [--dry-run] [--force]`: the weekly digest on demand (docs/slack.md)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.digest import IsoWeek
from integrations.digest_send import ALREADY_SENT, DRY_RUN, IN_PROGRESS, digest_send


class Command(BaseCommand):
    help = (
        "Send the weekly digest of an ISO week (default: the last complete one) by email to the senior agents "
        "and to the Slack approvals channel, once per week; --dry-run prints it and sends nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--week", help="The ISO week, e.g. 2026-W45 (default: last week)")
        parser.add_argument("--dry-run", action="store_true", help="Print the text digest; send and record nothing")
        parser.add_argument("--force", action="store_true", help="Send again a week that was already sent")

    def handle(self, *args, week: str | None, dry_run: bool, force: bool, **options) -> None:
        try:
            iso_week = IsoWeek.parse(week) if week is not None else IsoWeek.last_complete()
        except ValueError as error:
            raise CommandError(str(error)) from None
        result = digest_send(iso_week, dry_run=dry_run, force=force)
        channel = settings.SLACK_APPROVALS_CHANNEL or "(no channel)"
        if result.status == DRY_RUN:
            self.stdout.write(result.text)
            slack = f"post to {channel}" if result.slack != "off" else "no Slack post (the integration is off)"
            self.stderr.write(f"Dry run: nothing sent. Would email {len(result.recipients)} senior agents and {slack}.")
        elif result.status == ALREADY_SENT:
            self.stderr.write(
                f"The digest of {iso_week} was already sent ({result.sent_at:%Y-%m-%d %H:%M} UTC) to "
                f"{len(result.recipients)} senior agents; Slack: {result.slack}. --force sends it again."
            )
        elif result.status == IN_PROGRESS:
            raise CommandError(f"The digest of {iso_week} is being sent right now by another process.")
        else:
            self.stderr.write(
                f"Sent the digest of {iso_week} to {len(result.recipients)} senior agents; Slack post: {result.slack}."
            )
