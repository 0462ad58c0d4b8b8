"""Which instants belong to a reconciliation day.

A day is a calendar date in `RECONCILIATION_TIMEZONE` (UTC by default), so
[start, end) is 23, 24 or 25 hours long across a DST change. The provider side
is read over a wider window (± `RECONCILIATION_GRACE_SECONDS`): a refund the
provider created at 23:59:59 and our ledger settled at 00:00:01 is then found
by the run of its settlement day without asking the provider one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

DEFAULT_TIMEZONE = "UTC"
DEFAULT_GRACE_SECONDS = 3600


def reconciliation_timezone() -> str:
    return getattr(settings, "RECONCILIATION_TIMEZONE", DEFAULT_TIMEZONE) or DEFAULT_TIMEZONE


def grace_seconds() -> int:
    return int(getattr(settings, "RECONCILIATION_GRACE_SECONDS", DEFAULT_GRACE_SECONDS))


@dataclass(frozen=True)
class DayWindow:
    day: date
    tz: str
    start: datetime
    end: datetime
    grace: int

    @property
    def start_unix(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_unix(self) -> int:
        return int(self.end.timestamp())

    @property
    def fetch_gte(self) -> int:
        """Lower bound of the provider read (unix seconds, inclusive)."""
        return self.start_unix - self.grace

    @property
    def fetch_lt(self) -> int:
        """Upper bound of the provider read (unix seconds, exclusive)."""
        return self.end_unix + self.grace


def day_window(day: date, tz: str | None = None, grace: int | None = None) -> DayWindow:
    """The [start, end) of `day` in `tz`, as aware datetimes."""
    name = tz or reconciliation_timezone()
    zone = ZoneInfo(name)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return DayWindow(day=day, tz=name, start=start, end=end, grace=grace_seconds() if grace is None else grace)


def yesterday(tz: str | None = None) -> date:
    """The day before today in the reconciliation timezone (what the nightly job reconciles)."""
    return timezone.now().astimezone(ZoneInfo(tz or reconciliation_timezone())).date() - timedelta(days=1)
