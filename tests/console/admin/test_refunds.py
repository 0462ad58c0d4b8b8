"""The Django admin: risk edits the policy (validated, versioned, history); the records are read-only."""

import json

import pytest
from django import forms
from django.contrib import admin
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from console.forms import RefundPolicyForm
from console.limits_grid import LimitsTableWidget
from ledger.models import Account, JournalEntry
from refunds.enums import Reason, Role
from refunds.models import Customer, Order, OutboxMessage, Payment, PayoutTask, Refund, RefundPolicy, WebhookEvent
from refunds.services.policy import policy_get_active
from tests.refunds.factories import UserFactory, api_key, captured_order, make_refund, staff_client

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/refunds/refundpolicy/add/"
COLUMNS = ["not_received", "quality", "duplicate", "pricing_error", "other", "goodwill_dual_control", "high_value"]


def grid(rows: list[list[str]], name: str = "limits") -> dict:
    """The limits table as the grid posts it: each row is [currency, *one cell per column]."""
    data = {f"{name}-rows": str(len(rows))}
    for index, (currency, *cells) in enumerate(rows):
        data[f"{name}-{index}-currency"] = currency
        data.update({f"{name}-{index}-{column}": cell for column, cell in zip(COLUMNS, cells, strict=True)})
    return data


def grid_from_table(table: dict) -> dict:
    return grid(LimitsTableWidget.rows_from_table_as_lists(table))


DEFAULT_GRID = [
    ["USD", "100", "80.00", "500", "", "50", "150", "2000"],
    ["JPY", "15000", "12000", "75000", "", "7500", "22500", "300000"],
    ["KWD", "30.000", "24", "150", "", "15.5", "45", "600"],
]


def policy_data(rows=None, **overrides) -> dict:
    data = {
        "window_days": "30",
        "velocity_max_per_24h": "3",
        "evidence_required_reasons": [Reason.QUALITY, Reason.NOT_RECEIVED],
        "cancellation_fee_schedule": '[{"min_days": 7, "percent": 100}, {"min_days": 0, "percent": 20}]',
        "note": "Tighter window for the holiday season",
        **grid(DEFAULT_GRID if rows is None else rows),
    }
    data.update(overrides)
    return data


def form_errors(rows=None, **overrides) -> dict:
    form = RefundPolicyForm(data=policy_data(rows, **overrides), instance=RefundPolicy())
    assert not form.is_valid()
    return form.errors


# --- policy form validation ----------------------------------------------------------------


def test_every_rule_of_the_policy_is_a_field_with_help_text():
    form = RefundPolicyForm(instance=policy_get_active())
    for name in [
        "window_days",
        "velocity_max_per_24h",
        "limits",
        "evidence_required_reasons",
        "cancellation_fee_schedule",
    ]:
        assert form.fields[name].help_text, name


def test_a_valid_policy_form_builds_the_limits_table_in_minor_units():
    form = RefundPolicyForm(data=policy_data(), instance=RefundPolicy())
    assert form.is_valid(), form.errors
    policy = form.save(commit=False)
    assert policy.limits["USD"] == {
        "not_received": 10000,
        "quality": 8000,
        "duplicate": 50000,
        "pricing_error": None,
        "other": 5000,
        "goodwill_dual_control": 15000,
        "high_value": 200000,
    }
    assert policy.limits["JPY"]["other"] == 7500 and policy.limits["KWD"]["other"] == 15500
    assert policy.evidence_required_reasons == ["not_received", "quality"]
    assert policy.cancellation_fee_schedule == [{"min_days": 7, "percent": 100}, {"min_days": 0, "percent": 20}]


@pytest.mark.parametrize(
    ("field", "value"), [("window_days", "-1"), ("window_days", "0"), ("velocity_max_per_24h", "0")]
)
def test_out_of_range_rules_are_refused(field, value):
    assert field in form_errors(**{field: value})


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["USD", "-0.01", "", "", "", "", "150", ""], "USD, Auto-approve ceiling: Not Received: cannot be negative."),
        (["JPY", "", "99.5", "", "", "", "150", ""], "JPY, Auto-approve ceiling: Quality: JPY has 0 decimal places"),
        (["KWD", "", "", "", "", "", "1.0005", ""], "KWD, Goodwill dual control above: KWD has 3 decimal places."),
        (["USD", "", "", "", "", "", "", ""], "USD, Goodwill dual control above: required."),
        (["XYZ", "", "", "", "", "", "150", ""], "Row 1: “XYZ” is not an ISO 4217 currency code the app accepts."),
        (["", "10", "", "", "", "", "", ""], "Row 1: enter its currency (ISO code such as EUR)."),
        (["USD", "ten", "", "", "", "", "150", ""], "USD, Auto-approve ceiling: Not Received: enter an amount"),
    ],
)
def test_each_invalid_cell_is_named_by_currency_and_column(row, message):
    errors = form_errors([row])["limits"]
    assert any(error.startswith(message) for error in errors), errors


def test_a_currency_twice_or_no_currency_at_all_is_refused():
    assert "USD appears twice" in form_errors([DEFAULT_GRID[0], DEFAULT_GRID[0]])["limits"][0]
    assert "at least one currency" in form_errors([["", "", "", "", "", "", "", ""]])["limits"][0]


def test_a_lower_case_currency_is_accepted_and_a_cleared_row_is_dropped():
    rows = [["eur", "460", "460", "460", "460", "460", "184", "1840"], ["", "", "", "", "", "", "", ""]]
    form = RefundPolicyForm(data=policy_data(rows), instance=RefundPolicy())
    assert form.is_valid(), form.errors
    assert list(form.cleaned_data["limits"]) == ["EUR"]


def test_invalid_cells_are_marked_in_the_grid():
    form = RefundPolicyForm(data=policy_data([["JPY", "", "99.5", "", "", "", "150", ""]]), instance=RefundPolicy())
    assert not form.is_valid()
    html = str(form["limits"])
    assert 'name="limits-0-quality" value="99.5" size="10"' in html
    assert html.count('aria-invalid="true"') == 1


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


def test_an_activation_time_in_the_past_is_refused():
    assert "activates_at" in form_errors(activates_at="2020-01-01T10:00")


# --- drafts, review and backtest through the admin ------------------------------------------


def test_risk_saving_the_policy_writes_a_draft_and_keeps_the_version_in_force():
    current = policy_get_active()
    client = staff_client("risk1", Role.RISK)
    response = client.post(f"/admin/refunds/refundpolicy/{current.pk}/change/", policy_data(), follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Saved draft version 2" in html and "Backtest: the last 30 days" in html
    assert "You wrote this draft, so another risk user must approve or reject it" in html
    draft = RefundPolicy.objects.get(version=2)
    assert draft.status == "draft" and draft.created_by.username == "risk1" and draft.window_days == 30
    assert policy_get_active().pk == current.pk
    event = AuditEvent.objects.get(action="policy.draft_created")
    assert event.before["window_days"] == 60 and event.after["window_days"] == 30
    assert event.actor_label == "risk1" and event.note == "Tighter window for the holiday season"


def test_a_second_risk_user_approves_on_the_review_page_and_the_version_applies_to_new_refunds():
    staff_client("risk1", Role.RISK).post(ADD_URL, policy_data())
    draft = RefundPolicy.objects.get(version=2)
    reviewer = staff_client("risk2", Role.RISK)
    page = reviewer.get(f"/admin/refunds/refundpolicy/{draft.pk}/review/").content.decode()
    assert "USD Auto-approve ceiling: Other: 500.00 USD → 50.00 USD" in page
    assert 'value="approve"' in page
    response = reviewer.post(f"/admin/refunds/refundpolicy/{draft.pk}/review/", {"action": "approve", "note": "ok"})
    assert response.status_code == 302
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=6000, reason=Reason.OTHER)
    assert refund.policy_version.version == 2 and refund.policy_rule == "R-CEILING-OTHER"


def test_the_author_posting_an_approval_is_refused_with_the_four_eyes_message():
    client = staff_client("risk1", Role.RISK)
    client.post(ADD_URL, policy_data())
    draft = RefundPolicy.objects.get(version=2)
    response = client.post(f"/admin/refunds/refundpolicy/{draft.pk}/review/", {"action": "approve"}, follow=True)
    assert "another risk user must approve" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_an_invalid_policy_is_shown_with_its_errors_and_nothing_is_saved():
    response = staff_client("risk1", Role.RISK).post(ADD_URL, policy_data(window_days="-3"))
    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    assert RefundPolicy.objects.count() == 1


def test_risk_opens_the_policy_form_with_every_rule_grouped_and_explained():
    html = staff_client("risk1", Role.RISK).get(ADD_URL).content.decode()
    for heading in ["Refund window", "Limits per currency", "Evidence", "Customer velocity", "Save as a draft"]:
        assert heading in html
    assert 'name="window_days" value="60"' in html  # starts from the policy in force (v1)
    assert 'name="limits-0-currency" value="USD"' in html and 'name="limits-0-quality" value="500.00"' in html
    assert 'name="limits-3-other" value="75000"' in html  # JPY, no minor unit
    assert 'name="limits-4-high_value" value="600.000"' in html  # KWD, three decimals
    assert "R-GOODWILL-DUAL-CONTROL" in html and "R-HIGH-VALUE-DUAL-CONTROL" in html


def test_the_add_form_starts_from_the_policy_in_force():
    staff_client("risk1", Role.RISK).post(ADD_URL, policy_data())
    draft = RefundPolicy.objects.get(version=2)
    staff_client("risk2", Role.RISK).post(f"/admin/refunds/refundpolicy/{draft.pk}/review/", {"action": "approve"})
    html = staff_client("risk3", Role.RISK).get(ADD_URL).content.decode()
    assert 'name="window_days" value="30"' in html
    assert 'name="limits-0-quality" value="80.00"' in html


def test_policy_history_and_versions_are_visible_in_admin():
    client = staff_client("risk1", Role.RISK)
    client.post(ADD_URL, policy_data())
    new = RefundPolicy.objects.get(version=2)
    history = client.get(f"/admin/refunds/refundpolicy/{new.pk}/history/")
    assert history.status_code == 200 and "risk1" in history.content.decode()
    change = client.get(f"/admin/refunds/refundpolicy/{new.pk}/change/").content.decode()
    assert "window_days: 60 → 30" in change
    listing = client.get("/admin/refunds/refundpolicy/").content.decode()
    assert "Tighter window for the holiday season" in listing and "Backtest and approve or reject" in listing


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AGENT])
def test_only_risk_gets_an_editable_policy_form(role):
    client = staff_client(f"u-{role}", role)
    assert client.post(ADD_URL, policy_data()).status_code == 403
    assert RefundPolicy.objects.count() == 1


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


def test_the_policy_form_explains_units_per_currency_and_the_fixed_pro_rata_rule():
    html = staff_client("risk1", Role.RISK).get(ADD_URL).content.decode()
    assert "USD 500.00, JPY 75000, KWD 150.000" in html and "R-CURRENCY-NO-LIMITS" in html
    assert "Pro-rata split over order lines" in html and "largest-remainder" in html


def test_reverting_a_policy_version_writes_it_again_as_a_new_draft():
    client = staff_client("risk1", Role.RISK)
    client.post(ADD_URL, policy_data())  # v2: window 30
    client.post(ADD_URL, policy_data(window_days="45", note="Longer again"))  # v3
    second = RefundPolicy.objects.get(version=2)
    url = f"/admin/refunds/refundpolicy/{second.pk}/history/{second.history.earliest('history_id').history_id}/"
    data = _history_form_data(client, url, note="Back to the holiday window")
    data.update(grid_from_table(json.loads(data.pop("limits"))))
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(RefundPolicy.objects.order_by("version").values_list("version", "window_days")) == [
        (1, 60),
        (2, 30),
        (3, 45),
        (4, 30),
    ]
    assert RefundPolicy.objects.get(version=4).note == "Back to the holiday window"
    assert RefundPolicy.objects.get(version=4).status == "draft"
