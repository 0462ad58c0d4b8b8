"""Merchants (tenants): onboarding one, its contact address, the default merchant of a single-merchant setup."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import ERR_NOT_FOUND, ERR_VALIDATION, DomainError
from refunds.models import Merchant
from refunds.models.merchant import DEFAULT_MERCHANT_SLUG, SYNTHETIC_MERCHANT_SLUG

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


def merchant_create(
    *, slug: str, name: str = "", contact_email: str = "", actor: Actor, synthetic: bool = False
) -> Merchant:
    """Onboard a merchant. Side effects, in one transaction: the row, the audit event `merchant.created`.

    The slug is how operators name it (`create_api_key --merchant SLUG`): lower
    case letters, digits and hyphens; an existing slug is refused, never reused.
    `contact_email` is who is told when the merchant's integration needs a
    person (a webhook endpoint disabled for failing).

    `synthetic` is for operations.synthetic only: the synthetic refund's merchant, slug `synthetic`
    (reserved for it: refused for any other merchant), flagged so the SLO measures leave it out.
    """
    if not SLUG_RE.fullmatch(slug or ""):
        raise DomainError(
            ERR_VALIDATION, "A merchant slug is 1–50 lower-case letters, digits or hyphens.", field="slug"
        )
    if (slug == SYNTHETIC_MERCHANT_SLUG) != synthetic:
        raise DomainError(
            ERR_VALIDATION,
            f"The slug '{SYNTHETIC_MERCHANT_SLUG}' is reserved for the synthetic refund check "
            "(manage.py synthetic_refund): choose another slug.",
            field="slug",
        )
    if contact_email:
        try:
            validate_email(contact_email)
        except ValidationError:
            raise DomainError(ERR_VALIDATION, f"'{contact_email}' is not an email address.", field="email") from None
    try:
        with transaction.atomic():
            merchant = Merchant.objects.create(slug=slug, name=name, contact_email=contact_email, synthetic=synthetic)
            audit_record(actor=actor, action=AuditAction.MERCHANT_CREATED, subject=f"merchant {slug}", note=name)
    except IntegrityError:
        raise DomainError(ERR_VALIDATION, f"A merchant '{slug}' exists already.", field="slug") from None
    return merchant


def merchant_contact_update(*, merchant_id: int, contact_email: str, actor: Actor) -> Merchant:
    """Change who is told when the merchant's integration needs a person (an endpoint disabled for failing).

    An empty address is allowed (nobody is told; staff see it on the
    merchant's webhooks page). Refused with ERR_VALIDATION (`field` "email")
    for something that is not an address; ERR_NOT_FOUND for no such merchant.
    Side effects, in one transaction: the merchant's row locked and saved, a
    `merchant.contact_changed` audit event with the old and the new address.
    The same address again: nothing written.
    """
    contact_email = (contact_email or "").strip()
    if contact_email:
        try:
            validate_email(contact_email)
        except ValidationError:
            raise DomainError(ERR_VALIDATION, f"'{contact_email}' is not an email address.", field="email") from None
    with transaction.atomic():
        # FOR NO KEY UPDATE: orders, keys and events of the merchant (FOR KEY SHARE on it) never wait for this.
        merchant = Merchant.objects.select_for_update(no_key=True).filter(pk=merchant_id).first()
        if merchant is None:
            raise DomainError(ERR_NOT_FOUND)
        if merchant.contact_email == contact_email:
            return merchant
        before = merchant.contact_email
        merchant.contact_email = contact_email
        merchant.save(update_fields=["contact_email"])
        audit_record(
            actor=actor,
            action=AuditAction.MERCHANT_CONTACT_CHANGED,
            subject=f"merchant {merchant.slug}",
            before={"contact_email": before},
            after={"contact_email": contact_email},
        )
    return merchant
