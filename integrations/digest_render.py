"""The weekly digest in words: plain text and HTML for the seniors' email, Block Kit for the channel.

All three show the same sections in the same order, overrides first and
loud. One difference, on purpose: a decline's internal rationale is in the
email (addressed to the senior agents by name, who see it in the console
anyway) and never in the Slack post — who reads a channel is decided in
Slack (guests, shared channels, people without a console account), not by
the console's roles, so the channel gets what the customer was told and a
link to the card (docs/slack.md "The weekly digest").

Amounts are the staff format ('1,234.50 USD'), times UTC with the zone
named, like the week's boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from babel import Locale
from babel.dates import format_date
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from core.i18n import format_amount_code, format_moment
from core.money import is_known_currency
from integrations.digest import Digest, Override, RefundRef

# Slack's limits (api.slack.com/reference/block-kit/blocks): 50 blocks a message, 3000
# characters in a section's text, 150 in a header. Lists stop well before.
SLACK_MAX_BLOCKS = 50
SLACK_MAX_SECTION_CHARS = 3000
SLACK_MAX_HEADER_CHARS = 150
SLACK_OVERRIDES_LISTED = 10  # one section each
SLACK_LINES_LISTED = 15  # lines of a list section (decline reasons, rules, waiting refunds)
# The email lists everything, except the refunds of one repeated reason and the waiting refunds.
EMAIL_REFS_LISTED = 10
LOUD = ":rotating_light:"


def _locale() -> Locale:
    return Locale.parse(getattr(settings, "STAFF_LOCALE", "en_GB"))


def money(amount_minor: int, currency: str) -> str:
    if not is_known_currency(currency):
        return f"{amount_minor} minor units {currency}"
    return format_amount_code(amount_minor, currency, _locale())


def when(moment: datetime) -> str:
    return format_moment(moment, _locale(), UTC)


def duration(span: timedelta | None) -> str:
    """'45 min', '3 h 5 min', '2 d 4 h'; 'under a minute'; '–' without any."""
    if span is None:
        return "–"
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def period(digest: Digest) -> str:
    """'Mon 2 Nov – Sun 8 Nov 2026 (UTC)': the last day shown is the Sunday, the end being Monday 00:00."""
    first, last = digest.start.date(), (digest.end - timedelta(days=1)).date()
    return (
        f"{format_date(first, 'EEE d MMM', locale=_locale())} – "
        f"{format_date(last, 'EEE d MMM y', locale=_locale())} (UTC)"
    )


def subject(digest: Digest) -> str:
    loud = f"{len(digest.overrides)} override{'s' if len(digest.overrides) != 1 else ''}, " if digest.overrides else ""
    return f"Refund desk weekly digest {digest.week}: {loud}{digest.overdue_count} waiting past the SLA"


def _queue_url(**query: str) -> str:
    url = settings.APP_BASE_URL + reverse("console:queue")
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def _verb(recommendation: str) -> str:
    return "approving" if recommendation == "approve" else "declining"


def override_headline(item: Override) -> str:
    """'The policy recommended approving; declined by alice on 3 Nov 2026, 10:00 UTC — 150.00 USD'."""
    amount = money(item.amount_minor, item.currency)
    if item.requested_minor != item.amount_minor:
        amount += f" (requested {money(item.requested_minor, item.currency)})"
    who = " and ".join(item.decided_by) or "someone"
    return (
        f"The policy recommended {_verb(item.recommendation)}; {item.done} by {who} "
        f"on {when(item.decided_at)} — {amount}"
    )


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- plain text and HTML (the email) -----------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """The first items of a list, and how many more there are."""

    items: list[Any]
    more: int


def _listed(items: list[Any], limit: int) -> Listed:
    return Listed(items[:limit], max(len(items) - limit, 0))


def _context(digest: Digest) -> dict[str, Any]:
    return {
        "digest": digest,
        "subject": subject(digest),
        "period": period(digest),
        "overrides": [
            {
                "item": item,
                "headline": override_headline(item),
            }
            for item in digest.overrides
        ],
        "declines": [
            {"group": group, "refs": _listed(list(group.refunds), EMAIL_REFS_LISTED)} for group in digest.declines
        ],
        "outcomes": [
            {
                "label": outcome.label,
                "count": outcome.count,
                "amounts": ", ".join(money(total, currency) for currency, total in outcome.amounts),
            }
            for outcome in digest.outcomes
        ],
        "median_by_people": duration(digest.median_by_people),
        "median_all": duration(digest.median_all),
        # The SLA as it is set (REFUND_DECISION_SLA_HOURS): "24 h", not "1 d".
        "sla": f"{int(digest.sla.total_seconds() // 3600)} h",
        "overdue": [
            {
                "item": item,
                "waited": duration(digest.generated_at - item.created_at),
                "requested": when(item.created_at),
                "amount": money(item.amount_minor, item.currency),
            }
            for item in digest.overdue
        ],
        "overdue_more": digest.overdue_count - len(digest.overdue),
        "overrides_url": _queue_url(view="overrides"),
        "queue_url": _queue_url(),
    }


def digest_text(digest: Digest) -> str:
    """The plain-text digest: the email's text part, and what `send_digest --dry-run` prints."""
    c = _context(digest)
    lines = [c["subject"], f"Week {digest.week}: {c['period']}", ""]
    if c["overrides"]:
        lines.append(f"!!! OVERRIDES OF THE POLICY: {len(c['overrides'])} decisions went against its recommendation")
        for row in c["overrides"]:
            item = row["item"]
            lines += [f"  ! {item.refund.public_id}  {row['headline']}", f"    Rule: {item.rule}: {item.rule_text}"]
            lines.append(f"    The draft said: {_shorten(item.draft_reply, 300) or '(no draft)'}")
            if item.decline_reason:
                lines.append(f"    Reason given to the customer: {_shorten(item.decline_reason, 300)}")
            if item.rationale:
                lines.append(f"    Internal rationale: {_shorten(item.rationale, 300)}")
            lines.append(f"    {item.refund.card_url}")
    else:
        lines.append("No overrides of the policy this week.")
    lines += ["", f"DECLINES: {digest.declined_count}"]
    for row in c["declines"]:
        group = row["group"]
        ids = ", ".join(ref.public_id for ref in row["refs"].items)
        more = f" and {row['refs'].more} more" if row["refs"].more else ""
        lines.append(f"  {group.count} × {_shorten(group.reason, 300)}  ({ids}{more})")
        lines += [f"      internal rationale: {_shorten(r, 200)}" for r in group.rationales]
    lines += ["", "DRAFTS EDITED, BY POLICY RULE"]
    lines += [f"  {rule.sentence}" for rule in digest.edits] or ["  No reviewed refunds were decided this week."]
    lines += ["", "OUTCOMES"]
    for row in c["outcomes"]:
        lines.append(f"  {row['label']}: {row['count']}" + (f" ({row['amounts']})" if row["amounts"] else ""))
    lines += [
        "",
        "TIME FROM REQUEST TO DECISION (median)",
        f"  Decided by people: {c['median_by_people']} ({digest.decided_by_people} refunds)",
        f"  All decisions, the policy's included: {c['median_all']} ({digest.decided_all} refunds)",
        "",
        f"WAITING LONGER THAN THE SLA ({c['sla']}) NOW: {digest.overdue_count}",
    ]
    for row in c["overdue"]:
        item = row["item"]
        lines.append(
            f"  {item.refund.public_id}  waiting {row['waited']} (since {row['requested']}), {row['amount']}, "
            f"{item.rule}  {item.refund.card_url}"
        )
    if c["overdue_more"]:
        lines.append(f"  and {c['overdue_more']} more — see the console: {c['queue_url']}")
    return "\n".join(lines) + "\n"


def digest_html(digest: Digest) -> str:
    return render_to_string("integrations/digest_email.html", _context(digest))


# --- Slack Block Kit -------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Slack's three control characters in message text (api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(ref: RefundRef) -> str:
    # A public id is [a-z0-9_] and the URL ours: neither can carry "|" or ">".
    return f"<{ref.card_url}|{ref.public_id}>"


def _section(lines: list[str], *, more: int = 0, more_url: str = "") -> dict[str, Any]:
    """A mrkdwn section of `lines`, cut to Slack's length limit with "and N more — see the console"."""

    def tail(n: int) -> str:
        return f"_and {n} more — see the <{more_url}|console>_" if more_url else f"_and {n} more_"

    kept = list(lines)
    hidden = more
    while kept and len("\n".join(kept + ([tail(hidden)] if hidden else []))) > SLACK_MAX_SECTION_CHARS:
        kept.pop()
        hidden += 1
    text = "\n".join(kept + ([tail(hidden)] if hidden else [])) or " "
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SLACK_MAX_SECTION_CHARS]}}


def _capped(lines: list[str], limit: int) -> tuple[list[str], int]:
    return lines[:limit], max(len(lines) - limit, 0)


def digest_slack(digest: Digest) -> tuple[str, list[dict[str, Any]]]:
    """(notification text, blocks) for chat.postMessage: within Slack's limits whatever the week held."""
    c = _context(digest)
    header = _shorten(f"Weekly refund digest {digest.week}", SLACK_MAX_HEADER_CHARS)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(c["period"])}]},
        *_slack_overrides(c),
        {"type": "divider"},
        *_slack_sections(digest, c),
    ]
    return slack_escape(subject(digest)), blocks[:SLACK_MAX_BLOCKS]


def _slack_overrides(c: dict[str, Any]) -> list[dict[str, Any]]:
    """A loud heading, then one section per override (the first SLACK_OVERRIDES_LISTED), then how many more."""
    count = len(c["overrides"])
    if not count:
        return [_section(["No overrides of the policy this week."])]
    plural = "s" if count != 1 else ""
    blocks = [_section([f"{LOUD} *{count} override{plural} of the policy* — decisions that went against it"])]
    for row in c["overrides"][:SLACK_OVERRIDES_LISTED]:
        item = row["item"]
        lines = [
            f"{LOUD} *{_link(item.refund)}* {slack_escape(row['headline'])}",
            f"*Rule:* {slack_escape(_shorten(f'{item.rule}: {item.rule_text}', 300))}",
            f"*The draft said:* {slack_escape(_shorten(item.draft_reply, 500) or '(no draft)')}",
        ]
        if item.decline_reason:
            lines.append(f"*Reason given to the customer:* {slack_escape(_shorten(item.decline_reason, 500))}")
        blocks.append(_section(lines))
    if count > SLACK_OVERRIDES_LISTED:
        blocks.append(_section([], more=count - SLACK_OVERRIDES_LISTED, more_url=c["overrides_url"]))
    return blocks


def _slack_sections(digest: Digest, c: dict[str, Any]) -> list[dict[str, Any]]:
    """Declines, edits per rule, outcomes, medians, and the refunds waiting past the SLA."""
    queue_url = c["queue_url"]
    declines = [
        f"{group.count} × {slack_escape(_shorten(group.reason, 300))} "
        f"({', '.join(_link(ref) for ref in group.refunds[:5])}{' …' if group.count > 5 else ''})"
        for group in digest.declines
    ]
    edits = [slack_escape(rule.sentence) for rule in digest.edits] or ["No reviewed refunds were decided."]
    outcomes = [
        f"{row['label']}: *{row['count']}*" + (f" ({slack_escape(row['amounts'])})" if row["amounts"] else "")
        for row in c["outcomes"]
    ]
    overdue = [
        f"{_link(row['item'].refund)} waiting {row['waited']}, {slack_escape(row['amount'])}, "
        f"{slack_escape(row['item'].rule)}"
        for row in c["overdue"]
    ]
    shown_declines, more_declines = _capped(declines, SLACK_LINES_LISTED)
    shown_edits, more_edits = _capped(edits, SLACK_LINES_LISTED)
    return [
        _section([f"*Declines: {digest.declined_count}*", *shown_declines], more=more_declines, more_url=queue_url),
        _section(["*Drafts edited, by policy rule*", *shown_edits], more=more_edits, more_url=queue_url),
        _section(["*Outcomes*", *outcomes]),
        _section(
            [
                "*Time from request to decision (median)*",
                f"Decided by people: {c['median_by_people']} ({digest.decided_by_people} refunds)",
                f"All decisions, the policy's included: {c['median_all']} ({digest.decided_all} refunds)",
            ]
        ),
        {"type": "divider"},
        _section(
            [f"*Waiting longer than the SLA ({c['sla']}) now: {digest.overdue_count}*", *overdue],
            more=c["overdue_more"],
            more_url=queue_url,
        ),
    ]
