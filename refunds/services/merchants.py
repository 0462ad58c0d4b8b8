"""Merchants (tenants): onboarding one, and the default merchant of a single-merchant installation."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import ERR_VALIDATION, DomainError
from refunds.models import Merchant
from refunds.models.merchant import DEFAULT_MERCHANT_SLUG

SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,49}")


def merchant_default() -> Merchant:
    """The merchant keys and orders belong to when none is named (created by migration refunds/0013).

    Created again if missing: a test flush empties the table, and reference
    data must come back with it (`reference_data_ensure`).
    """
    merchant, _ = Merchant.objects.get_or_create(slug=DEFAULT_MERCHANT_SLUG, defaults={"name": "Default merchant"})
    return merchant


def merchant_get(*, slug: str) -> Merchant:
    """The merchant with this slug, or a validation error that lists the known ones."""
    merchant = Merchant.objects.filter(slug=slug).first()
    if merchant is None:
        known = ", ".join(Merchant.objects.values_list("slug", flat=True)) or "none"
        raise DomainError(ERR_VALIDATION, f"Unknown merchant '{slug}'. Known: {known}", field="merchant")
    return merchant


def merchant_create(*, slug: str, name: str = "", contact_email: str = "", actor: Actor) -> Merchant:
    """Onboard a merchant. Side effects, in one transaction: the row, the audit event `merchant.created`.

    The slug is how operators name it (`create_api_key --merchant SLUG`): lower
    case letters, digits and hyphens; an existing slug is refused, never reused.
    `contact_email` is who is told when the merchant's integration needs a
    person (a webhook endpoint disabled for failing).
    """
    if not SLUG_RE.fullmatch(slug or ""):
        raise DomainError(
            ERR_VALIDATION, "A merchant slug is 1–50 lower-case letters, digits or hyphens.", field="slug"
        )
    if contact_email:
        try:
            validate_email(contact_email)
        except ValidationError:
            raise DomainError(ERR_VALIDATION, f"'{contact_email}' is not an email address.", field="email") from None
    try:
        with transaction.atomic():
            merchant = Merchant.objects.create(slug=slug, name=name, contact_email=contact_email)
            audit_record(actor=actor, action=AuditAction.MERCHANT_CREATED, subject=f"merchant {slug}", note=name)
    except IntegrityError:
        raise DomainError(ERR_VALIDATION, f"A merchant '{slug}' exists already.", field="slug") from None
    return merchant
