"""URLs of the agent console (views in console/views/)."""

from django.urls import path

from console.views import (
    account,
    auth,
    bulk,
    card,
    card_work,
    create,
    needs_action,
    pauses,
    queue,
    timeline,
    webhooks,
)

app_name = "console"

urlpatterns = [
    path("", queue.queue, name="queue"),
    path("login/", auth.ConsoleLoginView.as_view(), name="login"),
    path("logout/", auth.ConsoleLogoutView.as_view(), name="logout"),
    path("account/", account.account, name="account"),
    path("account/two-factor/setup/", account.setup, name="mfa_setup"),
    path("account/two-factor/verify/", account.verify, name="mfa_verify"),
    path("account/two-factor/recovery-codes/", account.recovery_codes, name="mfa_recovery_codes"),
    path(
        "account/two-factor/recovery-codes/regenerate/",
        account.recovery_codes_regenerate,
        name="mfa_recovery_codes_regenerate",
    ),
    path("needs-action/", needs_action.needs_action, name="needs_action"),
    path("needs-action/outbox/<int:message_id>/replay/", needs_action.replay, name="needs_action_replay"),
    path("needs-action/webhooks/<int:event_pk>/review/", needs_action.review, name="needs_action_review"),
    # Kill switches (issue 16): risk and the operations admin (refunds.manage_pauses).
    path("operations/pauses/", pauses.pauses, name="pauses"),
    path("operations/pauses/pause/", pauses.pause_view, name="pauses_pause"),
    path("operations/pauses/resume/", pauses.resume_view, name="pauses_resume"),
    path("refunds/new/", create.create, name="create"),
    path("refunds/bulk/", bulk.bulk, name="bulk"),
    path("refunds/<str:public_id>/", card.card, name="card"),
    path("refunds/<str:public_id>/approve/", card.approve, name="approve"),
    path("refunds/<str:public_id>/decline/", card.decline, name="decline"),
    path("refunds/<str:public_id>/edit/", card.edit, name="edit"),
    path("refunds/<str:public_id>/assign/", card_work.assign, name="assign"),
    path("refunds/<str:public_id>/presence/", card_work.presence, name="presence"),
    path("refunds/<str:public_id>/timeline/", timeline.timeline, name="timeline"),
    path("refunds/<str:public_id>/retry/", needs_action.retry, name="retry"),
    path("refunds/<str:public_id>/cancel-failed/", needs_action.cancel, name="cancel_failed"),
    path("refunds/<str:public_id>/payout/", needs_action.payout, name="payout"),
    path("refunds/<str:public_id>/evidence/<int:evidence_id>/", card.evidence_download, name="evidence"),
    # Merchant webhooks (issue 14): staff holding events.manage_webhooks.
    path("webhooks/", webhooks.merchants, name="webhooks"),
    path("webhooks/endpoints/<str:public_id>/", webhooks.endpoint, name="webhooks_endpoint"),
    path("webhooks/endpoints/<str:public_id>/edit/", webhooks.edit, name="webhooks_edit"),
    path("webhooks/endpoints/<str:public_id>/status/", webhooks.toggle, name="webhooks_toggle"),
    path("webhooks/endpoints/<str:public_id>/rotate/", webhooks.rotate, name="webhooks_rotate"),
    path("webhooks/endpoints/<str:public_id>/delete/", webhooks.delete, name="webhooks_delete"),
    path(
        "webhooks/endpoints/<str:public_id>/redeliver/<str:event_id>/",
        webhooks.redeliver,
        name="webhooks_redeliver",
    ),
    path("webhooks/merchants/<slug:slug>/", webhooks.merchant, name="webhooks_merchant"),
    path("webhooks/merchants/<slug:slug>/contact/", webhooks.contact, name="webhooks_contact"),
    path("webhooks/merchants/<slug:slug>/new/", webhooks.create, name="webhooks_create"),
]
