"""URLs of the finance screens, mounted at /finance/ (config.urls: path("finance/", include("ledger.urls_finance")))."""

from django.urls import path

from ledger.views import finance, finance_exports

app_name = "finance"

urlpatterns = [
    path("", finance.runs, name="runs"),
    path("runs/new/", finance.run_request, name="run_request"),
    path("runs/<int:run_id>/", finance.run_detail, name="run"),
    path("runs/<int:run_id>/export.csv", finance_exports.run_export, name="run_export"),
    path("items/<int:item_id>/resolve/", finance.item_resolve, name="item_resolve"),
    path("export.csv", finance_exports.range_export, name="range_export"),
    path("ledger/export.csv", finance_exports.ledger_export, name="ledger_export"),
    path("trial-balance/", finance.trial_balance, name="trial_balance"),
]
