"""The digest in words: overrides first and loud, Slack's limits and escaping, the rationale kept out of Slack."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from integrations.digest import (
    AUTO_APPROVED,
    LOWERED,
    OUTCOME_LABELS,
    DeclineGroup,
    Digest,
    OutcomeCount,
    Override,
    RefundRef,
    RuleEdits,
    WaitingRefund,
    card_url,
)
from integrations.digest_render import (
    LOUD,
    SLACK_MAX_BLOCKS,
    SLACK_MAX_HEADER_CHARS,
    SLACK_MAX_SECTION_CHARS,
    digest_html,
    digest_slack,
    digest_text,
    slack_escape,
)
from tests.integrations.digest_week import NOW, WEEK, day

HOSTILE = "Refund <b>denied</b> & <!channel> <https://evil.example|click>"
RATIONALE = "Staff only: customer is on the fraud watch list"


def ref(n: int) -> RefundRef:
    public_id = f"rf_{n:024d}"
    return RefundRef(public_id, card_url(public_id))


def override(n: int, *, reason: str = HOSTILE) -> Override:
    return Override(
        refund=ref(n),
        rule="R-GOODWILL-REVIEW",
        rule_text="goodwill refunds are always reviewed by an agent",
        recommendation="approve",
        done="declined",
        decided_by=("Alex Agent",),
        decided_at=day(1, 10),
        amount_minor=15000,
        currency="USD",
        requested_minor=20000,
        draft_reply="Good news: we have approved your refund of {amount}. " * 20,
        decline_reason=reason,
        rationale=RATIONALE,
    )


def digest(*, overrides: int = 2, declines: int = 2, rules: int = 2, overdue: int = 1) -> Digest:
    return Digest(
        week=WEEK,
        generated_at=NOW,
        overrides=[override(n) for n in range(overrides)],
        declines=[
            DeclineGroup(
                reason=f"{HOSTILE} #{n} " + "x" * 250, refunds=(ref(1000 + n), ref(2000 + n)), rationales=(RATIONALE,)
            )
            for n in range(declines)
        ],
        edits=[RuleEdits(f"R-RULE-{n}", reviewed=20, edited=14, changes={LOWERED: 10}) for n in range(rules)],
        outcomes=[
            OutcomeCount(key, 2 if key == AUTO_APPROVED else 0, (("USD", 4000),) if key == AUTO_APPROVED else ())
            for key in OUTCOME_LABELS
        ],
        median_by_people=timedelta(minutes=52, seconds=30),
        decided_by_people=8,
        median_all=timedelta(minutes=30),
        decided_all=11,
        sla=timedelta(hours=24),
        overdue_count=overdue,
        overdue=[
            WaitingRefund(ref(3000 + n), day(8, 9), 5000, "USD", "R-GOODWILL-REVIEW") for n in range(min(overdue, 10))
        ],
    )


def texts(blocks: list[dict]) -> list[str]:
    out = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [element["text"] for element in block.get("elements", [])]
    return out


def test_the_text_digest_puts_overrides_first_then_the_sections_in_order():
    text = digest_text(digest())

    order = ["OVERRIDES OF THE POLICY", "DECLINES", "DRAFTS EDITED", "OUTCOMES", "TIME FROM REQUEST", "WAITING LONGER"]
    positions = [text.index(heading) for heading in order]
    assert positions == sorted(positions)
    assert "R-RULE-0 drafts were edited 14 of 20 times, usually lowering the amount." in text
    assert "The policy recommended approving; declined by Alex Agent" in text
    assert "150.00 USD (requested 200.00 USD)" in text
    assert "Decided by people: 52 min (8 refunds)" in text
    assert "Auto-approved: 2 (40.00 USD)" in text


def test_the_email_shows_the_internal_rationale_and_escapes_html():
    html = digest_html(digest())

    assert RATIONALE in html
    assert "<b>denied</b>" not in html
    assert "&lt;b&gt;denied&lt;/b&gt;" in html
    assert html.index("override") < html.index("Declines")
    assert RATIONALE in digest_text(digest())


def test_the_slack_post_leads_with_the_overrides_loudly_and_never_carries_the_rationale():
    _text, blocks = digest_slack(digest())

    assert blocks[0]["type"] == "header"
    first_section = next(b for b in blocks if b["type"] == "section")
    assert LOUD in first_section["text"]["text"] and "2 overrides" in first_section["text"]["text"]
    assert RATIONALE not in json.dumps(blocks)


def test_slack_text_is_escaped():
    _text, blocks = digest_slack(digest())
    body = "\n".join(texts(blocks))

    assert "<b>" not in body and "<!channel>" not in body and "<https://evil.example" not in body
    assert slack_escape(HOSTILE) in body
    assert slack_escape("a < b & c > d") == "a &lt; b &amp; c &gt; d"


@pytest.mark.parametrize("size", [0, 1, 9, 10, 11, 60, 400])
def test_slack_limits_hold_whatever_the_week_held(size):
    text, blocks = digest_slack(digest(overrides=size, declines=size, rules=size, overdue=size))

    assert len(blocks) <= SLACK_MAX_BLOCKS
    assert len(blocks[0]["text"]["text"]) <= SLACK_MAX_HEADER_CHARS
    assert all(len(t) <= SLACK_MAX_SECTION_CHARS for t in texts(blocks))
    assert all(t.strip() for t in texts(blocks))
    assert len(text) <= 3000


def test_long_lists_end_with_how_many_more_and_a_link_to_the_console():
    _text, blocks = digest_slack(digest(overrides=25, declines=40, rules=40, overdue=37))
    body = "\n".join(texts(blocks))

    assert "_and 15 more — see the <" in body  # overrides: 10 of 25 listed
    assert "view=overrides|console>_" in body
    assert "_and 27 more — see the <" in body  # waiting: 10 of 37 listed
    assert sum(1 for t in texts(blocks) if LOUD in t) == 1 + 10
