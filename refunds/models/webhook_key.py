from django.db import models

from providers.base import EVENT_ID_MAX_LENGTH


class WebhookEventKey(models.Model):
    """The provider inbox's "this event id is stored already", kept apart from the inbox itself.

    PostgreSQL partitions the inbox (`WebhookEvent`) by month of
    `received_at`, and a unique key of a partitioned table must hold the
    partition column: on its own the inbox would only refuse an event id
    received twice at the same instant, and a provider's retry would have
    its event stored and applied twice. A trigger inserts
    each inbox row's (provider, event id) here first (migration 0029), in the
    same statement: a second insert of a key fails on this table's primary
    key exactly as it used to fail on the inbox's unique key, whichever month
    the first one is in. Rows are small and never deleted while their event
    is kept. On the SQLite demo the inbox is one table whose own unique key
    does it, and this table stays empty.
    """

    pk = models.CompositePrimaryKey("provider", "event_id")
    provider = models.CharField(max_length=30)
    event_id = models.CharField(max_length=EVENT_ID_MAX_LENGTH)

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id}"
