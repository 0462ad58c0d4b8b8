import os

from django.core.wsgi import get_wsgi_application

from core.telemetry import SERVICE_WEB, configure_tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

# Before the handler loads the middleware: the Django instrumentation inserts its own (core/telemetry.py).
configure_tracing(SERVICE_WEB)

application = get_wsgi_application()

# A worker that would answer 500 on every page refuses to boot instead (gunicorn then stops with the reason).
from core.checks import require_static_manifest  # noqa: E402 - needs the settings loaded above

require_static_manifest()
