"""ISO weeks as the digest reads them: parsing, boundaries in UTC, "last week"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.digest import IsoWeek


def test_a_week_runs_from_monday_0000_utc_to_the_next_monday_0000():
    week = IsoWeek.parse("2026-W45")

    assert week.start == datetime(2026, 11, 2, tzinfo=UTC)
    assert week.end == datetime(2026, 11, 9, tzinfo=UTC)
    assert str(week) == "2026-W45"


def test_the_first_iso_week_can_start_in_the_year_before():
    assert IsoWeek.parse("2026-W01").start == datetime(2025, 12, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2026-W54", "2026 has weeks W01 to W53"),
        ("2025-W53", "2025 has weeks W01 to W52"),
        ("2026-W00", "2026 has weeks W01 to W53"),
        ("2026-13", "write it as YYYY-Www"),
        ("0000-W01", "the year must be 0001 to 9998"),
        ("2026W13", "write it as YYYY-Www"),
        ("", "write it as YYYY-Www"),
    ],
)
def test_a_malformed_week_is_refused_with_the_reason(text, problem):
    with pytest.raises(ValueError, match=problem):
        IsoWeek.parse(text)


def test_last_complete_week_on_monday_morning_is_the_week_that_just_ended():
    assert IsoWeek.last_complete(datetime(2026, 11, 9, 7, 0, tzinfo=UTC)) == IsoWeek(2026, 45)
    assert IsoWeek.last_complete(datetime(2026, 11, 8, 23, 59, tzinfo=UTC)) == IsoWeek(2026, 44)
    assert IsoWeek.last_complete(datetime(2027, 1, 4, 7, 0, tzinfo=UTC)) == IsoWeek(2026, 53)


def test_a_moment_belongs_to_the_week_of_its_utc_time():
    from zoneinfo import ZoneInfo

    # Monday 01:00 in Berlin is still Sunday in UTC.
    moment = datetime(2026, 11, 9, 0, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert IsoWeek.containing(moment) == IsoWeek(2026, 45)
