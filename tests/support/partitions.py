"""Helpers for tests of the monthly partitions (core.partitions): month edges, which partition holds a row."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from unittest import mock

from django.db import connection
from django.utils import timezone


def month_edges(now: datetime | None = None) -> tuple[datetime, datetime]:
    """23:59:59 on the last day of the current month (UTC) and 00:00:01 on the first of the next.

    Both months have their partition in a freshly migrated test database (the current month and
    PARTITION_MONTHS_AHEAD after it), so rows at these two instants land in two partitions.
    """
    now = now or timezone.now()
    first = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    next_month = (first + timedelta(days=32)).replace(day=1)
    return next_month - timedelta(seconds=1), next_month + timedelta(seconds=1)


def partition_of(table: str, pk: int) -> str:
    """The partition (a table's name) holding the row of `table` with this id."""
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT tableoid::regclass::text FROM "{table}" WHERE id = %s', [pk])
        return cursor.fetchone()[0]


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """`django.utils.timezone.now()` answers `moment` inside the block (auto_now_add, services' "now")."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield
