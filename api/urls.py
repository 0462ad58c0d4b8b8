from django.urls import path

from api import views

app_name = "api"

urlpatterns = [
    path("orders", views.OrderUpsertView.as_view(), name="order-upsert"),
    path("orders/<str:order_id>/refunds", views.OrderRefundsView.as_view(), name="order-refunds"),
    path("refunds", views.RefundListView.as_view(), name="refund-list"),
    path("refunds/<str:refund_id>", views.RefundDetailView.as_view(), name="refund-detail"),
    path("refunds/<str:refund_id>/evidence", views.RefundEvidenceView.as_view(), name="refund-evidence"),
    path("payments/<str:provider_payment_id>/refunds", views.PaymentRefundsView.as_view(), name="payment-refunds"),
    path("refunds/<str:refund_id>/decision", views.RefundDecisionView.as_view(), name="refund-decision"),
    path("refunds/<str:refund_id>/cancel", views.RefundCancelView.as_view(), name="refund-cancel"),
    path("refunds/<str:refund_id>/submit", views.RefundSubmitView.as_view(), name="refund-submit"),
    path("refunds/<str:refund_id>/payout", views.RefundPayoutView.as_view(), name="refund-payout"),
]
