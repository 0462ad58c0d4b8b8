"""URLs of the finance screens, mounted at /finance/ by config.urls."""

from django.urls import path

from console.finance import books, exports, inbox, views

app_name = "finance"

urlpatterns = [
    path("", views.runs, name="runs"),
    path("runs/new/", views.run_request, name="run_request"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/export.csv", exports.run_export, name="run_export"),
    path("items/<int:item_id>/resolve/", views.item_resolve, name="item_resolve"),
    path("runs/<int:run_id>/resolve/", views.items_resolve_bulk, name="items_resolve_bulk"),
    path("periods/", books.periods, name="periods"),
    path("periods/close/", books.period_close_view, name="period_close"),
    path("periods/reopen/", books.period_reopen_request_view, name="period_reopen_request"),
    path("periods/reopen/<int:request_id>/<str:decision>/", books.period_reopen_decide, name="period_reopen_decide"),
    path("corrections/", books.corrections, name="corrections"),
    path("corrections/new/", books.correction_draft_view, name="correction_draft"),
    path("corrections/<int:correction_id>/<str:decision>/", books.correction_decide, name="correction_decide"),
    path("export.csv", exports.range_export, name="range_export"),
    path("ledger/export.csv", exports.ledger_export, name="ledger_export"),
    path("trial-balance/", views.trial_balance, name="trial_balance"),
    path("webhooks/", inbox.webhook_inbox, name="webhooks"),
]
