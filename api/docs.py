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
from rest_framework.negotiation import BaseContentNegotiation


class FirstRenderer(BaseContentNegotiation):
    """The page is HTML (its script JavaScript) whatever the client accepts; no 406 for `Accept: application/json`."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"
    url_name = "schema"
    content_negotiation_class = FirstRenderer
    # A page to read, nothing else: OPTIONS would be DRF's metadata, which the HTML renderer cannot
    # render (a 500); it is the 405 of core.middleware.ErrorJsonMiddleware, as on the webhook paths.
    http_method_names = ["get", "head"]
