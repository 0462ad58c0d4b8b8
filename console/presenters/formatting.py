"""Money and time as staff read them: one helper for the console, the finance screens and the admin.

Amounts: the staff locale's digits and separators with the ISO code
('1,234.50 USD', '450,000 JPY', '500.000 KWD'), never raw minor units.
Times: in the signed-in person's own time zone (their profile, activated
per request by `console.middleware.StaffTimeZoneMiddleware`), with the zone
named ('2 Dec 2026, 14:05 CET'). CSV exports do not use these: they stay
machine-readable (reconciliation.exports).
"""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date
from django.utils import timezone

from core.i18n import format_moment, staff_locale, staff_money

# In core, so the Slack card (integrations.slack.cards, beside the console, not above it) says amounts the same way.
money = staff_money


def signed_money(amount_minor: int | None, currency: str) -> str:
    """'+1,234.50 USD' / '-1,234.50 USD': a difference, whose sign matters."""
    if amount_minor is None:
        return ""
    return ("+" if amount_minor > 0 else "") + money(amount_minor, currency)


def when(moment: datetime | date | None, *, long: bool = False) -> str:
    """'2 Dec 2026, 14:05 CET' in the current (the person's) time zone; a date alone stays a date."""
    if moment is None:
        return ""
    if not isinstance(moment, datetime):
        return format_date(moment, "medium", locale=staff_locale())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return format_moment(
        moment, staff_locale(), timezone.get_current_timezone(), date_style="long" if long else "medium"
    )
