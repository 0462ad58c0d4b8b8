"""The Slack approval card (issue 13): post, keep up to date, and act on its buttons and modals.

* `client` — the one `slack_sdk.WebClient` factory and whether the integration is on;
* `cards` — the card's Block Kit, rendered from the refund as it is now;
* `sync` — the card outbox: every change of a carded refund marks its card to
  be rendered again; a Celery task posts or updates it (429 Retry-After and
  5xx backoff honoured); the sweeper catches up after an outage;
* `interactions` — the signed interactions endpoint, its inbox and the
  decisions taken through `refunds.services.decide`, audited with channel "slack";
* `users` — which console user a Slack user is (users.info -> profile.email).
"""
