"""URLs of the finance screens, mounted at /finance/ by config.urls."""

from django.urls import path

from console.finance import exports, inbox, views

app_name = "finance"

urlpatterns = [
    path("", views.runs, name="runs"),
    path("runs/new/", views.run_request, name="run_request"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/export.csv", exports.run_export, name="run_export"),
    path("items/<int:item_id>/resolve/", views.item_resolve, name="item_resolve"),
    path("export.csv", exports.range_export, name="range_export"),
    path("ledger/export.csv", exports.ledger_export, name="ledger_export"),
    path("trial-balance/", views.trial_balance, name="trial_balance"),
    path("webhooks/", inbox.webhook_inbox, name="webhooks"),
]
