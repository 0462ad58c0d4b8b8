"""Sending the weekly digest, once per week: email to the senior agents, a post to the approvals channel.

`digest_send(week)` is what beat's `integrations.digest.send_weekly` (Mondays)
and `manage.py send_digest` call. Side effects, in order:

1. claim the week's `DigestRun` (created if new, row-locked): a week already
   sent is not sent again (unless `force`), and a week another process is
   sending right now (its claim's lease has not run out) is left to it — so
   beat firing twice, a retried task and the command run by hand send once;
2. build the digest and render it (`integrations.digest`, `integrations.digest_render`);
3. one email per senior agent (active, with an address), each addressed to
   that person alone over one SMTP connection: a message addressed only by
   BCC is what spam filters mark down, and one rejected address then fails
   one message, not the lot. Each address is recorded on the run as soon as
   its message is accepted, so a retry after a failure part-way emails only
   those not reached yet (an address refused for good, 5xx, is logged and skipped);
4. the run marked sent, with the rendered Slack blocks; after commit the
   Slack post is queued (`integrations.slack.post_digest`, the Slack queue),
   when the integration is on — otherwise the email is the whole digest.

`dry_run` builds and renders only: nothing is claimed, emailed or posted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from smtplib import SMTPException, SMTPRecipientsRefused

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.utils import timezone

from integrations.digest import IsoWeek, digest_build
from integrations.digest_render import digest_html, digest_slack, digest_text, subject
from integrations.models import DigestRun
from integrations.slack.client import slack_enabled
from integrations.slack.digest import digest_post_enqueue
from refunds.enums import Role

logger = logging.getLogger("integrations.digest")

# How long a sender holds a week: longer than building and emailing take, short enough that a
# sender that died is taken over by the next try (beat's task retries, or the command).
CLAIM_SECONDS = 600
# Pending Slack posts of runs this recent are re-queued by the weekly task (a lost queue message,
# a worker that died mid-post): the sweeper of this small outbox.
SWEEP_DAYS = 35

SENT = "sent"
ALREADY_SENT = "already_sent"
IN_PROGRESS = "in_progress"
DRY_RUN = "dry_run"


@dataclass
class SendResult:
    week: IsoWeek
    status: str
    recipients: list[str] = field(default_factory=list)
    text: str = ""  # the plain-text digest, when it was built
    slack: str = ""  # "queued", "posted", "pending", "off"
    sent_at: datetime | None = None


def digest_recipients() -> list[str]:
    """The senior agents' addresses: active users in the senior agent role with an email, once each."""
    emails = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=Role.SENIOR_AGENT)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )
    return list({email.lower(): email for email in emails}.values())


def digest_send(week: IsoWeek, *, dry_run: bool = False, force: bool = False) -> SendResult:
    """Send `week`'s digest unless it was sent already (`force` sends it again); see the module docstring."""
    if dry_run:
        digest = digest_build(week)
        slack = "would be posted" if slack_enabled() else "off"
        return SendResult(week, DRY_RUN, digest_recipients(), digest_text(digest), slack)
    run, status = _claim(week, force=force)
    if status != SENT:
        slack = _slack_state(run)
        if run.slack_pending and slack_enabled() and status == ALREADY_SENT:
            # Sent, but its post is still owed (a lost task, a failure since fixed): ask again.
            digest_post_enqueue(run.pk)
            slack = "queued"
        return SendResult(week, status, list(run.recipients), slack=slack, sent_at=run.sent_at)
    try:
        digest = digest_build(week)
        text, html, title = digest_text(digest), digest_html(digest), subject(digest)
        slack_text, blocks = digest_slack(digest)
        _email(run, title=title, text=text, html=html)
    except BaseException:
        DigestRun.objects.filter(pk=run.pk).update(claimed_until=None)
        raise
    wanted = slack_enabled()
    with transaction.atomic():
        run = DigestRun.objects.select_for_update().get(pk=run.pk)
        run.sent_at = timezone.now()
        run.sends += 1
        run.claimed_until = None
        fields = ["sent_at", "sends", "claimed_until"]
        if wanted or force:
            # A forced resend posts a new message; the earlier one stays in the channel.
            run.slack_wanted, run.slack_text, run.slack_blocks = wanted, slack_text, blocks
            run.slack_channel, run.slack_ts, run.slack_posted_at = "", "", None
            run.slack_attempts, run.slack_last_error, run.slack_available_at = 0, "", None
            fields += ["slack_wanted", "slack_text", "slack_blocks", "slack_channel", "slack_ts"]
            fields += ["slack_posted_at", "slack_attempts", "slack_last_error", "slack_available_at"]
        run.save(update_fields=fields)
        if wanted:
            transaction.on_commit(lambda: digest_post_enqueue(run.pk))
    logger.info(
        "digest sent",
        extra={"message_id": "MSG.digest.sent", "week": str(week), "recipients": len(run.recipients)},
    )
    return SendResult(week, SENT, list(run.recipients), text, "queued" if wanted else "off", run.sent_at)


def _slack_state(run: DigestRun) -> str:
    if not run.slack_wanted:
        return "off"
    return "posted" if run.slack_ts else "pending"


def _claim(week: IsoWeek, *, force: bool) -> tuple[DigestRun, str]:
    """Take the week for this sender, or say why not (sent already, being sent)."""
    now = timezone.now()
    with transaction.atomic():
        # Two senders creating the row at once: the second waits on the unique index, then finds it.
        DigestRun.objects.get_or_create(week=str(week))
        run = DigestRun.objects.select_for_update().get(week=str(week))
        if run.claimed_until and run.claimed_until > now:
            return run, IN_PROGRESS
        if run.sent_at and not force:
            return run, ALREADY_SENT
        if run.sent_at:
            run.recipients = []  # a forced resend goes to everyone again
        run.claimed_until = now + timedelta(seconds=CLAIM_SECONDS)
        run.save(update_fields=["claimed_until", "recipients"])
    return run, SENT


def _email(run: DigestRun, *, title: str, text: str, html: str) -> None:
    """One message per senior not emailed yet in this round, each recorded on the run once accepted."""
    done = {email.lower() for email in run.recipients}
    pending = [email for email in digest_recipients() if email.lower() not in done]
    if not pending:
        return
    with get_connection() as connection:
        for email in pending:
            message = EmailMultiAlternatives(
                subject=title, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[email], connection=connection
            )
            message.attach_alternative(html, "text/html")
            try:
                message.send()
            except SMTPRecipientsRefused as error:
                codes = [code for code, _ in error.recipients.values()]
                if not codes or min(codes) < 500:
                    raise  # try later (451 …): the task's retry emails who was not reached yet
                # No such mailbox (5xx): retrying will not change it; the others still get theirs.
                logger.warning(
                    "digest email refused", extra={"message_id": "MSG.digest.email_refused", "code": max(codes)}
                )
                continue
            run.recipients = [*run.recipients, email]
            DigestRun.objects.filter(pk=run.pk).update(recipients=run.recipients)


@shared_task(
    name="integrations.digest.send_weekly",
    autoretry_for=(OSError, SMTPException),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=6,
    acks_late=True,
)
def send_weekly() -> str:
    """Beat, Mondays: last week's digest (once), then any recent Slack post still owed is queued again."""
    result = digest_send(IsoWeek.last_complete())
    if slack_enabled():
        since = timezone.now() - timedelta(days=SWEEP_DAYS)
        owed = DigestRun.objects.filter(
            slack_wanted=True, slack_ts="", sent_at__gte=since, claimed_until__isnull=True
        ).exclude(week=str(result.week))
        for run_id in owed.values_list("pk", flat=True):
            digest_post_enqueue(run_id)
    return result.status
