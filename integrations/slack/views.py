"""POST /integrations/slack/interactions: Slack's interactivity requests (steps: integrations.slack.interactions)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.slack.client import Deadline, slack_enabled
from integrations.slack.decisions import approve_tap, interaction_enqueue, modal_open, submission_decide
from integrations.slack.interactions import (
    MAX_BODY_BYTES,
    BadInteraction,
    InteractionRejected,
    interaction_digest,
    interaction_parse,
    interaction_record,
    interaction_rejected,
    interaction_verify,
)


@csrf_exempt  # authenticated by Slack's signature, not a session
@require_POST
def interactions(request: HttpRequest) -> HttpResponse:
    """Verify, record once, then act: 401 unsigned, 400 not ours, 200 otherwise (a modal's answer as JSON).

    Nothing here waits on Slack except `views.open`, and `auth.test` and
    `users.info` of who is tapping (outside any transaction, all within one
    budget that starts here); an approval is decided in Celery after this
    answer, or, for a high-value refund, in its confirmation modal.
    """
    deadline = Deadline()
    if not slack_enabled():
        return HttpResponseNotFound()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        interaction_rejected("too_large")
        return HttpResponse(status=413)
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        interaction_rejected("too_large")
        return HttpResponse(status=413)
    try:
        timestamp = interaction_verify(body, request.headers)
    except InteractionRejected as error:
        interaction_rejected(error.reason)
        return HttpResponse(status=401)
    if request.headers.get("X-Slack-Retry-Num"):
        # Slack's own retry of a request it thinks we missed: the first delivery did the work.
        interaction_rejected("slack_retry", retry=request.headers.get("X-Slack-Retry-Num", "")[:8])
        return HttpResponse(status=200)
    try:
        interaction = interaction_parse(body)
    except BadInteraction as error:
        interaction_rejected(error.reason)
        return HttpResponse(status=400)
    if interaction is None:
        return HttpResponse(status=200)
    row = interaction_record(interaction=interaction, digest=interaction_digest(timestamp, body), timestamp=timestamp)
    if row is None:
        return HttpResponse(status=200)
    if interaction.kind == "block_actions" and interaction.action_id == "approve":
        # The row is committed: a task lost here (broker down) is queued again by the sweeper.
        if approve_tap(row, interaction, deadline):
            interaction_enqueue(row.pk)
        return HttpResponse(status=200)
    if interaction.kind == "block_actions":
        modal_open(row, interaction, deadline)
        return HttpResponse(status=200)
    return JsonResponse(submission_decide(row, interaction, deadline))
