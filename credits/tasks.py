"""Store credit's periodic work (beat: CELERY_BEAT_SCHEDULE "expire-store-credits")."""

from __future__ import annotations

from celery import shared_task

from credits.services.expire import credits_expire_due


@shared_task(name="credits.expire_due")
def expire_due() -> int:
    """Expire the credits past their date (in batches; the next beat tick takes the rest)."""
    return credits_expire_due()
