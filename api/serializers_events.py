"""Input and output shapes of the events and webhook endpoint operations (issue 14), one pair per operation.

The rules a merchant can break (an unsafe URL, the endpoint limit, a repeated
event type) are the services' (events.services.endpoints): they answer 400
ERR.VALIDATION.request with `details.field`. These serializers only hold the
body to the schema they publish, and nothing the schema allows is refused here.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.pagination import list_output
from api.serializers import StrictCharField
from events.documents import RefundOutput
from events.enums import SUBSCRIBABLE, DeliveryStatus, DeliveryTrigger, EndpointStatus, EventType
from events.ssrf import MAX_URL_LENGTH

MAX_DESCRIPTION = 500
MAX_ID_LENGTH = 32


class StrictBooleanField(serializers.BooleanField):
    """true or false in JSON, not "true", 1 or "yes" (the schema says `type: boolean`)."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": list(SUBSCRIBABLE)},
        "minItems": 1,
        "maxItems": len(SUBSCRIBABLE),
        "uniqueItems": True,
        "description": "`refund.*` for every refund event, and/or exact types; each once.",
    }
)
class EventTypesField(serializers.ListField):
    child = serializers.ChoiceField(choices=list(SUBSCRIBABLE))

    def __init__(self, **kwargs) -> None:
        super().__init__(min_length=1, max_length=len(SUBSCRIBABLE), **kwargs)


def _url(**kwargs) -> serializers.CharField:
    # Not trimmed: the URL checked is the URL stored and called (events.ssrf refuses blanks inside).
    return StrictCharField(max_length=MAX_URL_LENGTH, trim_whitespace=False, **kwargs)


def _description(**kwargs) -> serializers.CharField:
    return StrictCharField(max_length=MAX_DESCRIPTION, allow_blank=True, trim_whitespace=False, **kwargs)


# --- events ------------------------------------------------------------------


class EventListQuery(serializers.Serializer):
    type = serializers.ChoiceField(choices=list(SUBSCRIBABLE), required=False)


class EventOutput(serializers.Serializer):
    """An event as the API lists it and as a webhook's body carries it (`Event.as_payload`)."""

    id = serializers.CharField(help_text="`evt_…`; also the `webhook-id` header of its deliveries.")
    object = serializers.CharField(help_text="`event`")
    type = serializers.ChoiceField(choices=EventType.choices)
    created_at = serializers.DateTimeField()
    sequence = serializers.IntegerField(help_text="1, 2, 3 … per merchant, in commit order.")
    data = RefundOutput(help_text="The refund as `GET /v1/refunds/{refund_id}` returned it at that moment.")


EventListOutput = list_output(EventOutput(many=True), "EventList")


# --- webhook endpoints -------------------------------------------------------


class WebhookEndpointInput(serializers.Serializer):
    url = _url(help_text='https:// and a public address (docs/api.md "Webhook endpoints").')
    events = EventTypesField()
    description = _description(required=False, default="")


class WebhookEndpointUpdateInput(serializers.Serializer):
    url = _url(required=False)
    events = EventTypesField(required=False)
    description = _description(required=False)
    disabled = StrictBooleanField(
        required=False, help_text="true stops deliveries; false enables again (forgetting past failures)."
    )


class WebhookEndpointOutput(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="`we_…`")
    object = serializers.SerializerMethodField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=list(SUBSCRIBABLE)))
    description = serializers.CharField()
    status = serializers.ChoiceField(choices=EndpointStatus.choices)
    disabled_reason = serializers.ChoiceField(
        choices=["", "merchant", "failing"],
        help_text="Empty while enabled; `merchant` (asked for) or `failing` (days of failed deliveries).",
    )
    created_at = serializers.DateTimeField()

    def get_object(self, endpoint) -> str:
        return "webhook_endpoint"


class WebhookEndpointCreatedOutput(WebhookEndpointOutput):
    """The endpoint and its signing secret: shown in this answer only."""

    secret = serializers.SerializerMethodField(help_text="`whsec_…`: shown once; keep it to verify signatures.")

    def get_secret(self, endpoint) -> str:
        return self.context["secret"]


class WebhookEndpointRotatedOutput(WebhookEndpointCreatedOutput):
    """The endpoint and its new secret (shown once); the previous one keeps signing until the time given."""

    previous_secret_expires_at = serializers.SerializerMethodField()

    def get_previous_secret_expires_at(self, endpoint) -> str:
        return self.context["previous_secret_expires_at"]


class WebhookEndpointDeletedOutput(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()
    deleted = serializers.SerializerMethodField()

    def get_object(self, endpoint) -> str:
        return "webhook_endpoint"

    def get_deleted(self, endpoint) -> bool:
        return True


WebhookEndpointListOutput = list_output(WebhookEndpointOutput(many=True), "WebhookEndpointList")


class WebhookAttemptOutput(serializers.Serializer):
    """One HTTP request of a delivery to the endpoint, as it went."""

    id = serializers.CharField(source="public_id", help_text="`wa_…`")
    object = serializers.SerializerMethodField()
    event_id = serializers.CharField(source="delivery.event.public_id")
    event_type = serializers.ChoiceField(source="delivery.event.type", choices=EventType.choices)
    attempt = serializers.IntegerField(source="number", help_text="1 for the first try of its delivery.")
    started_at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True, help_text="null when no answer came (timeout, refused).")
    latency_ms = serializers.IntegerField(allow_null=True)
    response_excerpt = serializers.CharField(help_text="The start of the answer's body.")
    error = serializers.CharField(help_text="Why it failed when no answer came; empty otherwise.")
    succeeded = serializers.BooleanField()

    def get_object(self, attempt) -> str:
        return "webhook_attempt"


WebhookAttemptListOutput = list_output(WebhookAttemptOutput(many=True), "WebhookAttemptList")


class RedeliverInput(serializers.Serializer):
    endpoint = StrictCharField(
        max_length=MAX_ID_LENGTH,
        required=False,
        help_text="`we_…`: to this endpoint only; without it, to every enabled endpoint subscribed to the event.",
    )


class QueuedDeliveryOutput(serializers.Serializer):
    endpoint = serializers.CharField(source="endpoint.public_id")
    trigger = serializers.ChoiceField(choices=DeliveryTrigger.choices)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    created_at = serializers.DateTimeField()


class RedeliverOutput(serializers.Serializer):
    event_id = serializers.CharField(source="public_id")
    deliveries = serializers.SerializerMethodField()

    @extend_schema_field(QueuedDeliveryOutput(many=True))
    def get_deliveries(self, event) -> list[dict]:
        return QueuedDeliveryOutput(self.context["deliveries"], many=True).data
