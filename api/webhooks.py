"""The providers' webhook endpoints (SPEC §6, §9).

`POST /webhooks/payments` receives the default provider's events (`PROVIDER`,
as it always has); `POST /webhooks/payments/<provider>` a named provider's, for
deployments whose payments are held by more than one.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.correlation import get_correlation_id
from providers.registry import default_provider_name
from refunds.services.webhooks import WebhookRejected, webhook_receive

MAX_WEBHOOK_BYTES = 256 * 1024


@csrf_exempt  # authenticated by the provider's signature, not a session
@require_POST
def payments_webhook(request: HttpRequest, provider: str | None = None) -> JsonResponse:
    """2xx once stored (or already stored), 400 if unverifiable or the provider is unknown.

    Which header carries the signature is the provider's business, so every
    header is passed on.
    """
    if len(request.body) > MAX_WEBHOOK_BYTES:
        return _rejected("payload too large")
    try:
        result = webhook_receive(
            provider=provider or default_provider_name(), payload=request.body, headers=request.headers
        )
    except WebhookRejected as error:
        return _rejected(str(error))
    return JsonResponse({"received": True, "status": result.status, "event_id": result.event_id})


def _rejected(reason: str) -> JsonResponse:
    return JsonResponse(
        {
            "code": "ERR.WEBHOOK.rejected",
            "message_id": "webhook.rejected",
            "message": f"Webhook rejected: {reason}.",
            "correlation_id": get_correlation_id(),
        },
        status=400,
    )
