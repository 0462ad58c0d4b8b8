from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from refunds import views_ops
from refunds.views.webhooks import payments_webhook

urlpatterns = [
    # People arriving at the bare host are staff: the console (its login if signed out).
    path("", RedirectView.as_view(url="/console/", permanent=False), name="home"),
    path("healthz", views_ops.healthz, name="healthz"),
    path("readyz", views_ops.readyz, name="readyz"),
    path("metrics", views_ops.metrics, name="metrics"),
    path("webhooks/payments", payments_webhook, name="webhooks-payments"),
    path("v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("v1/", include("refunds.api.urls")),
    path("console/", include("refunds.urls_console")),
    path("r/", include("refunds.urls_status")),
    path("finance/", include("ledger.urls_finance")),
    path("admin/", admin.site.urls),
]

handler404 = "refunds.views_ops.handler404"
handler500 = "refunds.views_ops.handler500"
