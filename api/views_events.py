"""The events and webhook endpoint operations (issue 14): one view per URL; views translate, services decide.

Every lookup is scoped to the key's merchant (events.selectors): another
merchant's event, endpoint or cursor answers exactly like one that does not
exist. Scopes: `events:read` for the events, `webhooks:write` for the
endpoints and for redelivery.
"""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from api import examples as ex
from api import serializers_events as s
from api.idempotency import idempotency_key_from, missing_key_response, request_fingerprint, run_idempotent
from api.pagination import PAGE_PARAMETERS, page_body, page_request, unknown_cursor
from api.throttling import WebhookWriteThrottle
from api.views import _ANY_CALL, _WITH_BODY, CORRELATION_HEADER, IDEMPOTENCY_HEADER, errors
from core.actor import Actor
from core.errors import ERR_NOT_FOUND, DomainError
from events.enums import SUBSCRIBABLE
from events.models import Event, WebhookEndpoint
from events.selectors import (
    attempt_find,
    endpoint_attempts,
    endpoint_get,
    event_find,
    event_get,
    merchant_endpoints,
    merchant_events,
)
from events.services import endpoints as endpoint_services
from events.services.redeliver import event_redeliver
from events.signing import secret_seal, secret_unseal
from refunds.enums import Scope
from refunds.models import Merchant

TYPE_PARAMETER = OpenApiParameter(
    "type",
    {"type": "string", "enum": list(SUBSCRIBABLE)},
    OpenApiParameter.QUERY,
    description="Only events of this type; `refund.*` for every refund event.",
)
EVENT_AFTER = OpenApiParameter(
    "after",
    {"type": "string", "maxLength": 64, "minLength": 1},
    OpenApiParameter.QUERY,
    description="An event id (`evt_…`): the events that came after it (higher `sequence`). "
    "Not one of your events: 400 `ERR.VALIDATION.request`.",
)
LIST_AFTER = OpenApiParameter(
    "after",
    {"type": "string", "maxLength": 64, "minLength": 1},
    OpenApiParameter.QUERY,
    description="The `next_after` of the previous page. Not an item of this list: 400 `ERR.VALIDATION.request`.",
)
LIMIT = PAGE_PARAMETERS[0]


def _actor(request) -> Actor:
    return Actor.for_api_key(request.auth)


def _merchant(request) -> Merchant:
    return request.auth.merchant


def _endpoint(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return dict(s.WebhookEndpointOutput(endpoint).data)


# --- events ------------------------------------------------------------------


class EventListView(APIView):
    required_scope = Scope.EVENTS_READ

    @extend_schema(
        parameters=[TYPE_PARAMETER, LIMIT, EVENT_AFTER],
        responses={200: s.EventListOutput, **errors(*_ANY_CALL, 400, examples={400: [ex.UNKNOWN_CURSOR]})},
        examples=[ex.EVENT_LIST],
        operation_id="events_list",
        tags=["events"],
    )
    def get(self, request):
        """Your events in the order they happened (`sequence`); read on with `after` = the last id you have."""
        page = page_request(request.query_params)
        query = s.EventListQuery(data={k: v for k, v in request.query_params.items() if k == "type"})
        query.is_valid(raise_exception=True)
        merchant = _merchant(request)
        after_sequence = None
        if page.after is not None:
            cursor = event_find(public_id=page.after, merchant=merchant)
            if cursor is None:
                raise unknown_cursor(page.after)
            after_sequence = cursor.sequence
        events = merchant_events(
            merchant=merchant, type=query.validated_data.get("type"), after_sequence=after_sequence
        )
        body = page_body(
            events[: page.limit + 1], limit=page.limit, render=Event.as_payload, cursor=lambda e: e.public_id
        )
        return Response(body)


class EventDetailView(APIView):
    required_scope = Scope.EVENTS_READ

    @extend_schema(responses={200: s.EventOutput, **errors(*_ANY_CALL, 404)}, examples=[ex.EVENT], tags=["events"])
    def get(self, request, event_id: str):
        """One of your events."""
        return Response(event_get(public_id=event_id, merchant=_merchant(request)).as_payload())


class EventRedeliverView(APIView):
    required_scope = Scope.WEBHOOKS_WRITE
    throttle_classes = [WebhookWriteThrottle]

    @extend_schema(
        request=s.RedeliverInput,
        responses={
            202: s.RedeliverOutput,
            **errors(*_WITH_BODY, 404, 409, 429, examples={409: [ex.REDELIVER_DISABLED, ex.REDELIVER_NOWHERE]}),
        },
        examples=[ex.REDELIVER_ONE_REQUEST, ex.REDELIVER_ALL_REQUEST, ex.REDELIVERED],
        tags=["events"],
    )
    def post(self, request, event_id: str):
        """Send an event again: to one endpoint, or to every enabled endpoint subscribed to its type.

        An endpoint that has a pending redelivery of the event already gets that one back, not a second.
        """
        data = s.RedeliverInput(data=request.data)
        data.is_valid(raise_exception=True)
        merchant = _merchant(request)
        event = event_get(public_id=event_id, merchant=merchant)
        endpoint = None
        if "endpoint" in data.validated_data:
            try:
                endpoint = endpoint_get(public_id=data.validated_data["endpoint"], merchant=merchant)
            except DomainError:
                raise DomainError(ERR_NOT_FOUND, "No such webhook endpoint.", field="endpoint") from None
        deliveries = event_redeliver(event=event, actor=_actor(request), endpoint=endpoint)
        return Response(s.RedeliverOutput(event, context={"deliveries": deliveries}).data, status=202)


# --- webhook endpoints -------------------------------------------------------


def _seal_secret(body: dict) -> dict:
    """What the idempotency record keeps of a create's answer: the secret encrypted, never in clear."""
    if "secret" not in body:
        return body
    sealed = dict(body)
    sealed["secret_sealed"] = secret_seal(sealed.pop("secret"))
    return sealed


def _unseal_secret(body: dict) -> dict:
    if "secret_sealed" not in body:
        return body
    answer = dict(body)
    answer["secret"] = secret_unseal(answer.pop("secret_sealed"))
    return answer


class WebhookEndpointListView(APIView):
    required_scope = Scope.WEBHOOKS_WRITE
    throttle_classes = [WebhookWriteThrottle]
    # The key's record is looked up with the API key (api.idempotency.lookup_key).
    idempotent_writes = True

    def get_throttles(self):
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(
        parameters=[LIMIT, LIST_AFTER],
        responses={200: s.WebhookEndpointListOutput, **errors(*_ANY_CALL, 400, examples={400: [ex.UNKNOWN_CURSOR]})},
        examples=[ex.ENDPOINT_LIST],
        operation_id="webhook_endpoints_list",
        tags=["webhook endpoints"],
    )
    def get(self, request):
        """Your webhook endpoints (enabled and disabled; not deleted ones), oldest first."""
        page = page_request(request.query_params)
        endpoints = merchant_endpoints(merchant=_merchant(request))
        if page.after is not None:
            cursor = endpoints.filter(public_id=page.after).first()
            if cursor is None:
                raise unknown_cursor(page.after)
            endpoints = endpoints.filter(created_at__gte=cursor.created_at).exclude(
                created_at=cursor.created_at, pk__lte=cursor.pk
            )
        body = page_body(endpoints[: page.limit + 1], limit=page.limit, render=_endpoint, cursor=lambda e: e.public_id)
        return Response(body)

    @extend_schema(
        request=s.WebhookEndpointInput,
        responses={
            201: s.WebhookEndpointCreatedOutput,
            **errors(
                *_WITH_BODY,
                409,
                429,
                examples={
                    400: [ex.UNSAFE_URL, ex.ENDPOINT_LIMIT, ex.ERROR_EXAMPLES[400]],
                    409: [ex.IDEMPOTENCY_CONFLICT],
                },
            ),
        },
        examples=[ex.ENDPOINT_CREATE_REQUEST, ex.ENDPOINT_CREATED],
        parameters=[IDEMPOTENCY_HEADER, CORRELATION_HEADER],
        tags=["webhook endpoints"],
    )
    def post(self, request):
        """Register an endpoint; the answer carries its signing secret, shown this once."""
        key = idempotency_key_from(request)
        if key is None:
            return missing_key_response()
        data = s.WebhookEndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        # The URL is looked up now, before the idempotency record's transaction: a slow DNS answer holds no
        # lock. A refusal is answered (and recorded under the key) from inside, like any other.
        try:
            url: endpoint_services.CheckedURL | None = endpoint_services.endpoint_url_checked(v["url"])
            refusal = None
        except DomainError as error:
            url, refusal = None, error

        def create() -> tuple[int, dict]:
            if refusal is not None:
                raise refusal
            endpoint, secret = endpoint_services.endpoint_create(
                merchant=_merchant(request),
                url=url,
                events=v["events"],
                description=v["description"],
                actor=_actor(request),
            )
            return 201, dict(s.WebhookEndpointCreatedOutput(endpoint, context={"secret": secret}).data)

        return run_idempotent(
            api_key=request.auth,
            key=key,
            fingerprint=request_fingerprint("POST", request.path, request.data),
            operation=create,
            stored=_seal_secret,
            replayed=_unseal_secret,
        )


class WebhookEndpointDetailView(APIView):
    required_scope = Scope.WEBHOOKS_WRITE

    @extend_schema(
        responses={200: s.WebhookEndpointOutput, **errors(*_ANY_CALL, 404)},
        examples=[ex.ENDPOINT],
        tags=["webhook endpoints"],
    )
    def get(self, request, endpoint_id: str):
        """One of your endpoints (never its secret)."""
        return Response(_endpoint(endpoint_get(public_id=endpoint_id, merchant=_merchant(request))))

    @extend_schema(
        request=s.WebhookEndpointUpdateInput,
        responses={
            200: s.WebhookEndpointOutput,
            **errors(*_WITH_BODY, 404, examples={400: [ex.UNSAFE_URL, ex.ERROR_EXAMPLES[400]]}),
        },
        examples=[ex.ENDPOINT_DISABLE_REQUEST, ex.ENDPOINT_EVENTS_REQUEST, ex.ENDPOINT_DISABLED],
        tags=["webhook endpoints"],
    )
    def patch(self, request, endpoint_id: str):
        """Change the URL, the events, the description, or disable / enable it; what is left out stays."""
        data = s.WebhookEndpointUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = endpoint_get(public_id=endpoint_id, merchant=_merchant(request))
        endpoint = endpoint_services.endpoint_update(
            endpoint_id=endpoint.pk, actor=_actor(request), **data.validated_data
        )
        return Response(_endpoint(endpoint))

    @extend_schema(
        request=None,
        responses={200: s.WebhookEndpointDeletedOutput, **errors(*_ANY_CALL, 404)},
        examples=[ex.ENDPOINT_DELETED],
        tags=["webhook endpoints"],
    )
    def delete(self, request, endpoint_id: str):
        """Delete an endpoint: it receives nothing more, its pending deliveries are given up."""
        endpoint = endpoint_get(public_id=endpoint_id, merchant=_merchant(request))
        endpoint = endpoint_services.endpoint_delete(endpoint_id=endpoint.pk, actor=_actor(request))
        return Response(s.WebhookEndpointDeletedOutput(endpoint).data)


class WebhookEndpointRotateView(APIView):
    required_scope = Scope.WEBHOOKS_WRITE
    throttle_classes = [WebhookWriteThrottle]

    @extend_schema(
        request=None,
        responses={200: s.WebhookEndpointRotatedOutput, **errors(*_ANY_CALL, 404, 429)},
        examples=[ex.ENDPOINT_ROTATED],
        tags=["webhook endpoints"],
    )
    def post(self, request, endpoint_id: str):
        """A new signing secret (shown this once); the previous one keeps signing beside it for 24 hours.

        Only the secret just replaced: a second rotation within the 24 hours drops the first old secret.
        """
        endpoint = endpoint_get(public_id=endpoint_id, merchant=_merchant(request))
        secret = endpoint_services.endpoint_rotate_secret(endpoint_id=endpoint.pk, actor=_actor(request))
        endpoint.refresh_from_db()
        expires_at = parse_datetime(endpoint.previous_secrets[-1]["expires_at"])
        context = {"secret": secret, "previous_secret_expires_at": expires_at.isoformat().replace("+00:00", "Z")}
        return Response(s.WebhookEndpointRotatedOutput(endpoint, context=context).data)


class WebhookEndpointDeliveriesView(APIView):
    required_scope = Scope.WEBHOOKS_WRITE

    @extend_schema(
        parameters=[LIMIT, LIST_AFTER],
        responses={
            200: s.WebhookAttemptListOutput,
            **errors(*_ANY_CALL, 400, 404, examples={400: [ex.UNKNOWN_CURSOR]}),
        },
        examples=[ex.ATTEMPT_LIST],
        tags=["webhook endpoints"],
    )
    def get(self, request, endpoint_id: str):
        """The endpoint's delivery attempts, newest first: status, latency, the start of its answer."""
        page = page_request(request.query_params)
        endpoint = endpoint_get(public_id=endpoint_id, merchant=_merchant(request))
        after = None
        if page.after is not None:
            after = attempt_find(public_id=page.after, endpoint=endpoint)
            if after is None:
                raise unknown_cursor(page.after)
        attempts = endpoint_attempts(endpoint=endpoint, after=after)
        body = page_body(
            attempts[: page.limit + 1],
            limit=page.limit,
            render=lambda a: dict(s.WebhookAttemptOutput(a).data),
            cursor=lambda a: a.public_id,
        )
        return Response(body)
