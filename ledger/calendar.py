"""The business calendar the books are kept in: which date an instant falls on, and months.

Dates are taken in `RECONCILIATION_TIMEZONE` (UTC by default), the same
calendar as the reconciliation's days, so a refund settled at 23:30 on the
31st in that zone belongs to that month in the ledger and in the run of
that day alike.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def business_timezone() -> ZoneInfo:
    return ZoneInfo(getattr(settings, "RECONCILIATION_TIMEZONE", "") or "UTC")


def business_date(moment: datetime | None = None) -> date:
    """The calendar date of `moment` (now if None) in the business time zone."""
    return timezone.localtime(moment or timezone.now(), business_timezone()).date()


def business_today() -> date:
    return business_date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)
