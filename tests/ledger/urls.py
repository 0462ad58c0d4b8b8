"""The project's URLs plus the finance screens, for tests that run before config.urls includes them."""

from django.urls import include, path

from config.urls import urlpatterns as project_urlpatterns

urlpatterns = list(project_urlpatterns)
if not any(getattr(pattern, "namespace", None) == "finance" for pattern in urlpatterns):
    urlpatterns.append(path("finance/", include("ledger.urls_finance")))

handler404 = "refunds.views_ops.handler404"
handler500 = "refunds.views_ops.handler500"
