from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from api.docs import ApiDocsView
from api.webhooks import payments_webhook
from core import health

urlpatterns = [
    # People arriving at the bare host are staff: the console (its login if signed out).
    path("", RedirectView.as_view(url="/console/", permanent=False), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("webhooks/payments", payments_webhook, name="webhooks-payments"),
    path("webhooks/payments/<str:provider>", payments_webhook, name="webhooks-payments-provider"),
    path("v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("v1/docs", ApiDocsView.as_view(), name="api-docs"),
    path("v1/", include("api.urls")),
    path("console/", include("console.urls")),
    path("r/", include("status_page.urls")),
    path("request/", include("portal.urls")),
    path("finance/", include("console.finance.urls")),
    path("integrations/", include("integrations.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "core.health.handler400"
handler404 = "core.health.handler404"
handler500 = "core.health.handler500"
