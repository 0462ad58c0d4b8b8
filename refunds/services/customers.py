"""The merchant's customers, as orders push them: created, kept up to date, an address change audited."""

from __future__ import annotations

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.crypto import keyed_digest
from refunds.models import Customer, Merchant
from refunds.models.customer import mask_email

_EMAIL_DIGEST_PURPOSE = b"refund-desk customer email audit v1"


def customer_upsert(
    *, merchant: Merchant, external_id: str, email: str, name: str, locale: str, actor: Actor
) -> Customer:
    """`merchant`'s customer `external_id`, created or updated; must run inside a transaction.

    Only the merchant's own customers are looked at: another merchant's
    customer with the same id is a different customer and is never touched.
    A changed address is audited as `customer.email_changed` with both
    addresses masked and keyed-hashed — never the addresses themselves. It
    applies to refunds requested from now on: each refund keeps the address it
    was requested under (`Refund.customer_email`, docs/customer.md).
    """
    # Locked: two pushes of one customer must not both read the old address and audit one change each.
    customer, created = Customer.objects.select_for_update().get_or_create(
        merchant=merchant, external_id=external_id, defaults={"email": email, "name": name, "locale": locale}
    )
    if created:
        return customer
    previous = customer.email
    customer.email, customer.name, customer.locale = email, name, locale
    customer.save(update_fields=["email", "name", "locale"])
    if previous != email:
        audit_record(
            actor=actor,
            action=AuditAction.CUSTOMER_EMAIL_CHANGED,
            subject=f"customer {customer.pk} of merchant {merchant.slug}",
            before=_email_record(previous),
            after=_email_record(email),
        )
    return customer


def _email_record(email: str) -> dict[str, str]:
    """What the audit trail keeps of an address: enough to recognise it, nothing to send mail to."""
    normalised = email.strip().lower()
    return {
        "email": mask_email(email),
        "email_hash": keyed_digest(normalised, purpose=_EMAIL_DIGEST_PURPOSE) if normalised else "",
    }
