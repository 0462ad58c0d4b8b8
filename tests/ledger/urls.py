"""The project's URLs, with the finance screens added if config.urls ever stops mounting them.

config.urls mounts /finance/ (tests/ledger/test_reconcile_operations.py checks it); this
URLconf stays because test modules name it.
"""

from django.urls import include, path

from config.urls import urlpatterns as project_urlpatterns

urlpatterns = list(project_urlpatterns)
if not any(getattr(pattern, "namespace", None) == "finance" for pattern in urlpatterns):
    urlpatterns.append(path("finance/", include("ledger.urls_finance")))

handler404 = "refunds.views_ops.handler404"
handler500 = "refunds.views_ops.handler500"
