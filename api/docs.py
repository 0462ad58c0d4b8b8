"""The interactive API docs at /v1/docs: Swagger UI over the served schema (/v1/schema).

Swagger UI's files come from drf-spectacular-sidecar, served as our own static
files (no CDN). The page and its start-up script are two requests
(`SpectacularSwaggerSplitView`), so the strict Content-Security-Policy
(`script-src 'self'`, no inline script) holds; the stock page's inline
`<style>` is replaced by a file of ours (api/templates/api/swagger_ui.html).

Public, as the schema is: it shows what the schema shows, and a call tried
from it needs an API key like any other.
"""

from __future__ import annotations

from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"
    url_name = "schema"
