"""Replies drafted in the customer's language, edits that may not contradict the amount, and a decline's
internal rationale that stays internal (issue 12, items 1 and 2)."""

from __future__ import annotations

import importlib
from unittest import mock

import pytest
from django.apps import apps
from django.core import mail

from audit.models import AuditEvent
from core.errors import ERR_REPLY_AMOUNT_MISMATCH, ERR_REPLY_PLACEHOLDER, DomainError
from notifications.outbox import deliver_email
from refunds.enums import DecisionKind, Reason, Role
from refunds.models import Decision, Refund
from refunds.replies import DEFAULT_REPLY_TEMPLATES
from refunds.services.decide import refund_approve, refund_deny, refund_edit
from refunds.services.policy import policy_get_active
from status_page.presenters import status_view
from tests.refunds.factories import agent, make_refund
from tests.support.customer_states import compile_catalogues, customer_order

pytestmark = pytest.mark.django_db

RATIONALE = "customer gaming the window"


@pytest.fixture(scope="module", autouse=True)
def _catalogues() -> None:
    compile_catalogues()


@pytest.fixture(autouse=True)
def _emails_run_inline():
    def run_now(*, kwargs, **options):
        return deliver_email.apply(kwargs=kwargs)

    with mock.patch.object(deliver_email, "apply_async", side_effect=run_now):
        yield


@pytest.mark.parametrize("language", ["en", "de", "ar"])
def test_the_draft_is_the_policys_template_in_the_customers_language(language):
    refund = make_refund(order=customer_order(locale=language), amount_minor=500, reason=Reason.GOODWILL)
    assert refund.draft_reply == DEFAULT_REPLY_TEMPLATES[language]["approve"]


def test_a_customer_locale_with_a_region_gets_its_language():
    refund = make_refund(order=customer_order(locale="de-CH"), amount_minor=500, reason=Reason.GOODWILL)
    assert refund.draft_reply.startswith("Gute Nachricht")


def test_the_policy_version_in_force_drafts_with_its_own_texts():
    policy = policy_get_active()
    policy.reply_templates = {"de": {"approve": "Erstattung über {amount} genehmigt."}}
    policy.save(update_fields=["reply_templates"])
    refund = make_refund(order=customer_order(locale="de"), amount_minor=500, reason=Reason.GOODWILL)
    assert refund.draft_reply == "Erstattung über {amount} genehmigt."


def test_lowering_the_amount_under_a_draft_that_spells_the_old_one_out_is_refused():
    refund = make_refund(order=customer_order(), amount_minor=500, reason=Reason.GOODWILL)
    refund_edit(refund_id=refund.pk, actor=agent("writer"), reply="We refund 5.00 USD for the chipped mug.")
    with pytest.raises(DomainError) as refused:
        refund_edit(refund_id=refund.pk, actor=agent("senior", role=Role.SENIOR_AGENT), amount_minor=400)
    assert refused.value.code == ERR_REPLY_AMOUNT_MISMATCH
    refund.refresh_from_db()
    assert refund.amount_minor == 500  # nothing changed


def test_an_edited_reply_stating_another_amount_is_refused():
    refund = make_refund(order=customer_order(locale="de", currency="EUR"), amount_minor=500, reason=Reason.GOODWILL)
    with pytest.raises(DomainError) as refused:
        refund_edit(refund_id=refund.pk, actor=agent("writer"), reply="Wir erstatten 50,00 € sofort.")
    assert refused.value.code == ERR_REPLY_AMOUNT_MISMATCH
    assert Decision.objects.filter(refund=refund, kind=DecisionKind.EDIT).count() == 0


def test_an_edited_reply_with_an_unknown_placeholder_is_refused():
    refund = make_refund(order=customer_order(), amount_minor=500, reason=Reason.GOODWILL)
    with pytest.raises(DomainError) as refused:
        refund_edit(refund_id=refund.pk, actor=agent("writer"), reply="Dear {first_name}, {amount} is on its way.")
    assert refused.value.code == ERR_REPLY_PLACEHOLDER


def test_the_german_approval_email_renders_the_german_draft_in_german_format(django_capture_on_commit_callbacks):
    order = customer_order(locale="de", currency="EUR", amount_minor=200000)
    # Above the not-received ceiling: reviewed, with an approve recommendation and one approval needed.
    refund = make_refund(order=order, amount_minor=123456, reason=Reason.NOT_RECEIVED)
    refund_edit(refund_id=refund.pk, actor=agent("editor"), amount_minor=100000)
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(refund_id=refund.pk, actor=agent("approver"))
    (email,) = mail.outbox
    assert "Gute Nachricht: Wir haben Ihre Erstattung über 1.000,00\xa0€" in email.body
    assert "1.234,56" not in email.body and "{amount}" not in email.body


def test_a_decline_rationale_is_kept_for_staff_and_never_reaches_the_customer(django_capture_on_commit_callbacks):
    refund = make_refund(order=customer_order(), amount_minor=500, reason=Reason.GOODWILL)
    with django_capture_on_commit_callbacks(execute=True):
        refund_deny(
            refund_id=refund.pk,
            actor=agent("decliner"),
            note="We cannot refund {amount} for order {order}: it was a final-sale item.",
            rationale=RATIONALE,
        )
    refund.refresh_from_db()
    decision = Decision.objects.get(refund=refund, kind=DecisionKind.DENY)
    assert decision.rationale == RATIONALE
    event = AuditEvent.objects.get(refund=refund, action="refund.denied")
    assert event.after["rationale"] == RATIONALE and RATIONALE not in event.note
    (email,) = mail.outbox
    assert f"We cannot refund $5.00 for order {refund.order.order_id}" in email.body
    assert RATIONALE not in email.body and RATIONALE not in email.alternatives[0][0]
    view = status_view(Refund.objects.select_related("order__customer", "payment").get(pk=refund.pk), language="en")
    assert "$5.00" in view.decline_reason and RATIONALE not in repr(view)


def test_a_decline_message_with_an_unknown_placeholder_is_refused():
    refund = make_refund(order=customer_order(), amount_minor=500, reason=Reason.GOODWILL)
    with pytest.raises(DomainError) as refused:
        refund_deny(refund_id=refund.pk, actor=agent("decliner"), note="No refund of {amount_due}.")
    assert refused.value.code == ERR_REPLY_PLACEHOLDER


def test_the_migration_turns_an_open_refunds_literal_amount_into_the_placeholder():
    migration = importlib.import_module("refunds.migrations.0018_reply_templates")
    refund = make_refund(order=customer_order(), amount_minor=400, reason=Reason.GOODWILL)
    old = "Good news: we have approved your refund of 5.00 USD. It is on its way back."
    Refund.objects.filter(pk=refund.pk).update(draft_reply=old)
    Decision.objects.create(
        refund=refund,
        kind=DecisionKind.EDIT,
        amount_before_minor=500,
        amount_after_minor=400,
        reply_before=old,
        reply_after=old,
    )
    untouched = make_refund(order=customer_order(), amount_minor=700, reason=Reason.GOODWILL)
    Refund.objects.filter(pk=untouched.pk).update(draft_reply="We refund the 7.00 USD you paid.")
    migration.drafts_to_templates(apps, None)
    refund.refresh_from_db()
    untouched.refresh_from_db()
    assert refund.draft_reply == "Good news: we have approved your refund of {amount}. It is on its way back."
    assert Decision.objects.get(refund=refund, kind=DecisionKind.EDIT).reply_before == refund.draft_reply
    assert untouched.draft_reply == "We refund the 7.00 USD you paid."  # rendered as written
