"""Forms of the agent console and the risk policy admin.

Forms only translate what a person typed into service arguments (amounts in
the currency's minor units, known reasons); the services decide whether the
action is allowed, and their refusals are shown next to the form.
"""

from __future__ import annotations

import re
from itertools import pairwise

from django import forms
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from console.limits_grid import LimitsTableField
from console.models import StaffProfile, time_zone_names
from console.presenters.bulk import BULK_MAX
from console.presenters.queue import SORTS, VIEW_ALL, VIEW_OVERRIDES, VIEW_WAITING, QueueFilters
from core.errors import DomainError
from core.money import AmountInputError
from core.money import parse_major_amount as core_parse_major_amount
from refunds.enums import Reason, RefundState
from refunds.models import RefundPolicy
from refunds.replies import (
    DEFAULT_REPLY_TEMPLATES,
    FEE_PLACEHOLDERS,
    REPLY_KINDS,
    REPLY_LANGUAGES,
    default_reply_templates,
    placeholders_allowed_text,
    reply_check_amounts,
    reply_check_placeholders,
)
from refunds.services.evidence import evidence_max_bytes, evidence_max_files

NOTE_MAX = 2000
SUBMISSION_TOKEN = re.compile(r"[0-9a-f]{32}")


def parse_major_amount(value: str, currency: str) -> int:
    """`"45.50"` in USD → 4550, as a form field's cleaning (`core.money.parse_major_amount`'s refusals)."""
    try:
        return core_parse_major_amount(value, currency)
    except AmountInputError as error:
        raise ValidationError(error.message, code=error.code) from None


# --- queue --------------------------------------------------------------------


class QueueFilterForm(forms.Form):
    """The queue's filters, read from the query string so every view of the queue is a link."""

    view = forms.ChoiceField(
        choices=[(VIEW_WAITING, "Waiting"), (VIEW_OVERRIDES, "Overrides"), (VIEW_ALL, "All")],
        required=False,
        widget=forms.HiddenInput,
    )
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        help_text="Customer name or email, order id, payment id (pi_…) or refund id (rf_…)",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    state = forms.ChoiceField(label="State", required=False, choices=[("", "Any state"), *RefundState.choices])
    merchant = forms.ChoiceField(label="Merchant", required=False, choices=[("", "Every merchant")])
    reason = forms.ChoiceField(label="Reason", required=False, choices=[("", "Any reason"), *Reason.choices])
    # Bounded like policy limits: a bound is scaled to minor units and compared in the database,
    # where a 40-digit number would overflow the integer column instead of matching nothing.
    amount_min = forms.DecimalField(label="Amount from", required=False, min_value=0, max_digits=14, decimal_places=3)
    amount_max = forms.DecimalField(label="Amount to", required=False, min_value=0, max_digits=14, decimal_places=3)
    second_approval = forms.BooleanField(label="Needs second approval", required=False)
    flagged = forms.BooleanField(label="Flagged overrides", required=False)
    mine = forms.BooleanField(label="Assigned to me", required=False)
    # Set by the column headers' links; carried by the filter form so a new filter keeps the order.
    sort = forms.ChoiceField(
        required=False,
        choices=[("", "Oldest first"), *((key, key) for key in SORTS), *((f"-{key}", f"-{key}") for key in SORTS)],
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, merchants: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["merchant"].choices = [("", "Every merchant"), *merchants]

    def filters(self, *, user_id: int | None = None) -> QueueFilters:
        """The valid filters; a field the agent mistyped is ignored (and shown as an error).

        `user_id` is who "Assigned to me" means: the signed-in user.
        """
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        return QueueFilters(
            view=data.get("view") or VIEW_WAITING,
            state=data.get("state") or "",
            reason=data.get("reason") or "",
            amount_min=data.get("amount_min"),
            amount_max=data.get("amount_max"),
            second_approval=bool(data.get("second_approval")),
            flagged=bool(data.get("flagged")),
            q=data.get("q") or "",
            merchant=data.get("merchant") or "",
            assignee_id=user_id if data.get("mine") else None,
            sort=data.get("sort") or "",
        )


# --- bulk decisions from the queue -------------------------------------------------

PUBLIC_ID = re.compile(r"rf_[0-9a-z]{1,29}")


class _RefundIdsField(forms.Field):
    """The refunds ticked in the queue (repeated `refund` values), each a refund id, in order."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *, max_count: int, **kwargs) -> None:
        self.max_count = max_count
        super().__init__(**kwargs)

    def to_python(self, value) -> list[str]:
        values = [str(item) for item in (value or [])]
        if not values:
            raise ValidationError("Select at least one refund.", code="required")
        if len(values) > self.max_count:
            raise ValidationError(f"Select at most {self.max_count} refunds at a time.", code="max")
        if not all(PUBLIC_ID.fullmatch(item) for item in values):
            raise ValidationError("Unknown refund.", code="invalid")
        return list(dict.fromkeys(values))


class BulkForm(forms.Form):
    """A batch from the queue: approve or decline the ticked refunds, after one confirmation.

    The confirmation page posts the same form back with `confirm` and, per
    refund, the version it showed (`version_<refund id>`): the services refuse
    a refund that changed since, as the card's forms do.
    """

    action = forms.ChoiceField(choices=[("approve", "Approve"), ("decline", "Decline")])
    refund = _RefundIdsField(max_count=BULK_MAX)
    note = forms.CharField(
        label="Message to the customers",
        required=False,
        max_length=NOTE_MAX,
        help_text="Required to decline. Each customer reads it in a kind decline email, so write it for them.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    rationale = forms.CharField(
        label="Internal rationale (staff only, never sent)",
        required=False,
        max_length=NOTE_MAX,
        help_text="Why these are declined, for staff and the audit trail. Never emailed, never on the status page.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def versions(self) -> dict[str, int]:
        """The version the confirmation showed for each refund; 0 ("saw none") when missing or not a number."""
        versions = {}
        for public_id in self.cleaned_data.get("refund", []):
            try:
                versions[public_id] = int(self.data.get(f"version_{public_id}", 0))
            except (TypeError, ValueError):
                versions[public_id] = 0
        return versions


# --- card actions ---------------------------------------------------------------


class _CardForm(forms.Form):
    """The card shows several forms at once: each gets its own id prefix so labels point at the right field."""

    id_prefix = "card"

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class _SeenVersionField(forms.IntegerField):
    """The refund's version the card showed: the service refuses the action if the refund changed since.

    Never a form error: a post without it, or with anything but a number (a
    form from before the field existed, a hand-made request), is cleaned to
    0, "saw no version", which the service refuses as a change — after the
    refusals that say who may not act at all.
    """

    def __init__(self) -> None:
        super().__init__(required=False, widget=forms.HiddenInput)

    def to_python(self, value) -> int:
        try:
            return super().to_python(value) or 0
        except ValidationError:
            return 0


class _HighValueConfirmField(forms.BooleanField):
    """Ticked to confirm approving an amount above the policy's high-value threshold.

    The view asks for it (server-side) whenever the amount to approve is
    above the threshold of the refund's policy version and currency.
    """

    def __init__(self) -> None:
        super().__init__(required=False, label="I confirm approving this high-value refund")


class ApproveForm(_CardForm):
    id_prefix = "approve"
    version = _SeenVersionField()
    confirm_high_value = _HighValueConfirmField()
    note = forms.CharField(
        label="Note (internal, optional)", required=False, max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )


class DeclineForm(_CardForm):
    """Two texts: the message the customer gets, and the internal rationale only staff ever see."""

    id_prefix = "decline"
    note = forms.CharField(
        label="Message to the customer",
        max_length=NOTE_MAX,
        help_text="Required. The customer reads it in the decline email and on their status page, so write "
        f"it for them, in their language. Placeholders: {placeholders_allowed_text()}.",
        error_messages={"required": "Declining a refund needs a message to the customer."},
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    rationale = forms.CharField(
        label="Internal rationale (staff only, never sent)",
        required=False,
        max_length=NOTE_MAX,
        help_text="Why you decline, for colleagues and the audit trail. Never emailed, never on the status page.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class EditForm(_CardForm):
    """Edit the drafted reply and/or the amount, then save or save-and-approve."""

    id_prefix = "edit"

    version = _SeenVersionField()
    reply = forms.CharField(
        label="Reply to the customer (template)",
        help_text=f"Placeholders are filled from the refund when the email is sent: {placeholders_allowed_text()}. "
        "Write {amount} for the amount: a reply stating any other amount than the refund's is refused.",
        max_length=5000,
        error_messages={"required": "The reply cannot be empty."},
        # The form only appears when the agent asked to edit: put them straight into the text.
        widget=forms.Textarea(attrs={"rows": 7, "autofocus": True}),
    )
    amount = forms.CharField(label="Amount", max_length=30)
    confirm_high_value = _HighValueConfirmField()
    note = forms.CharField(
        label="Why the change (internal, audited)",
        required=False,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, currency: str, available: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["amount"].label = f"Amount ({currency})"
        self.fields["amount"].help_text = f"Up to {available}, the remaining refundable including this refund."
        self.fields["amount"].widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})

    def clean_amount(self) -> int:
        return parse_major_amount(self.cleaned_data["amount"], self.currency)


# --- create on behalf -------------------------------------------------------------


class OrderLookupForm(forms.Form):
    order = forms.CharField(label="Order id", max_length=100, help_text="The merchant's order id, e.g. DEMO-100.")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern); the evidence service checks them."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".jpg,.jpeg,.png,.pdf"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None) -> list:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class CreateRefundForm(forms.Form):
    # One per rendering of the form: a second POST of the same form (double click, resent
    # after a timeout, browser back) finds the refund the first one created instead of a twin.
    submission = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    amount = forms.CharField(label="Amount", max_length=30)
    reason = forms.ChoiceField(label="Reason", choices=[("", "Choose a reason"), *Reason.choices])
    customer_note = forms.CharField(
        label="Customer's note",
        required=False,
        max_length=NOTE_MAX,
        help_text="What the customer told us, in their words.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    evidence = MultipleFileField(label="Evidence", required=False)

    def __init__(self, *args, currency: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["evidence"].help_text = (
            f"Photos (JPEG, PNG) or PDF documents; up to {evidence_max_files()} files "
            f"of {filesizeformat(evidence_max_bytes())} each."
        )
        self.fields["amount"].label = f"Amount ({currency})"
        self.fields["amount"].widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})

    def clean_amount(self) -> int:
        return parse_major_amount(self.cleaned_data["amount"], self.currency)

    def clean_submission(self) -> str:
        # A hidden field the agent cannot fix: anything but our own token just means "no guard".
        value = self.cleaned_data.get("submission") or ""
        return value if SUBMISSION_TOKEN.fullmatch(value) else ""


# --- policy (Django admin, risk) ------------------------------------------------------


REPLY_LANGUAGE_NAMES = {"en": "English", "de": "German", "ar": "Arabic"}
REPLY_KIND_NAMES = {
    "approve": "approval",
    "decline": "decline",
    "decline_fee": "decline under the cancellation fee schedule",
}


def reply_field_name(language: str, kind: str) -> str:
    return f"reply_{language}_{kind}"


def _reply_field(language: str, kind: str) -> forms.CharField:
    extra = (
        f" Also {placeholders_allowed_text(FEE_PLACEHOLDERS)}: the schedule's share and what it allows."
        if kind == "decline_fee"
        else ""
    )
    return forms.CharField(
        label=f"{REPLY_LANGUAGE_NAMES[language]}: {REPLY_KIND_NAMES[kind]}",
        # Left empty (or not posted): the version in force's text stays, or the default text.
        required=False,
        max_length=5000,
        widget=forms.Textarea(
            attrs={"rows": 3, "cols": 80, "dir": "rtl" if language == "ar" else "ltr", "lang": language}
        ),
        help_text=f"Placeholders, filled when the email is sent: {placeholders_allowed_text()}.{extra} "
        "Never write an amount: use {amount}.",
    )


# One field per language and kind, declared on a class like the ceilings so the admin's fieldsets can name them.
_ReplyFields = type(
    "_ReplyFields",
    (forms.Form,),
    {
        reply_field_name(language, kind): _reply_field(language, kind)
        for language in REPLY_LANGUAGES
        for kind in REPLY_KINDS
    },
)


class RefundPolicyForm(_ReplyFields, forms.ModelForm):
    """Every rule of SPEC §3.2 as a field; saving writes a draft version (see RefundPolicyAdmin)."""

    limits = LimitsTableField(
        label="Limits per currency",
        help_text="Amounts in each currency's own units (USD 500.00, JPY 75000, KWD 150.000). A refund is "
        "measured against its own currency's row only. An empty ceiling: that reason is never "
        "auto-approved in that currency (R-CEILING-…). Goodwill is always reviewed; above its dual-control "
        "amount it needs two senior agents (R-GOODWILL-DUAL-CONTROL). Above the high-value amount any "
        "refund needs two senior agents (R-HIGH-VALUE-DUAL-CONTROL); empty: no high-value dual control "
        "in that currency. A currency with no row is never auto-approved and always needs two senior "
        "agents (R-CURRENCY-NO-LIMITS). To add a currency fill an empty row; to remove one clear its row.",
    )

    # Declared: the admin would make it a split date + time pair, with calendar widgets.
    activates_at = forms.DateTimeField(
        label="Activate at (optional)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="When the version starts to apply once approved, in the server's time zone. Empty: as soon as "
        "another risk user approves it. Refunds created before keep the version that decided them.",
    )
    evidence_required_reasons = forms.TypedMultipleChoiceField(
        label="Reasons that need evidence",
        choices=Reason.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Requests for these reasons without evidence go to review with a decline recommendation "
        "(rule R-EVIDENCE-QUALITY for quality, and so on).",
    )
    cancellation_fee_schedule = forms.JSONField(
        label="Cancellation fee schedule",
        help_text='For reservations: a list of tiers {"min_days": days before the service starts, "percent": '
        'share of the price refunded}. Example: [{"min_days": 7, "percent": 100}, {"min_days": 2, "percent": 50}, '
        '{"min_days": 0, "percent": 0}]. Needs a tier at 0 days; later cancellations never refund more.',
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
    )

    fee_schedule_reasons = forms.TypedMultipleChoiceField(
        label="Reasons the fee schedule applies to",
        choices=[(value, label) for value, label in Reason.choices if value != Reason.GOODWILL],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Refunds of a booking for these reasons get at most the schedule's share of the captured "
        "amount (less what was already refunded); asking for more goes to review with a decline "
        "recommendation and a reply that names the share. Other reasons are refunded whatever the date. "
        "Goodwill is always reviewed and never limited by the schedule.",
    )

    class Meta:
        model = RefundPolicy
        fields = [
            "window_days",
            "velocity_max_per_24h",
            "limits",
            "evidence_required_reasons",
            "cancellation_fee_schedule",
            "fee_schedule_reasons",
            "store_credit_enabled",
            "store_credit_bonus_percent",
            "store_credit_expiry_days",
            "proration_enabled",
            "activates_at",
            "note",
        ]
        labels = {
            "window_days": "Refund window (days since capture)",
            "velocity_max_per_24h": "Customer velocity (refunds per 24 h before review)",
            "note": "Why this change",
            "store_credit_enabled": "Offer store credit",
            "store_credit_bonus_percent": "Store credit bonus (%)",
            "store_credit_expiry_days": "Store credit valid for (days)",
            "proration_enabled": "Refund services for the time not used",
        }
        help_texts = {
            "window_days": "Refunds requested later than this many days after capture go to review with a decline "
            "recommendation (rule R-WINDOW-60D for 60 days). 1 to 3650.",
            "velocity_max_per_24h": "When a customer already has this many refunds in the last 24 hours, the next "
            "one is reviewed with a decline recommendation (rule R-VELOCITY-24H). At least 1.",
            "note": "Required. Shown in the policy history and the audit trail.",
            "store_credit_enabled": "Customers and merchants may ask for a refund as a code for the merchant's "
            "checkout instead of money back. Decided like any refund; once approved it is issued at once, "
            "without the payment provider.",
            "store_credit_bonus_percent": "Added to the credit, as a percentage of the refund, rounded down to the "
            "minor unit (0 to 100). Booked as an expense. Applies to refunds decided by this version.",
            "store_credit_expiry_days": "How long a code can be spent, from its issue. Empty: it never expires. "
            "What is left at expiry is written off as breakage.",
            "proration_enabled": "For services (orders with a start and an end), a refund of the days not used, "
            "after the cancellation tier's fee.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["note"].required = True
        self.fields["store_credit_bonus_percent"].required = False
        self._reply_templates_init()

    @staticmethod
    def reply_field_names() -> list[str]:
        return [reply_field_name(language, kind) for language in REPLY_LANGUAGES for kind in REPLY_KINDS]

    def _reply_templates_init(self) -> None:
        templates = self.instance.reply_templates or default_reply_templates()
        for language in REPLY_LANGUAGES:
            for kind in REPLY_KINDS:
                name = reply_field_name(language, kind)
                if name not in self.initial:
                    self.initial[name] = (templates.get(language) or {}).get(kind) or DEFAULT_REPLY_TEMPLATES[language][
                        kind
                    ]

    def _reply_templates_clean(self, cleaned: dict) -> None:
        current = self.instance.reply_templates or {}
        templates: dict[str, dict[str, str]] = {}
        for language in REPLY_LANGUAGES:
            for kind in REPLY_KINDS:
                name = reply_field_name(language, kind)
                text = cleaned.get(name) or (current.get(language) or {}).get(kind)
                if not text:
                    text = DEFAULT_REPLY_TEMPLATES[language][kind]
                try:
                    reply_check_placeholders(text, extra=FEE_PLACEHOLDERS if kind == "decline_fee" else ())
                    # No refund yet, so no amount is right: the amount is always {amount}. USD's decimals
                    # stand for "an amount with cents"; a symbol or code beside a number is caught whatever it is.
                    reply_check_amounts(text, amount_minor=None, currency="USD")
                except DomainError as error:
                    self.add_error(name, error.message)
                    continue
                templates.setdefault(language, {})[kind] = text
        self.instance.reply_templates = templates

    def clean_activates_at(self):
        value = self.cleaned_data.get("activates_at")
        if value is not None and value <= timezone.now():
            raise ValidationError("The activation time must be in the future, or empty (on approval).")
        return value

    def clean_window_days(self) -> int:
        value = self.cleaned_data["window_days"]
        if not 1 <= value <= 3650:
            raise ValidationError("The window must be between 1 and 3650 days.")
        return value

    def clean_velocity_max_per_24h(self) -> int:
        value = self.cleaned_data["velocity_max_per_24h"]
        if value < 1:
            raise ValidationError("Velocity must be at least 1 refund per 24 hours.")
        return value

    def clean_store_credit_bonus_percent(self) -> int:
        value = self.cleaned_data.get("store_credit_bonus_percent")
        if value is None:
            return 0  # empty: no bonus
        if not 0 <= value <= 100:
            raise ValidationError("The bonus must be between 0 and 100 percent.")
        return value

    def clean_store_credit_expiry_days(self) -> int | None:
        value = self.cleaned_data.get("store_credit_expiry_days")
        if value is not None and not 1 <= value <= 3650:
            raise ValidationError("A credit must be valid for 1 to 3650 days, or leave it empty: never expires.")
        return value

    def clean_evidence_required_reasons(self) -> list[str]:
        values = list(self.cleaned_data.get("evidence_required_reasons") or [])
        unknown = sorted(set(values) - set(Reason.values))
        if unknown:
            raise ValidationError(f"Unknown reasons: {', '.join(unknown)}.")
        return [reason for reason in Reason.values if reason in values]

    def clean_fee_schedule_reasons(self) -> list[str]:
        values = list(self.cleaned_data.get("fee_schedule_reasons") or [])
        return [reason for reason in Reason.values if reason in values and reason != Reason.GOODWILL]

    def clean_cancellation_fee_schedule(self) -> list[dict[str, int]]:
        return validate_fee_schedule(self.cleaned_data.get("cancellation_fee_schedule"))

    def clean(self) -> dict:
        cleaned = super().clean()
        self._reply_templates_clean(cleaned)
        return cleaned


def validate_fee_schedule(value) -> list[dict[str, int]]:
    """A list of {"min_days", "percent"} tiers, sorted from earliest cancellation to latest."""
    if not isinstance(value, list) or not value:
        raise ValidationError('Enter a list of tiers, e.g. [{"min_days": 0, "percent": 0}].')
    tiers = []
    for index, tier in enumerate(value, start=1):
        if not isinstance(tier, dict) or set(tier) != {"min_days", "percent"}:
            raise ValidationError(f'Tier {index} must have exactly "min_days" and "percent".')
        days, percent = tier["min_days"], tier["percent"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (days, percent)):
            raise ValidationError(f"Tier {index}: min_days and percent must be whole numbers.")
        if days < 0:
            raise ValidationError(f"Tier {index}: min_days cannot be negative.")
        if not 0 <= percent <= 100:
            raise ValidationError(f"Tier {index}: percent must be between 0 and 100.")
        tiers.append({"min_days": days, "percent": percent})
    tiers.sort(key=lambda t: t["min_days"], reverse=True)
    days_seen = [t["min_days"] for t in tiers]
    if len(set(days_seen)) != len(days_seen):
        raise ValidationError("Each min_days may appear only once.")
    if days_seen[-1] != 0:
        raise ValidationError("Add a tier with min_days 0, so every cancellation time has a rule.")
    percents = [t["percent"] for t in tiers]
    if any(later > earlier for earlier, later in pairwise(percents)):
        raise ValidationError("A later cancellation cannot refund a larger share than an earlier one.")
    return tiers


class TwoFactorCodeForm(forms.Form):
    """A code from the authenticator app, or (when verifying) one of the recovery codes."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"}),
    )


# --- account --------------------------------------------------------------------


class TimeZoneForm(forms.ModelForm):
    """A staff member's time zone: one of the zone database's names, nothing else."""

    time_zone = forms.TypedChoiceField(
        label="Time zone",
        help_text="Times on staff pages are shown in this zone, with its name beside them (CET, EST, UTC…).",
        choices=(),
    )

    class Meta:
        model = StaffProfile
        fields = ["time_zone"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name.replace("_", " ")) for name in sorted(time_zone_names())]
        self.fields["time_zone"].error_messages["invalid_choice"] = (
            "%(value)s is not a time zone we know. Choose one from the list, for example Europe/Berlin."
        )


# --- Needs action (issue 12) ------------------------------------------------------
# Several entries share one page, so the templates write these fields with per-entry ids.


class CancelFailedForm(forms.Form):
    note = forms.CharField(label="Note (internal, optional)", required=False, max_length=NOTE_MAX)


class PayoutPaidForm(forms.Form):
    reference = forms.CharField(
        label="Payment reference",
        max_length=200,
        error_messages={"required": "Enter the bank or cash reference of the payment."},
    )


class PolicyReviewForm(forms.Form):
    """A second risk user's approval or rejection of a policy draft (which one: the button pressed)."""

    note = forms.CharField(
        label="Note (required to reject: the author reads it)",
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
    )
