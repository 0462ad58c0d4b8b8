"""POST /integrations/slack/interactions: Slack's interactivity requests (built in integrations.slack.interactions)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def interactions(request: HttpRequest) -> HttpResponse:
    return HttpResponseNotFound()
