"""Customer emails: one per transition, in the customer's language, written with it, sent after commit, retried."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import transaction
from django.utils import timezone, translation

from audit.models import AuditEvent
from notifications.messages import (
    MSG_APPROVED,
    MSG_COMPLETED,
    MSG_DECLINED,
    MSG_FAILED,
    MSG_FAILED_RETRYING,
    MSG_REQUEST_ACCEPTED,
    message_get,
)
from notifications.models import CustomerEmail, EmailStatus
from notifications.outbox import deliver_email, email_deliver, email_sweep
from notifications.tasks import send_refund_email
from providers.base import ProviderOutcome
from refunds.enums import Reason, Recommendation, RefundState
from refunds.models import OutboxMessage, Refund
from refunds.services.cancel import refund_cancel
from refunds.services.decide import refund_approve, refund_deny, refund_edit
from refunds.services.outbox import outbox_claim
from refunds.services.outcome import refund_apply_outcome
from tests.refunds.factories import agent, make_refund, move_refund
from tests.support.customer_states import DECLINE_REASON, LANGUAGES, compile_catalogues, customer_order

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module", autouse=True)
def _catalogues() -> None:
    compile_catalogues()


@pytest.fixture(autouse=True)
def _emails_run_inline():
    """Run the email task in-process (as CELERY_TASK_ALWAYS_EAGER would) without making
    every other task eager: provider delivery is not the subject here."""

    def run_now(*, kwargs, **options):
        return deliver_email.apply(kwargs=kwargs)

    with mock.patch.object(deliver_email, "apply_async", side_effect=run_now) as queued:
        yield queued


def _requested(language: str = "en", **order_fields) -> Refund:
    order = customer_order(locale=language, **order_fields)
    return make_refund(order=order, amount_minor=4250, reason=Reason.GOODWILL)


def _provider_outcome(refund: Refund, state: str, *, retryable: bool = False) -> None:
    """An approved refund sent (outbox claim), then the provider's answer applied by the real service."""
    message = OutboxMessage.objects.get(refund=refund)
    assert outbox_claim(message_id=message.pk) is not None
    if state == RefundState.COMPLETED:
        outcome = ProviderOutcome(status="succeeded", provider_refund_id=f"re_{refund.public_id}")
    else:
        code = "insufficient_funds" if retryable else "expired_or_canceled_card"
        outcome = ProviderOutcome(
            status="failed", provider_refund_id=f"re_{refund.public_id}", failure_code=code, retryable=retryable
        )
    refund_apply_outcome(refund_id=refund.pk, outcome=outcome, source="test")
    refund.refresh_from_db()


def _transition(kind: str, language: str, captured) -> Refund:
    """Run one transition with on-commit callbacks executed; return the refund."""
    with captured(execute=True):
        refund = _requested(language)
    if kind == "accepted":
        return refund
    mail.outbox.clear()
    with captured(execute=True):
        if kind == "declined":
            refund_deny(refund_id=refund.pk, actor=agent("decliner"), note=DECLINE_REASON)
        else:
            refund_approve(refund_id=refund.pk, actor=agent("approver"))
    if kind in ("completed", "failed", "failed_retryable"):
        mail.outbox.clear()
        with captured(execute=True):
            state = RefundState.COMPLETED if kind == "completed" else RefundState.FAILED
            _provider_outcome(refund, state, retryable=kind == "failed_retryable")
    return refund


EXPECTED = {
    "accepted": MSG_REQUEST_ACCEPTED,
    "approved": MSG_APPROVED,
    "declined": MSG_DECLINED,
    "completed": MSG_COMPLETED,
    "failed": MSG_FAILED,
    "failed_retryable": MSG_FAILED_RETRYING,
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", list(EXPECTED))
def test_each_transition_sends_one_email_in_the_customers_language(django_capture_on_commit_callbacks, kind, language):
    refund = _transition(kind, language, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    message = message_get(EXPECTED[kind])
    with translation.override(language):
        title, body = str(message.title), str(message.body)
    assert email.to == ["jane.doe@example.com"]
    assert email.subject == f"{title} · {refund.order.order_id}"
    assert email.extra_headers["Content-Language"] == language
    assert body in email.body
    assert refund.status_url in email.body
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert f'<html lang="{language}" dir="{"rtl" if language == "ar" else "ltr"}">' in html
    assert f'href="{refund.status_url}"' in html
    assert title in html
    if language != "en":
        assert title != str(message.title)


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_each_email_is_on_the_refunds_timeline(django_capture_on_commit_callbacks, kind):
    refund = _transition(kind, "de", django_capture_on_commit_callbacks)
    event = AuditEvent.objects.filter(refund=refund, action="notification.sent").latest("id")
    assert event.actor_type == "system"
    assert event.actor_label == "notifier"
    assert event.note == f"{EXPECTED[kind]} (de)"
    assert event.after == {"channel": "email", "message_id": EXPECTED[kind], "language": "de"}
    assert "jane.doe" not in str(event.after) + event.note


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ({"status": "succeeded", "provider_refund_id": "re_done"}, MSG_COMPLETED),
        ({"status": "failed", "provider_refund_id": "re_no", "failure_code": "card_expired"}, MSG_FAILED),
        (
            {"status": "failed", "provider_refund_id": "re_later", "failure_code": "rate_limit", "retryable": True},
            MSG_FAILED_RETRYING,
        ),
    ],
    ids=["completed", "failed", "failed_retryable"],
)
def test_the_provider_outcome_service_itself_sends_the_email(django_capture_on_commit_callbacks, outcome, expected):
    """The real service, not a stand-in: a move that did not signal its commit would fail here."""
    with django_capture_on_commit_callbacks(execute=True):
        refund = _requested("ar")
        refund_approve(refund_id=refund.pk, actor=agent("approver"))
    Refund.objects.filter(pk=refund.pk).update(state=RefundState.SUBMITTING, submitted_at=timezone.now())
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _, applied = refund_apply_outcome(refund_id=refund.pk, outcome=ProviderOutcome(**outcome), source="test")
    assert applied
    assert [e.extra_headers["X-Refund-Message"] for e in mail.outbox] == [expected]
    assert mail.outbox[0].extra_headers["Content-Language"] == "ar"


@pytest.mark.parametrize(
    ("currency", "language", "amount"),
    [("JPY", "en", "¥4,250"), ("KWD", "de", "4,250\xa0KWD"), ("KWD", "ar", "4.250\xa0د.ك.\u200f")],
)
def test_the_email_amount_is_formatted_for_the_currency_and_language(
    django_capture_on_commit_callbacks, currency, language, amount
):
    with django_capture_on_commit_callbacks(execute=True):
        _requested(language, currency=currency, amount_minor=10000)
    (email,) = mail.outbox
    assert amount in email.body
    assert amount in email.alternatives[0][0]


def test_an_arabic_html_email_is_right_to_left_even_where_the_html_element_is_dropped(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        refund = _requested("ar")
        refund_deny(refund_id=refund.pk, actor=agent("decliner"), note=DECLINE_REASON)
    html = mail.outbox[-1].alternatives[0][0]
    # Webmail keeps the body's content only: the wrapper repeats lang and dir, and
    # the sides are physical (left/right) because mail clients ignore logical CSS.
    assert '<div lang="ar" dir="rtl"' in html
    assert "text-align:right" in html
    assert "border-right:4px solid" in html
    assert "inline-start" not in html and "inline-end" not in html
    assert '<blockquote dir="auto"' in html


def test_approval_email_carries_the_reply_the_agent_edited(django_capture_on_commit_callbacks):
    refund = _requested()
    refund_edit(refund_id=refund.pk, actor=agent("editor"), reply="Sorry the mug arrived chipped — refund on its way.")
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(refund_id=refund.pk, actor=agent("approver"))
    (email,) = mail.outbox
    assert "Message from our team:" in email.body
    assert "Sorry the mug arrived chipped — refund on its way." in email.body
    assert "Sorry the mug arrived chipped — refund on its way." in email.alternatives[0][0]


def _captured_long_ago():
    return customer_order(captured_at=timezone.now() - timedelta(days=90))  # outside the window


def test_approving_a_decline_recommendation_never_mails_the_policys_decline_draft(django_capture_on_commit_callbacks):
    refund = make_refund(order=_captured_long_ago(), amount_minor=1000)
    assert refund.recommendation == Recommendation.DECLINE and "cannot approve" in refund.draft_reply
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(refund_id=refund.pk, actor=agent("approver"))  # e.g. through the API
    (email,) = mail.outbox
    assert "cannot approve" not in email.body
    assert "Message from our team:" not in email.body
    assert "cannot approve" not in email.alternatives[0][0]


def test_a_rewritten_reply_goes_out_with_an_overriding_approval(django_capture_on_commit_callbacks):
    refund = make_refund(order=_captured_long_ago(), amount_minor=1000)
    refund_edit(refund_id=refund.pk, actor=agent("editor"), reply="We made an exception for you.")
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(refund_id=refund.pk, actor=agent("approver"))
    (email,) = mail.outbox
    assert "We made an exception for you." in email.body


def test_decline_email_carries_the_agents_reason(django_capture_on_commit_callbacks):
    refund = _transition("declined", "en", django_capture_on_commit_callbacks)
    (email,) = mail.outbox
    assert DECLINE_REASON in email.body
    assert refund.status_url in email.body


def test_a_refund_approved_by_policy_at_creation_gets_only_the_approval_email(django_capture_on_commit_callbacks):
    order = customer_order()
    with django_capture_on_commit_callbacks(execute=True):
        refund = make_refund(order=order, amount_minor=1000, reason=Reason.OTHER)
    assert refund.state == RefundState.APPROVED
    assert [e.extra_headers["X-Refund-Message"] for e in mail.outbox] == [MSG_APPROVED]


def test_cancel_and_submission_send_no_email(django_capture_on_commit_callbacks):
    refund = _requested()
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(refund_id=refund.pk, actor=agent("approver"))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_claim(message_id=OutboxMessage.objects.get(refund=refund).pk) is not None
    assert Refund.objects.get(pk=refund.pk).state == RefundState.SUBMITTING

    other = _requested()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        refund_cancel(refund_id=other.pk, actor=agent("canceler"))
    assert mail.outbox == []


def _row(refund: Refund, message_id: str) -> CustomerEmail:
    return CustomerEmail.objects.get(refund=refund, message_id=message_id)


def test_the_email_is_written_with_the_move_and_queued_only_after_commit(django_capture_on_commit_callbacks):
    refund = _requested()
    with mock.patch.object(deliver_email, "apply_async") as queue:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            refund_approve(refund_id=refund.pk, actor=agent("approver"))
        email = _row(refund, MSG_APPROVED)  # in the move's transaction
        assert (email.status, email.refund_version) == (EmailStatus.PENDING, Refund.objects.get(pk=refund.pk).version)
        assert not queue.called
        for callback in callbacks:
            callback()
    queue.assert_called_once()
    assert queue.call_args.kwargs["kwargs"] == {"email_id": email.pk}


def test_nothing_is_written_or_sent_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    refund = _requested()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        refund_approve(refund_id=refund.pk, actor=agent("approver"))
        raise RuntimeError("something later in the request failed")
    assert callbacks == []
    assert mail.outbox == []
    assert not CustomerEmail.objects.filter(refund=refund, message_id=MSG_APPROVED).exists()
    assert Refund.objects.get(pk=refund.pk).state == RefundState.REQUESTED


def test_an_email_that_cannot_be_written_rolls_the_move_back():
    refund = _requested()
    with (
        mock.patch("notifications.receivers.email_write", side_effect=RuntimeError("outbox insert failed")),
        pytest.raises(RuntimeError),
    ):
        refund_approve(refund_id=refund.pk, actor=agent("approver"))
    assert Refund.objects.get(pk=refund.pk).state == RefundState.REQUESTED


def test_a_broker_outage_neither_blocks_nor_undoes_the_refund_and_leaves_the_email_to_the_sweeper(
    django_capture_on_commit_callbacks, caplog
):
    from core.queueing import TASK_ENQUEUE_FAILED_TOTAL

    failed = TASK_ENQUEUE_FAILED_TOTAL.labels(task="notifications.deliver_email")
    before = failed._value.get()
    refund = _requested()
    with (
        mock.patch.object(deliver_email, "apply_async", side_effect=ConnectionError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        approved = refund_approve(refund_id=refund.pk, actor=agent("approver"))
    assert approved.state == RefundState.APPROVED
    assert Refund.objects.get(pk=refund.pk).state == RefundState.APPROVED
    assert any(getattr(r, "message_id", "") == "MSG.notification.enqueue_failed" for r in caplog.records)
    assert failed._value.get() == before + 1
    email = _row(refund, MSG_APPROVED)
    assert (email.status, email.enqueued_until) == (EmailStatus.PENDING, None)  # the next sweep queues it

    with django_capture_on_commit_callbacks(execute=True):
        assert email_sweep() == 1
    assert [m.extra_headers["X-Refund-Message"] for m in mail.outbox] == [MSG_APPROVED]


def test_the_sweeper_queues_a_lost_email_once_and_leaves_queued_and_leased_ones_alone(settings):
    refund = _requested()  # its on-commit task never ran: "lost"
    email = _row(refund, MSG_REQUEST_ACCEPTED)
    assert email.enqueued_until is not None
    with mock.patch.object(deliver_email, "apply_async") as queue:
        assert email_sweep() == 0  # its task may still start
        CustomerEmail.objects.filter(pk=email.pk).update(enqueued_until=timezone.now() - timedelta(seconds=1))
        assert email_sweep() == 1
        assert email_sweep() == 0  # queued once: the marker says so until the task should have started
        CustomerEmail.objects.filter(pk=email.pk).update(
            enqueued_until=None, lease_expires_at=timezone.now() + timedelta(minutes=5)
        )
        assert email_sweep() == 0  # a worker is sending it
    assert [c.kwargs["kwargs"] for c in queue.call_args_list] == [{"email_id": email.pk}]


class FlakyBackend(LocmemBackend):
    """Fails the first `failures` sends with `error`, then delivers to mail.outbox."""

    failures = 0
    error: Exception = smtplib.SMTPServerDisconnected("connection lost")
    attempts = 0

    def send_messages(self, messages):
        type(self).attempts += 1
        if type(self).attempts <= type(self).failures:
            raise type(self).error
        return super().send_messages(messages)


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.attempts = 0
    yield FlakyBackend
    FlakyBackend.failures = 0
    FlakyBackend.error = smtplib.SMTPServerDisconnected("connection lost")


def _approved_refund() -> Refund:
    refund = _requested()
    refund_approve(refund_id=refund.pk, actor=agent("approver"))
    return refund


def _deliver_with_retries(refund: Refund, message_id: str, capture) -> CustomerEmail:
    """Run the email's task as a worker would, each backoff's countdown task run at once (in-process)."""
    email = _row(refund, message_id)
    with capture(execute=True):
        deliver_email.apply(kwargs={"email_id": email.pk})
    email.refresh_from_db()
    return email


def test_a_transient_smtp_failure_is_retried_until_sent(flaky, django_capture_on_commit_callbacks):
    flaky.failures = 2
    refund = _approved_refund()
    email = _deliver_with_retries(refund, MSG_APPROVED, django_capture_on_commit_callbacks)
    assert flaky.attempts == 3
    assert (email.status, email.attempts) == (EmailStatus.SENT, 3)
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(refund=refund, action="notification.sent").count() == 1
    assert not AuditEvent.objects.filter(refund=refund, action="notification.failed").exists()


@pytest.mark.parametrize(
    "error",
    [
        smtplib.SMTPConnectError(421, b"try later"),
        smtplib.SMTPRecipientsRefused({"jane.doe@example.com": (450, b"mailbox busy")}),
        ConnectionRefusedError(111, "refused"),
        TimeoutError("timed out"),
    ],
)
def test_retries_are_bounded_and_the_give_up_is_on_the_timeline(
    flaky, error, settings, django_capture_on_commit_callbacks
):
    flaky.failures, flaky.error = 100, error
    refund = _approved_refund()
    before = Refund.objects.get(pk=refund.pk)
    email = _deliver_with_retries(refund, MSG_APPROVED, django_capture_on_commit_callbacks)
    assert flaky.attempts == settings.EMAIL_MAX_ATTEMPTS
    assert email.status == EmailStatus.FAILED
    assert mail.outbox == []
    failed = AuditEvent.objects.get(refund=refund, action="notification.failed")
    assert failed.note.startswith(f"{MSG_APPROVED} (en): gave up after retries: {type(error).__name__}")
    assert "jane.doe" not in failed.note + str(failed.after) + email.last_error
    after = Refund.objects.get(pk=refund.pk)
    assert (after.state, after.updated_at) == (before.state, before.updated_at)


def test_a_permanent_refusal_is_not_retried(flaky, django_capture_on_commit_callbacks):
    flaky.failures = 100
    flaky.error = smtplib.SMTPRecipientsRefused({"jane.doe@example.com": (550, b"no such user")})
    refund = _approved_refund()
    email = _deliver_with_retries(refund, MSG_APPROVED, django_capture_on_commit_callbacks)
    assert flaky.attempts == 1
    assert email.status == EmailStatus.FAILED
    failed = AuditEvent.objects.get(refund=refund, action="notification.failed")
    assert failed.note == f"{MSG_APPROVED} (en): SMTPRecipientsRefused"


def test_a_transient_error_backs_off_on_the_row_and_a_later_attempt_sends(flaky):
    flaky.failures = 1
    refund = _approved_refund()
    email = _row(refund, MSG_APPROVED)
    with mock.patch.object(deliver_email, "apply_async"):  # the countdown task is not run here
        assert email_deliver(email_id=email.pk) == "retry"
    email.refresh_from_db()
    assert (email.status, email.attempts, email.lease_expires_at) == (EmailStatus.PENDING, 1, None)
    assert email.available_at > timezone.now()
    assert email.last_error == "SMTPServerDisconnected"
    assert not AuditEvent.objects.filter(refund=refund, action__startswith="notification.").exists()
    assert email_deliver(email_id=email.pk) == "sent"


def _fails_once(real, error: Exception):
    calls = []

    def call(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise error
        return real(**kwargs)

    return call


def test_the_database_failing_after_the_send_records_it_without_sending_again():
    from django.db import OperationalError

    from notifications import outbox

    refund = _approved_refund()
    email = _row(refund, MSG_APPROVED)
    with mock.patch.object(
        outbox, "email_record_sent", side_effect=_fails_once(outbox.email_record_sent, OperationalError("closed"))
    ) as rec:
        result = deliver_email.apply(kwargs={"email_id": email.pk})
    assert result.successful() and result.result == "sent"
    assert rec.call_count == 2
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(refund=refund, action="notification.sent").count() == 1


def test_the_database_failing_before_the_claim_is_retried_by_the_task():
    from django.db import OperationalError

    from notifications import outbox

    refund = _approved_refund()
    email = _row(refund, MSG_APPROVED)
    claim = _fails_once(outbox.email_claim, OperationalError("closed"))
    with mock.patch.object(outbox, "email_claim", side_effect=claim):
        result = deliver_email.apply(kwargs={"email_id": email.pk})
    assert result.result == "sent"
    assert len(mail.outbox) == 1


def test_a_redelivered_task_does_not_send_twice():
    refund = _approved_refund()
    email = _row(refund, MSG_APPROVED)
    assert deliver_email(email_id=email.pk) == "sent"
    assert deliver_email(email_id=email.pk) == "duplicate"
    assert len(mail.outbox) == 1


def test_the_same_email_for_two_moves_is_sent_twice():
    """failed (retryable) → submitted again → failed again: the customer hears of each failure."""
    refund = _approved_refund()
    for _ in range(2):
        with mock.patch.object(deliver_email, "apply_async"):
            if refund.state == RefundState.APPROVED:
                _provider_outcome(refund, RefundState.FAILED, retryable=True)
            else:
                move_refund(refund, RefundState.SUBMITTING)
                move_refund(
                    refund,
                    RefundState.FAILED,
                    changes={"failure_code": "insufficient_funds", "failure_retryable": True},
                )
        refund.refresh_from_db()
    emails = list(CustomerEmail.objects.filter(refund=refund, message_id=MSG_FAILED_RETRYING))
    assert len(emails) == 2
    assert len({e.refund_version for e in emails}) == 2
    for email in emails:
        assert deliver_email(email_id=email.pk) == "sent"
    assert [m.extra_headers["X-Refund-Message"] for m in mail.outbox] == [MSG_FAILED_RETRYING] * 2


def test_a_customer_without_email_is_skipped_and_that_is_on_the_timeline():
    order = customer_order(email="")
    refund = make_refund(order=order, amount_minor=4250, reason=Reason.GOODWILL)
    email = _row(refund, MSG_REQUEST_ACCEPTED)
    assert deliver_email(email_id=email.pk) == "skipped"
    assert mail.outbox == []
    assert AuditEvent.objects.get(refund=refund, action="notification.skipped").note.endswith("no email address")
    email.refresh_from_db()
    assert email.status == EmailStatus.SKIPPED


def test_an_unknown_email_is_ignored():
    assert deliver_email(email_id=987654321) == "missing"


def test_a_task_queued_before_the_outbox_is_sent_through_it_once():
    """`refunds.send_refund_email(refund_id=…, message_id=…)` still in the queue at deploy time."""
    refund = _approved_refund()
    CustomerEmail.objects.filter(refund=refund).delete()  # written before the outbox existed
    with mock.patch.object(deliver_email, "apply_async", side_effect=lambda *, kwargs, **_: deliver_email(**kwargs)):
        assert send_refund_email(refund_id=refund.pk, message_id=MSG_APPROVED) == "adopted"
        assert send_refund_email(refund_id=refund.pk, message_id=MSG_APPROVED) == "adopted"  # redelivered
    assert [m.extra_headers["X-Refund-Message"] for m in mail.outbox] == [MSG_APPROVED]
    assert _row(refund, MSG_APPROVED).status == EmailStatus.SENT


def test_a_task_queued_before_the_outbox_for_an_email_already_sent_sends_nothing():
    refund = _approved_refund()
    email = _row(refund, MSG_APPROVED)
    assert deliver_email(email_id=email.pk) == "sent"
    CustomerEmail.objects.filter(refund=refund).delete()  # as before the outbox: only the audit trail knew
    assert send_refund_email(refund_id=refund.pk, message_id=MSG_APPROVED) == "duplicate"
    assert send_refund_email(refund_id=987654321, message_id=MSG_APPROVED) == "duplicate"
    assert len(mail.outbox) == 1


def test_the_tasks_have_stable_names_and_keyword_only_arguments():
    import inspect

    assert deliver_email.name == "notifications.deliver_email"
    assert send_refund_email.name == "refunds.send_refund_email"
    for task in (deliver_email, send_refund_email):
        params = inspect.signature(task.run).parameters
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    with pytest.raises(TypeError):
        deliver_email.run(1)


def test_an_operator_lists_and_replays_failed_emails(flaky, django_capture_on_commit_callbacks):
    from io import StringIO

    from django.core.management import call_command

    flaky.failures = 1
    flaky.error = smtplib.SMTPRecipientsRefused({"jane.doe@example.com": (550, b"no such user")})
    refund = _approved_refund()
    email = _deliver_with_retries(refund, MSG_APPROVED, django_capture_on_commit_callbacks)
    assert email.status == EmailStatus.FAILED
    out = StringIO()
    call_command("emails", stdout=out, stderr=StringIO())
    assert f"{email.pk}\t{refund.public_id}\t{MSG_APPROVED}" in out.getvalue()
    assert "jane.doe" not in out.getvalue()

    with django_capture_on_commit_callbacks(execute=True):  # the mailbox was fixed meanwhile
        call_command("emails", "--replay", str(email.pk), stdout=StringIO())
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert [m.extra_headers["X-Refund-Message"] for m in mail.outbox] == [MSG_APPROVED]
    with pytest.raises(Exception, match="only failed emails"):
        call_command("emails", "--replay", str(email.pk), stdout=StringIO())
