"""Links to the customer request portal for merchants' order emails (issue 15, docs/api.md "Request links")."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.views import _ANY_CALL, errors
from core.errors import ERR_VALIDATION, DomainError
from refunds.enums import Scope
from refunds.selectors import order_get
from refunds.services.request_links import request_link_make


class RequestLinkOutput(serializers.Serializer):
    url = serializers.URLField(help_text="`/request/<signed>/`: opens the portal on this order, no code needed.")
    expires_at = serializers.DateTimeField(help_text="After this the link shows a page offering the code instead.")


REQUEST_LINK = OpenApiExample(
    "Request link",
    value={
        "url": "https://refunds.example.com/request/eyJtIjoxLCJvIjoiMTAwMiJ9:1vQx2b:Jf3m…/",
        "expires_at": "2027-01-01T12:00:00Z",
    },
    response_only=True,
    status_codes=["200"],
)


class OrderRequestLinksView(APIView):
    required_scope = Scope.ORDERS_WRITE

    @extend_schema(
        request=None,
        responses={200: RequestLinkOutput, **errors(*_ANY_CALL, 400, 404)},
        examples=[REQUEST_LINK],
        tags=["orders"],
    )
    def post(self, request, order_id: str):
        """A signed link for the order's customer to request a refund online (put it in your order email).

        Signed, not stored: asking again gives another link, each valid until its
        `expires_at`; a link stops working when the order's customer email changes.
        """
        order = order_get(order_id=order_id, merchant=request.auth.merchant)
        if not order.customer.email:
            raise DomainError(ERR_VALIDATION, "The order's customer has no email address.", field="customer.email")
        link = request_link_make(order=order)
        return Response(RequestLinkOutput({"url": link.url, "expires_at": link.expires_at}).data)
