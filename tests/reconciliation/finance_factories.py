"""Finance users and months for the period-close and correcting-entry tests."""

from __future__ import annotations

from datetime import date, datetime, time

from django.utils import timezone

from core.actor import Actor
from ledger.calendar import business_timezone, business_today, month_start
from ledger.enums import PeriodState
from ledger.models import AccountingPeriod
from refunds.enums import Role
from tests.refunds.factories import agent


def finance(name: str) -> Actor:
    return agent(name, Role.FINANCE)


def last_month() -> date:
    this = month_start(business_today())
    return month_start(date.fromordinal(this.toordinal() - 1))


def months_ago(count: int) -> date:
    month = month_start(business_today())
    for _ in range(count):
        month = month_start(date.fromordinal(month.toordinal() - 1))
    return month


def moment_in(month: date, day: int = 15) -> datetime:
    """Noon of a day of `month` in the business time zone."""
    return datetime.combine(month.replace(day=day), time(12), business_timezone())


def closed(month: date) -> AccountingPeriod:
    """A closed month, written directly (the close service has its own tests)."""
    period, _ = AccountingPeriod.objects.update_or_create(
        month=month, defaults={"state": PeriodState.CLOSED, "closed_at": timezone.now()}
    )
    return period
