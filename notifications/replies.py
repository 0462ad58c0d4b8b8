"""Rendering a reply template from the refund, in the customer's locale (issue 12).

Called when an email is built (`notifications.emails.notification_build`),
for the status page's decline reason and for the console's preview, so all
three say the same thing: the refund's amount as it is now, formatted the
customer's way ("$4.00", "4,00 $", "‏4.00 US$").
"""

from __future__ import annotations

from babel.numbers import format_decimal
from django.utils import translation

from core.i18n import babel_locale, customer_language, format_amount
from notifications.messages import rail_duration_text
from refunds.models import Refund
from refunds.replies import reply_fill


def refund_language(refund: Refund) -> str:
    """The language the customer is written to in: their record's locale, else the default."""
    return customer_language(requested=None, customer_locale=refund.order.customer.locale or "")


def reply_values(refund: Refund, language: str) -> dict[str, str]:
    """What each placeholder stands for, for this refund and language."""
    customer = refund.order.customer
    locale = babel_locale(language, customer.locale or "")
    lines = list(refund.order.lines.all())
    with translation.override(language):
        timing = rail_duration_text(refund.payment.rail, number_format=lambda n: format_decimal(n, locale=locale))
    return {
        "amount": format_amount(refund.amount_minor, refund.currency, locale),
        "order": refund.order.order_id,
        "item": ", ".join(line.description or line.sku for line in lines if line.description or line.sku),
        "customer_name": customer.name,
        "timing": timing,
    }


def reply_render(template: str, *, refund: Refund, language: str | None = None) -> str:
    """`template` with its placeholders filled from `refund`; text without placeholders comes back as written."""
    if "{" not in template:
        return template
    return reply_fill(template, reply_values(refund, language or refund_language(refund)))
