"""What the weekly digest says about a week (integrations.digest.digest_build): each section's numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.digest import (
    APPROVED_BY_PEOPLE,
    AUTO_APPROVED,
    CANCELED,
    COMPLETED,
    DECLINED,
    FAILED,
    LOWERED,
    REWORDED,
    IsoWeek,
    digest_build,
)
from refunds.enums import Reason
from tests.integrations.digest_week import (
    NOW,
    ONCE,
    ONCE_RATIONALE,
    PHOTO,
    WEEK,
    approve,
    build_week,
    day,
    deny,
    edit,
    requested,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def week():
    return build_week()


def test_overrides_are_the_decisions_against_the_policy_with_who_and_what_the_draft_said(week):
    digest = digest_build(WEEK, now=NOW)

    declined, approved = digest.overrides
    assert declined.refund.public_id == week.refunds["override_declined"].public_id
    assert (declined.recommendation, declined.done, declined.decided_by) == ("approve", "declined", ("Alex Agent",))
    assert declined.rule == "R-GOODWILL-REVIEW"
    assert declined.draft_reply.startswith("Good news: we have approved your refund")
    assert (declined.decline_reason, declined.rationale) == (ONCE, ONCE_RATIONALE)
    assert (declined.amount_minor, declined.currency) == (15000, "USD")
    assert declined.refund.card_url.endswith(f"/refunds/{declined.refund.public_id}/")
    assert approved.refund.public_id == week.refunds["override_approved"].public_id
    assert (approved.recommendation, approved.done, approved.decided_by) == ("decline", "approved", ("Sally Senior",))
    assert approved.rule == "R-EVIDENCE-QUALITY"
    assert approved.decline_reason == ""


def test_declines_are_grouped_by_the_reason_given_most_repeated_first(week):
    digest = digest_build(WEEK, now=NOW)

    assert [(g.reason, g.count) for g in digest.declines] == [(PHOTO, 2), (ONCE, 1)]
    assert [ref.public_id for ref in digest.declines[0].refunds] == [
        week.refunds["photo_reworded"].public_id,
        week.refunds["photo"].public_id,
    ]
    assert digest.declines[1].rationales == (ONCE_RATIONALE,)
    assert digest.declined_count == 3


def test_edits_per_rule_count_reviewed_and_edited_refunds_and_name_the_usual_change(week):
    digest = digest_build(WEEK, now=NOW)

    goodwill, evidence = digest.edits
    assert (goodwill.rule, goodwill.reviewed, goodwill.edited, goodwill.common_change) == (
        "R-GOODWILL-REVIEW",
        5,
        3,
        LOWERED,
    )
    assert goodwill.sentence == "R-GOODWILL-REVIEW drafts were edited 3 of 5 times, usually lowering the amount."
    assert (evidence.rule, evidence.reviewed, evidence.edited, evidence.common_change) == (
        "R-EVIDENCE-QUALITY",
        3,
        1,
        REWORDED,
    )
    assert evidence.sentence.endswith("edited 1 of 3 times, usually rewording the reply only.")


def test_rules_are_sorted_by_how_often_their_drafts_were_edited(week):
    assert [r.rule for r in digest_build(WEEK, now=NOW).edits] == ["R-GOODWILL-REVIEW", "R-EVIDENCE-QUALITY"]
    # Three more evidence refunds reworded before the decline: 4 of 6 (0.67) now beats goodwill's 3 of 5 (0.6).
    for hour in (15, 16, 17):
        refund = requested(day(5, hour), reason=Reason.QUALITY, amount=3000)
        edit(refund, day(5, hour, 5), week.alex, reply="Order {order}: please send a photo.")
        deny(refund, day(5, hour, 10), week.alex, PHOTO)

    digest = digest_build(WEEK, now=NOW)

    assert [(r.rule, r.edited, r.reviewed) for r in digest.edits] == [
        ("R-EVIDENCE-QUALITY", 4, 6),
        ("R-GOODWILL-REVIEW", 3, 5),
    ]
    assert digest.declines[0].count == 5


def test_counts_by_outcome_with_amounts_per_currency(week):
    digest = digest_build(WEEK, now=NOW)

    outcomes = {o.key: (o.count, dict(o.amounts)) for o in digest.outcomes}
    assert outcomes == {
        AUTO_APPROVED: (3, {"USD": 4000, "EUR": 1000}),
        APPROVED_BY_PEOPLE: (5, {"USD": 3 * 6000 + 10000 + 4000}),
        DECLINED: (3, {"USD": 15000 + 2 * 8000}),
        CANCELED: (1, {"USD": 10000}),
        COMPLETED: (1, {"USD": 2000}),
        FAILED: (1, {"EUR": 1000}),
    }


def test_median_time_to_decision_by_people_and_for_all(week):
    digest = digest_build(WEEK, now=NOW)

    # By people: 30, 30, 30, 45, 60, 120, 180, 300 minutes -> (45 + 60) / 2.
    assert (digest.median_by_people, digest.decided_by_people) == (timedelta(minutes=52, seconds=30), 8)
    # With the three auto-approvals (no wait): the 6th of 11.
    assert (digest.median_all, digest.decided_all) == (timedelta(minutes=30), 11)


def test_refunds_waiting_past_the_sla_now(week):
    digest = digest_build(WEEK, now=NOW)

    assert digest.sla == timedelta(hours=24)
    assert digest.overdue_count == 1
    (waiting,) = digest.overdue
    assert waiting.refund.public_id == week.refunds["overdue"].public_id
    assert waiting.created_at == day(8, 9)


def test_week_boundaries_sunday_235959_is_in_monday_0000_is_the_next_week(week):
    this, before, after = (digest_build(w, now=NOW) for w in (WEEK, IsoWeek(2026, 44), IsoWeek(2026, 46)))

    def count(digest, key):
        return next(o.count for o in digest.outcomes if o.key == key)

    # The last second of the week counts in it; the Monday after's 00:00 and the Sunday before do not.
    assert count(this, AUTO_APPROVED) == 3
    assert count(before, AUTO_APPROVED) == 1
    assert count(after, AUTO_APPROVED) == 1
    # The refund of the week before completed at the next Monday 00:00: that week's, not this one's.
    assert count(this, COMPLETED) == 1
    assert count(after, COMPLETED) == 1


def test_the_number_of_queries_does_not_grow_with_the_week(week):
    with CaptureQueriesContext(connection) as first:
        digest_build(WEEK, now=NOW)
    for hour in (13, 14, 15):
        refund = requested(day(6, hour), reason=Reason.GOODWILL, amount=9000)
        edit(refund, day(6, hour, 5), week.alex, amount_minor=7000)
        deny(refund, day(6, hour, 10), week.alex, f"Not this time ({hour}).", "internal")
        approve(requested(day(6, hour, 30), reason=Reason.QUALITY, amount=1000), day(6, hour, 40), week.sally)

    with CaptureQueriesContext(connection) as second:
        digest = digest_build(WEEK, now=NOW)

    assert len(digest.overrides) == 2 + 6
    assert len(second.captured_queries) == len(first.captured_queries) == 10
