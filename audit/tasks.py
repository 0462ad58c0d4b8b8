"""Celery tasks of the audit app."""

from __future__ import annotations

import logging

from celery import shared_task

from audit.services import audit_seal_pending

logger = logging.getLogger("audit.tasks")


@shared_task(name="audit.seal_chain")
def seal_chain() -> int:
    """Link the events committed since the last run into the hash chain (beat, every AUDIT_SEAL_SECONDS)."""
    sealed = audit_seal_pending()
    if sealed:
        logger.info("audit events sealed", extra={"message_id": "MSG.audit.sealed", "sealed": sealed})
    return sealed
