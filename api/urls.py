from django.urls import path

from api import views, views_credits, views_events, views_portal

app_name = "api"

urlpatterns = [
    path("orders", views.OrderUpsertView.as_view(), name="order-upsert"),
    path("orders/<str:order_id>/refunds", views.OrderRefundsView.as_view(), name="order-refunds"),
    # Signed links to the customer request portal (issue 15).
    path(
        "orders/<str:order_id>/request_links",
        views_portal.OrderRequestLinksView.as_view(),
        name="order-request-links",
    ),
    path("refunds", views.RefundListView.as_view(), name="refund-list"),
    path("refunds/<str:refund_id>", views.RefundDetailView.as_view(), name="refund-detail"),
    path("refunds/<str:refund_id>/evidence", views.RefundEvidenceView.as_view(), name="refund-evidence"),
    path("payments/<str:provider_payment_id>/refunds", views.PaymentRefundsView.as_view(), name="payment-refunds"),
    path("refunds/<str:refund_id>/decision", views.RefundDecisionView.as_view(), name="refund-decision"),
    path("refunds/<str:refund_id>/cancel", views.RefundCancelView.as_view(), name="refund-cancel"),
    path("refunds/<str:refund_id>/submit", views.RefundSubmitView.as_view(), name="refund-submit"),
    path("refunds/<str:refund_id>/payout", views.RefundPayoutView.as_view(), name="refund-payout"),
    # Store credit at the merchant's checkout (issue 15).
    path("credits/<str:code>", views_credits.CreditDetailView.as_view(), name="credit-detail"),
    path("credits/<str:code>/redeem", views_credits.CreditRedeemView.as_view(), name="credit-redeem"),
    # Merchant events and webhook endpoints (issue 14).
    path("events", views_events.EventListView.as_view(), name="event-list"),
    path("events/<str:event_id>", views_events.EventDetailView.as_view(), name="event-detail"),
    path("events/<str:event_id>/redeliver", views_events.EventRedeliverView.as_view(), name="event-redeliver"),
    path("webhook_endpoints", views_events.WebhookEndpointListView.as_view(), name="webhook-endpoint-list"),
    path(
        "webhook_endpoints/<str:endpoint_id>",
        views_events.WebhookEndpointDetailView.as_view(),
        name="webhook-endpoint-detail",
    ),
    path(
        "webhook_endpoints/<str:endpoint_id>/rotate_secret",
        views_events.WebhookEndpointRotateView.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path(
        "webhook_endpoints/<str:endpoint_id>/deliveries",
        views_events.WebhookEndpointDeliveriesView.as_view(),
        name="webhook-endpoint-deliveries",
    ),
]
