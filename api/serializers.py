"""Input and output shapes of the API, one pair per operation."""

from __future__ import annotations

from datetime import UTC

from django.core.validators import RegexValidator
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.pagination import list_output
from core.money import CURRENCY_EXPONENTS, MAX_AMOUNT_MINOR, is_known_currency
from events.documents import ProrationOutput, RefundLineOutput, RefundOutput, refund_lines_output
from notifications.messages import MSG_REQUEST_ACCEPTED
from providers.registry import provider_names
from refunds.enums import PaymentStatus, Rail, Reason, RefundInstrument, RefundState
from refunds.metadata import METADATA_SCHEMA, metadata_problem
from refunds.services.evidence_refs import (
    MAX_FILE_ID,
    MAX_ITEMS,
    MAX_URI_LENGTH,
    REFERENCE_TYPES,
    evidence_item_parse,
)
from refunds.services.lines import MAX_LINES


class StrictIntegerField(serializers.IntegerField):
    """An integer in JSON, not a string or float that happens to look like one."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class MinorUnitsField(StrictIntegerField):
    """An amount in minor units: an integer in JSON, at most MAX_AMOUNT_MINOR (beyond it the database fails, a 500)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_value", MAX_AMOUNT_MINOR)
        super().__init__(**kwargs)


# quantity is a PostgreSQL integer column.
MAX_QUANTITY = 2**31 - 1


class StrictCharField(serializers.CharField):
    """Text in JSON, not a number that DRF would turn into one (the schema says `type: string`)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# What Python's str.strip() (hence DRF's trim_whitespace) removes, spelled out: a regex `\s` differs
# between Python and the ECMA dialect OpenAPI patterns use (U+001C-U+001F, U+0085, U+FEFF).
_WHITESPACE = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK_PATTERN = f"[^{_WHITESPACE}]"


def not_blank(**kwargs) -> serializers.CharField:
    """A required text that must hold something besides whitespace; the schema says so with a pattern.

    DRF trims the value and refuses what is left empty: without the pattern
    the schema would promise that " " is accepted.
    """
    return StrictCharField(validators=[RegexValidator(NOT_BLANK_PATTERN)], **kwargs)


# Upper case as ISO 4217 writes it, and lower case as Stripe's API does: integrations built on one
# or the other have always been accepted (answers carry upper case), so the schema lists both.
CURRENCY_CODES = [*sorted(CURRENCY_EXPONENTS), *sorted(code.lower() for code in CURRENCY_EXPONENTS)]


@extend_schema_field(
    {"type": "string", "enum": CURRENCY_CODES, "description": "ISO 4217 code, either case; answers use upper case."}
)
class CurrencyField(StrictCharField):
    """An ISO 4217 code we know the minor unit of (core.money), in either case, exactly as the schema's enum."""

    def __init__(self, **kwargs) -> None:
        super().__init__(min_length=3, max_length=3, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value not in CURRENCY_CODES or not is_known_currency(value.upper()):
            raise serializers.ValidationError(f"Unknown currency '{value}': an ISO 4217 code such as USD.")
        value = value.upper()
        return value


# --- orders ------------------------------------------------------------------


class CustomerInput(serializers.Serializer):
    id = not_blank(max_length=100)
    email = StrictEmailField(required=False, allow_blank=True, default="")
    name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    locale = serializers.ChoiceField(choices=["en", "ar", "de"], required=False, default="en")


# Rules across fields, which a JSON schema cannot state: the one refusal of data the schema allows
# (400 ERR.VALIDATION.request, `details.fields`), named in the schema's descriptions.
LINE_AMOUNT_TOO_LARGE = f"The line amount exceeds {MAX_AMOUNT_MINOR} minor units."
DISCOUNT_OVER_LINE = "A discount cannot exceed the line amount."
CREATED_RANGE_EMPTY = "created_gte must be earlier than created_lt."
SERVICE_END_NOT_AFTER_START = "service_ends_at must be later than service_starts_at, which it needs."
ONE_WAY_TO_THE_AMOUNT = "Give exactly one of amount_minor, lines or prorate: true."
SKU_NAMED_TWICE = "Name each sku at most once, with its whole quantity."
CROSS_FIELD_RULES = frozenset(
    {
        LINE_AMOUNT_TOO_LARGE,
        DISCOUNT_OVER_LINE,
        CREATED_RANGE_EMPTY,
        SERVICE_END_NOT_AFTER_START,
        ONE_WAY_TO_THE_AMOUNT,
        SKU_NAMED_TWICE,
    }
)


class LineInput(serializers.Serializer):
    """An order line. `unit_amount_minor × quantity` is at most 2^53 − 1, and `discount_minor` at most that product."""

    sku = StrictCharField(max_length=100, required=False, allow_blank=True, default="")
    description = StrictCharField(max_length=300, required=False, allow_blank=True, default="")
    unit_amount_minor = MinorUnitsField(min_value=0)
    quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY, required=False, default=1)
    tax_minor = MinorUnitsField(min_value=0, required=False, default=0)
    discount_minor = MinorUnitsField(min_value=0, required=False, default=0)

    def validate(self, attrs):
        if attrs["unit_amount_minor"] * attrs["quantity"] > MAX_AMOUNT_MINOR:
            raise serializers.ValidationError({"quantity": LINE_AMOUNT_TOO_LARGE})
        return attrs


class PaymentInput(serializers.Serializer):
    provider_payment_id = not_blank(max_length=100)
    # Optional: which provider holds the payment; default PROVIDER.
    provider = serializers.ChoiceField(choices=provider_names(), required=False)
    rail = serializers.ChoiceField(choices=Rail.choices)
    amount_minor = MinorUnitsField(min_value=1)
    status = serializers.ChoiceField(choices=PaymentStatus.choices)
    captured_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class OrderInput(serializers.Serializer):
    order_id = not_blank(max_length=100)
    currency = CurrencyField()
    customer = CustomerInput()
    placed_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    service_starts_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    # With a start, the end (exclusive) of a service: refunds for time not used count the days between.
    service_ends_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    lines = LineInput(many=True, required=False, default=list, max_length=500)
    payment = PaymentInput()

    def validate(self, attrs):
        ends_at, starts_at = attrs["service_ends_at"], attrs["service_starts_at"]
        if ends_at is not None and (starts_at is None or ends_at <= starts_at):
            raise serializers.ValidationError({"service_ends_at": SERVICE_END_NOT_AFTER_START})
        for line in attrs["lines"]:
            if line["discount_minor"] > line["unit_amount_minor"] * line["quantity"]:
                raise serializers.ValidationError({"lines": DISCOUNT_OVER_LINE})
        return attrs


class OrderOutput(serializers.Serializer):
    """An order as stored; `created` (context) says whether this call created it."""

    order_id = serializers.CharField()
    currency = serializers.CharField()
    created = serializers.SerializerMethodField()
    payment_status = serializers.CharField(source="payment.status")
    captured_amount_minor = serializers.IntegerField(source="payment.amount_minor")
    remaining_refundable_minor = serializers.IntegerField(source="payment.remaining_refundable_minor")

    def get_created(self, order) -> bool:
        return bool(self.context["created"])


# --- refunds -----------------------------------------------------------------


# Exactly what `evidence_item_parse` accepts: an https URI naming a host (no credentials, no brackets),
# printable ASCII without spaces.
_HOST_FIRST = r'!"$-.0-9;->A-Z\\^-~'
EVIDENCE_URI_PATTERN = f"^https://[{_HOST_FIRST}][{_HOST_FIRST}:]*([/?#][!-~]*)?$"
_FILE_ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_FILE_ID}


@extend_schema_field(
    {
        "oneOf": [
            {**_FILE_ID_SCHEMA, "description": "the id of a file uploaded for this order"},
            {"type": "string", "pattern": "^(?!0+$)[0-9]{1,18}$", "description": "the same id as a string"},
            {
                "type": "object",
                "description": "the stored form of a file id, as the API shows it",
                "properties": {"type": {"type": "string", "enum": ["file"]}, "file_id": _FILE_ID_SCHEMA},
                "required": ["type", "file_id"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "enum": list(REFERENCE_TYPES)},
                    "uri": {"type": "string", "maxLength": MAX_URI_LENGTH, "pattern": EVIDENCE_URI_PATTERN},
                },
                "required": ["type", "uri"],
                "additionalProperties": False,
            },
        ]
    }
)
class EvidenceItemField(serializers.Field):
    """An uploaded file id or `{"type": "photo"|"document"|"url", "uri": "https://…"}` (the rules are
    `refunds.services.evidence_refs`; the service checks the file belongs to the order)."""

    def to_internal_value(self, data):
        try:
            return evidence_item_parse(data)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None

    def to_representation(self, value):
        return value


@extend_schema_field(METADATA_SCHEMA)
class MetadataField(serializers.Field):
    """The merchant's key-value pairs: the rules are `refunds.metadata` (Stripe's), and so is the schema.

    What the schema states is checked here (`details.fields`); the keys' rules, which OpenAPI 3.0
    cannot state, by `metadata_clean` in the view (`details.field`).
    """

    def to_internal_value(self, data):
        problem = metadata_problem(data, keys=False)
        if problem:
            raise serializers.ValidationError(problem)
        return dict(data)

    def to_representation(self, value):
        return value


class StrictBooleanField(serializers.BooleanField):
    """true or false in JSON, not a string or number DRF would read as one."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class RefundLineInput(serializers.Serializer):
    sku = not_blank(max_length=100)
    quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY)


class RefundCreateInput(serializers.Serializer):
    """Exactly one of `amount_minor`, `lines` or `prorate: true` says how much (docs/api.md "Refunds by line",
    "Time not used"); another combination is 400 ERR.VALIDATION.request."""

    amount_minor = MinorUnitsField(min_value=1, required=False)
    lines = RefundLineInput(many=True, required=False, min_length=1, max_length=MAX_LINES)
    prorate = StrictBooleanField(required=False, default=False)
    instrument = serializers.ChoiceField(
        choices=[RefundInstrument.ORIGINAL_PAYMENT, RefundInstrument.STORE_CREDIT], required=False, default=None
    )
    currency = CurrencyField()
    reason = serializers.ChoiceField(choices=Reason.choices)
    note = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")
    evidence = serializers.ListField(child=EvidenceItemField(), required=False, default=list, max_length=MAX_ITEMS)
    metadata = MetadataField(required=False, default=dict)

    def validate(self, attrs):
        if sum(("amount_minor" in attrs, "lines" in attrs, attrs["prorate"])) != 1:
            raise serializers.ValidationError(ONE_WAY_TO_THE_AMOUNT)
        skus = [line["sku"] for line in attrs.get("lines", [])]
        if len(set(skus)) != len(skus):
            raise serializers.ValidationError({"lines": SKU_NAMED_TWICE})
        return attrs


class RefundCreateOutput(serializers.Serializer):
    refund_id = serializers.CharField(source="public_id")
    state = serializers.CharField()
    amount_minor = serializers.IntegerField()
    currency = serializers.CharField()
    remaining_refundable_minor = serializers.IntegerField(source="payment.remaining_refundable_minor")
    # The customer message the request is acknowledged with (SPEC §8), whatever the policy decided.
    message_id = serializers.SerializerMethodField()
    policy_outcome = serializers.CharField()
    policy_rule = serializers.CharField()
    status_url = serializers.CharField()
    lines = serializers.SerializerMethodField()
    proration = ProrationOutput(allow_null=True)

    @extend_schema_field(RefundLineOutput(many=True))
    def get_lines(self, refund) -> list[dict]:
        return refund_lines_output(refund)

    def get_message_id(self, refund) -> str:
        return MSG_REQUEST_ACCEPTED


class DecisionInput(serializers.Serializer):
    """What the view reads. The schema shows the two shapes it accepts (ApproveInput, DenyInput) instead."""

    decision = serializers.ChoiceField(choices=["approve", "deny"])
    # Optional to approve; a deny without one is 400 ERR.VALIDATION.note.required (refunds.services.decide).
    note = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")
    # What the decider saw (both optional): a refund that no longer has this amount or version
    # answers 409 ERR.CONFLICT.changed and nothing moves.
    amount_minor = StrictIntegerField(min_value=1, max_value=2**63 - 1, required=False)
    version = StrictIntegerField(min_value=1, max_value=2**31 - 1, required=False)
    # Approve only: the reply template the approval email carries (refunds.replies); deny only: the internal
    # rationale, kept for staff and the audit trail and never returned by this API (docs/api.md).
    reply = StrictCharField(max_length=5000, required=False, trim_whitespace=True)
    rationale = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")


class ApproveInput(DecisionInput):
    """`decision: approve`; the note is optional. `reply` replaces the drafted reply first (a template:
    placeholders {amount}, {order}, {item}, {customer_name}, {timing}); one that states another amount than the
    refund's is 400 ERR.VALIDATION.reply.amount_mismatch, an unknown placeholder 400
    ERR.VALIDATION.reply.placeholder."""

    decision = serializers.ChoiceField(choices=["approve"])
    rationale = None


class DenyInput(DecisionInput):
    """`decision: deny`: `note` is the message to the customer, required (without one: 400
    ERR.VALIDATION.note.required); `rationale` is internal — kept on the decision and in the audit trail, never
    emailed, never on the status page, never in this API's answers."""

    decision = serializers.ChoiceField(choices=["deny"])
    note = not_blank(max_length=2000)
    reply = None


class ErrorOutput(serializers.Serializer):
    """Every refusal and failure (SPEC §9, core.errors.error_body); docs/api.md lists the codes."""

    code = serializers.CharField(help_text="The stable error code, e.g. `ERR.NOT_FOUND`; compare against it.")
    message_id = serializers.CharField(help_text="The id of the message text, for translation.")
    message = serializers.CharField(help_text="Human-readable, in the request's language.")
    correlation_id = serializers.CharField(help_text="Also in the `X-Correlation-Id` header; quote it to support.")
    details = serializers.DictField(
        required=False, help_text="Present for some codes: e.g. `fields` for validation, `remaining_refundable_minor`."
    )


class CancelInput(serializers.Serializer):
    note = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")


class PayoutInput(serializers.Serializer):
    reference = not_blank(max_length=200)


class OrderRefundsOutput(serializers.Serializer):
    """An order with its refunds (context `refunds`); an order without a payment has nothing to refund."""

    order_id = serializers.CharField()
    currency = serializers.CharField()
    captured_amount_minor = serializers.SerializerMethodField()
    remaining_refundable_minor = serializers.SerializerMethodField()
    refunds = serializers.SerializerMethodField()

    def get_captured_amount_minor(self, order) -> int:
        payment = getattr(order, "payment", None)
        return payment.amount_minor if payment else 0

    def get_remaining_refundable_minor(self, order) -> int:
        payment = getattr(order, "payment", None)
        return payment.remaining_refundable_minor if payment else 0

    @extend_schema_field(RefundOutput(many=True))
    def get_refunds(self, order) -> list[dict]:
        return RefundOutput(self.context["refunds"], many=True).data


# --- lists and uploads (issue 14) ------------------------------------------------


class AwareDateTimeField(serializers.Field):
    """An ISO 8601 date and time with its offset (`2026-12-01T00:00:00Z`, `…+01:00`).

    Without one it is refused, not guessed: "midnight" in the server's time
    zone is a different instant than the caller's, and a list filtered on it
    would silently miss or repeat refunds.
    """

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("A date and time in ISO 8601, e.g. 2026-12-01T00:00:00Z.")
        try:
            value = parse_datetime(data.strip())
        except ValueError:
            value = None
        if value is None:
            raise serializers.ValidationError("A date and time in ISO 8601, e.g. 2026-12-01T00:00:00Z.")
        if value.tzinfo is None or value.utcoffset() is None:
            raise serializers.ValidationError("Give the time zone: end with Z or an offset such as +01:00.")
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise serializers.ValidationError("The date is out of range.") from None

    def to_representation(self, value):
        return value.isoformat()


class RefundListQuery(serializers.Serializer):
    """The filters of `GET /v1/refunds` (the page itself is `api.pagination.page_request`)."""

    state = serializers.ChoiceField(choices=RefundState.choices, required=False)
    order_id = StrictCharField(max_length=100, required=False, trim_whitespace=False)
    created_gte = AwareDateTimeField(required=False)
    created_lt = AwareDateTimeField(required=False)

    def validate(self, attrs):
        if "created_gte" in attrs and "created_lt" in attrs and attrs["created_gte"] >= attrs["created_lt"]:
            raise serializers.ValidationError({"created_lt": CREATED_RANGE_EMPTY})
        return attrs


RefundListOutput = list_output(RefundOutput(many=True), "RefundList")


class PaymentRefundsOutput(serializers.Serializer):
    """A payment with every refund of it (context `refunds`), and what is captured and still refundable."""

    provider_payment_id = serializers.CharField()
    order_id = serializers.CharField(source="order.order_id")
    currency = serializers.CharField()
    payment_status = serializers.CharField(source="status")
    captured_amount_minor = serializers.IntegerField(source="amount_minor")
    remaining_refundable_minor = serializers.IntegerField()
    refunds = serializers.SerializerMethodField()

    @extend_schema_field(RefundOutput(many=True))
    def get_refunds(self, payment) -> list[dict]:
        return RefundOutput(self.context["refunds"], many=True).data


class EvidenceUploadInput(serializers.Serializer):
    """multipart/form-data: one or more `file` parts (JPEG, PNG or PDF, checked by content; see docs/api.md)."""

    # Empty, wrong type, too large: `refunds.services.evidence.evidence_validate` says so, as in the console.
    file = serializers.ListField(child=serializers.FileField(allow_empty_file=True), min_length=1)
