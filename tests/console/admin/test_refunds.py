"""The Django admin: risk edits the policy (validated, versioned, history); the records are read-only."""

import json
from decimal import Decimal

import pytest
from django import forms
from django.contrib import admin
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from console.forms import RefundPolicyForm
from ledger.models import Account, JournalEntry
from refunds.enums import Reason, Role
from refunds.models import Customer, Order, OutboxMessage, Payment, PayoutTask, Refund, RefundPolicy, WebhookEvent
from refunds.services.policy import policy_get_active
from tests.refunds.factories import UserFactory, api_key, captured_order, make_refund, staff_client

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/refunds/refundpolicy/add/"


def policy_data(**overrides) -> dict:
    data = {
        "window_days": "30",
        "velocity_max_per_24h": "3",
        "dual_control_threshold": "150",
        "evidence_required_reasons": [Reason.QUALITY, Reason.NOT_RECEIVED],
        "cancellation_fee_schedule": '[{"min_days": 7, "percent": 100}, {"min_days": 0, "percent": 20}]',
        "note": "Tighter window for the holiday season",
        "ceiling_not_received": "100",
        "ceiling_quality": "80.00",
        "ceiling_duplicate": "500",
        "ceiling_pricing_error": "",
        "ceiling_other": "50",
    }
    data.update(overrides)
    return data


def form_errors(**overrides) -> dict:
    form = RefundPolicyForm(data=policy_data(**overrides), instance=RefundPolicy())
    assert not form.is_valid()
    return form.errors


# --- policy form validation ----------------------------------------------------------------


def test_every_rule_of_the_policy_is_a_field_with_help_text():
    form = RefundPolicyForm(instance=policy_get_active())
    for name in [
        "window_days",
        "velocity_max_per_24h",
        "dual_control_threshold",
        "evidence_required_reasons",
        "cancellation_fee_schedule",
        *RefundPolicyForm.ceiling_field_names(),
    ]:
        assert form.fields[name].help_text, name
    assert "ceiling_goodwill" not in form.fields  # goodwill is always reviewed


def test_a_valid_policy_form_builds_the_ceilings_per_reason():
    form = RefundPolicyForm(data=policy_data(), instance=RefundPolicy())
    assert form.is_valid(), form.errors
    policy = form.save(commit=False)
    assert policy.auto_approve_ceilings == {
        "not_received": "100",
        "quality": "80.00",
        "duplicate": "500",
        "other": "50",
    }
    assert policy.evidence_required_reasons == ["not_received", "quality"]
    assert policy.cancellation_fee_schedule == [{"min_days": 7, "percent": 100}, {"min_days": 0, "percent": 20}]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("window_days", "-1"),
        ("window_days", "0"),
        ("velocity_max_per_24h", "0"),
        ("dual_control_threshold", "-5"),
        ("ceiling_quality", "-0.01"),
    ],
)
def test_negative_or_zero_limits_are_refused(field, value):
    assert field in form_errors(**{field: value})


def test_limits_must_be_exact_in_every_currency_minor_unit():
    """A 99.99 ceiling cannot be applied to a JPY order (no minor unit): refuse it rather than fail later."""
    errors = form_errors(dual_control_threshold="199.99", ceiling_quality="0.5")
    assert "whole amount" in errors["dual_control_threshold"][0] and "JPY" in errors["dual_control_threshold"][0]
    assert "ceiling_quality" in errors


def test_only_known_reasons_can_require_evidence():
    assert "evidence_required_reasons" in form_errors(evidence_required_reasons=["quality", "astrology"])


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("not json", "Enter a valid JSON"),
        ("[]", "required"),
        ('{"min_days": 0, "percent": 0}', "list of tiers"),
        ('[{"min_days": 0}]', "exactly"),
        ('[{"min_days": -1, "percent": 0}]', "cannot be negative"),
        ('[{"min_days": 0, "percent": 120}]', "between 0 and 100"),
        ('[{"min_days": 0, "percent": 1.5}]', "whole numbers"),
        ('[{"min_days": 7, "percent": 100}]', "min_days 0"),
        ('[{"min_days": 0, "percent": 0}, {"min_days": 0, "percent": 10}]', "only once"),
        ('[{"min_days": 7, "percent": 50}, {"min_days": 0, "percent": 80}]', "larger share"),
    ],
)
def test_cancellation_fee_schedule_is_validated(schedule, message):
    errors = form_errors(cancellation_fee_schedule=schedule)
    assert message in errors["cancellation_fee_schedule"][0]


def test_publishing_needs_a_note():
    assert "note" in form_errors(note="")


# --- publishing through the admin -------------------------------------------------------------


def test_risk_saving_the_policy_publishes_a_new_version_and_keeps_the_old_one():
    current = policy_get_active()
    client = staff_client("risk1", Role.RISK)
    response = client.post(f"/admin/refunds/refundpolicy/{current.pk}/change/", policy_data(), follow=True)
    assert response.status_code == 200
    assert "Published policy version 2" in response.content.decode()
    new = policy_get_active()
    assert new.version == 2 and new.window_days == 30 and new.created_by.username == "risk1"
    assert new.dual_control_threshold == Decimal("150")
    current.refresh_from_db()
    assert current.window_days == 60  # version 1 unchanged
    event = AuditEvent.objects.get(action="policy.changed")
    assert event.before["window_days"] == 60 and event.after["window_days"] == 30
    assert event.actor_label == "risk1" and event.note == "Tighter window for the holiday season"


def test_a_new_version_applies_to_new_refunds():
    staff_client("risk1", Role.RISK).post(ADD_URL, policy_data(ceiling_other="10"))
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=2000, reason=Reason.OTHER)
    assert refund.policy_version.version == 2 and refund.policy_rule == "R-CEILING-OTHER"


def test_an_invalid_policy_is_shown_with_its_errors_and_nothing_is_published():
    response = staff_client("risk1", Role.RISK).post(ADD_URL, policy_data(window_days="-3"))
    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    assert RefundPolicy.objects.count() == 1


def test_risk_opens_the_policy_form_with_every_rule_grouped_and_explained():
    html = staff_client("risk1", Role.RISK).get(ADD_URL).content.decode()
    for heading in [
        "Refund window",
        "Automatic approval",
        "Evidence",
        "Customer velocity",
        "Goodwill and dual control",
    ]:
        assert heading in html
    assert 'name="window_days" value="60"' in html  # starts from the policy in force (v1)
    assert 'name="ceiling_quality" value="500.00"' in html
    assert "R-GOODWILL-DUAL-CONTROL" in html  # help texts name the rule each field drives


def test_the_add_form_starts_from_the_policy_in_force():
    staff_client("risk1", Role.RISK).post(ADD_URL, policy_data())
    html = staff_client("risk2", Role.RISK).get(ADD_URL).content.decode()
    assert 'name="window_days" value="30"' in html
    assert 'name="ceiling_quality" value="80.00"' in html


def test_policy_history_and_versions_are_visible_in_admin():
    client = staff_client("risk1", Role.RISK)
    client.post(ADD_URL, policy_data())
    new = policy_get_active()
    history = client.get(f"/admin/refunds/refundpolicy/{new.pk}/history/")
    assert history.status_code == 200 and "risk1" in history.content.decode()
    change = client.get(f"/admin/refunds/refundpolicy/{new.pk}/change/").content.decode()
    assert "window_days: 60 → 30" in change
    listing = client.get("/admin/refunds/refundpolicy/").content.decode()
    assert "Tighter window for the holiday season" in listing


def test_policy_versions_cannot_be_deleted():
    policy = policy_get_active()
    client = staff_client("root", Role.ADMIN, superuser=True)
    assert client.post(f"/admin/refunds/refundpolicy/{policy.pk}/delete/", {"post": "yes"}).status_code == 403
    assert RefundPolicy.objects.filter(pk=policy.pk).exists()


# --- read-only records -----------------------------------------------------------------------------

READ_ONLY_MODELS = [Refund, Order, Payment, Customer, OutboxMessage, WebhookEvent, JournalEntry, Account, AuditEvent]


@pytest.mark.parametrize("model", READ_ONLY_MODELS, ids=lambda m: m.__name__)
def test_records_are_read_only_in_admin_even_for_superusers(model, rf):
    request = rf.get("/admin/")
    request.user = UserFactory(username="root", is_superuser=True, is_staff=True)
    model_admin = admin.site._registry[model]
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    for inline in model_admin.get_inline_instances(request):
        assert not inline.has_add_permission(request, None)
        assert not inline.has_change_permission(request)
        assert not inline.has_delete_permission(request)


def test_a_superuser_cannot_change_a_refund_or_an_audit_event_through_admin():
    refund = make_refund(order=captured_order(), amount_minor=1000)
    event = AuditEvent.objects.filter(refund=refund).first()
    client = staff_client("root", Role.ADMIN, superuser=True)
    page = client.get(f"/admin/refunds/refund/{refund.pk}/change/")
    assert page.status_code == 200 and "Open the refund card" in page.content.decode()
    assert client.post(f"/admin/refunds/refund/{refund.pk}/change/", {"amount_minor": 1}).status_code == 403
    assert client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/ledger/journalentry/add/").status_code == 403
    refund.refresh_from_db()
    assert refund.amount_minor == 1000


def test_the_webhook_inbox_is_listed_read_only():
    WebhookEvent.objects.create(
        provider="stripe", event_id="evt_9", event_type="refund.updated", payload={}, status="unknown_refund"
    )
    html = staff_client("root", Role.ADMIN, superuser=True).get("/admin/refunds/webhookevent/").content.decode()
    assert "evt_9" in html and "Add webhook event" not in html


def test_payout_tasks_are_registered_by_the_finance_admin_module():
    from console.admin.execution import PayoutTaskAdmin

    assert isinstance(admin.site._registry[PayoutTask], PayoutTaskAdmin)


def _history_form_data(client: Client, url: str, **changes) -> dict:
    """What the history ("revert") form would post: every field as rendered, with `changes` applied."""
    form = client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is None or value is False:
            continue
        if isinstance(field, forms.MultipleChoiceField):
            data[name] = list(value)
        elif isinstance(value, list | dict):
            data[name] = json.dumps(value)
        else:
            data[name] = "on" if value is True else value
    return {**data, **changes}


@pytest.mark.parametrize("role", [Role.FINANCE, Role.AGENT, Role.ADMIN])
def test_a_refund_cannot_be_rewritten_through_the_history_revert_form(role):
    """django-simple-history's revert form saves on POST for anyone who may view; here it must refuse."""
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=2000, reason=Reason.GOODWILL)
    version = refund.history.earliest("history_id")
    client = staff_client("reader", role, superuser=role == Role.ADMIN)
    url = f"/admin/refunds/refund/{refund.pk}/history/{version.history_id}/"
    page = client.get(url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()  # no Revert button
    response = client.post(url, _history_form_data(client, url, amount_minor="1", draft_reply="rewritten"))
    assert response.status_code == 403
    refund.refresh_from_db()
    assert (refund.amount_minor, refund.draft_reply) != (1, "rewritten")
    assert refund.amount_minor == 2000


def test_an_order_cannot_be_rewritten_through_the_history_revert_form():
    order = captured_order()
    version = order.history.earliest("history_id")
    client = staff_client("fin", Role.FINANCE)
    url = f"/admin/refunds/order/{order.pk}/history/{version.history_id}/"
    assert client.post(url, _history_form_data(client, url, currency="EUR")).status_code == 403
    order.refresh_from_db()
    assert order.currency == "USD"


def test_a_revoked_api_key_cannot_be_brought_back_in_admin():
    from refunds.models import ApiKey

    api_key("merchant")
    key = ApiKey.objects.get()
    key.revoked_at = timezone.now()
    key.save()
    client = staff_client("root", Role.ADMIN, superuser=True)
    client.post(
        f"/admin/refunds/apikey/{key.pk}/change/", {"name": "back again", "revoked_at_0": "", "revoked_at_1": ""}
    )
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_the_policy_form_explains_minor_units_and_the_fixed_pro_rata_rule():
    html = staff_client("risk1", Role.RISK).get(ADD_URL).content.decode()
    assert "200 is 20000 for USD" in html and "200 for JPY" in html
    assert "Pro-rata split over order lines" in html and "largest-remainder" in html


def test_reverting_a_policy_version_publishes_it_again_as_a_new_version():
    client = staff_client("risk1", Role.RISK)
    client.post(ADD_URL, policy_data())  # v2: window 30
    client.post(ADD_URL, policy_data(window_days="45", note="Longer again"))  # v3
    second = RefundPolicy.objects.get(version=2)
    url = f"/admin/refunds/refundpolicy/{second.pk}/history/{second.history.earliest('history_id').history_id}/"
    response = client.post(url, _history_form_data(client, url, note="Back to the holiday window"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(RefundPolicy.objects.order_by("version").values_list("version", "window_days")) == [
        (1, 60),
        (2, 30),
        (3, 45),
        (4, 30),
    ]
    assert policy_get_active().note == "Back to the holiday window"
