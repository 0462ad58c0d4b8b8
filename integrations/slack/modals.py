"""The Edit, Decline and high-value Approve modals (Block Kit views), and reading what a person typed into them.

The same fields, labels and starting values as the console's edit and
decline forms (console.forms.EditForm, DeclineForm): the amount in major
units (`core.money.major_input` / `parse_major_amount`), the drafted reply
as stored (a template: its placeholders are filled when the email is sent),
the decline message starting from the policy's decline draft
(`refunds.services.policy.policy_decline_draft`), the internal rationale.

Each input's `block_id` is its field's name, so a refusal is answered on
the right field (`response_action: errors`).
"""

from __future__ import annotations

import json
from typing import Any

from core.i18n import staff_money
from core.money import major_input
from integrations.slack.cards import clip, customer_text, escape
from integrations.slack.interactions import APPROVE_CONFIRM_CALLBACK, DECLINE_CALLBACK, EDIT_CALLBACK
from notifications.replies import refund_language
from refunds.models import Refund
from refunds.replies import placeholders_allowed_text
from refunds.services.policy import high_value_threshold_minor, policy_decline_draft

# Slack's limits: a plain_text_input holds 3000 characters, a hint 2000, private_metadata 3000.
INPUT_MAX = 3000
NOTE_MAX = 2000  # as the console's forms (console.forms.NOTE_MAX)
CONFIRM_VALUE = "confirm_high_value"
APPROVE_CONFIRM_LABEL = "I have checked this high-value refund"


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _input(
    block_id: str,
    label: str,
    *,
    initial: str = "",
    multiline: bool = False,
    optional: bool = False,
    hint: str = "",
    max_length: int = INPUT_MAX,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": block_id,
        "multiline": multiline,
        "max_length": max_length,
    }
    if initial:
        element["initial_value"] = initial[:max_length]
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = {"type": "plain_text", "text": hint[:2000]}
    return block


def _metadata(refund: Refund, *, channel: str, ts: str) -> str:
    """What the submission needs besides the typed values: which refund, as seen at which version, which card."""
    return json.dumps({"refund": refund.public_id, "version": refund.version, "channel": channel, "ts": ts})


def _summary(refund: Refund) -> dict[str, Any]:
    needs = " Needs two senior approvals." if refund.approvals_required > 1 else ""
    return {
        "type": "section",
        "block_id": "summary",
        "text": {
            "type": "mrkdwn",
            "text": f"*{refund.public_id}* · {staff_money(refund.amount_minor, refund.currency)}.{needs}",
        },
    }


def edit_modal(refund: Refund, *, available_minor: int, channel: str, ts: str) -> dict[str, Any]:
    """Edit the amount and/or the reply, then approve that version ("Save and approve")."""
    currency = refund.currency
    blocks = [
        _summary(refund),
        _input(
            "amount",
            f"Amount ({currency})",
            initial=major_input(refund.amount_minor, currency),
            hint=f"Up to {staff_money(available_minor, currency)}, the remaining refundable including this refund.",
            max_length=30,
        ),
        _input(
            "reply",
            "Reply to the customer (template)",
            initial=refund.draft_reply,
            multiline=True,
            hint=f"Placeholders are filled from the refund when the email is sent: {placeholders_allowed_text()}. "
            "Write {amount} for the amount: a reply stating any other amount than the refund's is refused.",
        ),
        _input("note", "Why the change (internal, audited)", multiline=True, optional=True, max_length=NOTE_MAX),
    ]
    threshold = high_value_threshold_minor(refund.policy_version, currency)
    if threshold is not None:
        blocks.append(
            {
                "type": "input",
                "block_id": "confirm",
                "optional": True,
                "label": _plain("High value"),
                "hint": {
                    "type": "plain_text",
                    "text": f"Tick this box to approve an amount above {staff_money(threshold, currency)}, "
                    f"the policy's high-value threshold for {currency}.",
                },
                "element": {
                    "type": "checkboxes",
                    "action_id": "confirm",
                    "options": [{"text": _plain("I confirm approving this high-value refund"), "value": CONFIRM_VALUE}],
                },
            }
        )
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "private_metadata": _metadata(refund, channel=channel, ts=ts),
        "title": _plain("Edit and approve"),
        "submit": _plain("Save and approve"),
        "close": _plain("Cancel"),
        "blocks": blocks,
    }


def approve_confirm_modal(refund: Refund, *, threshold_minor: int, channel: str, ts: str) -> dict[str, Any]:
    """Approve a high-value refund: the amount, the customer and the rule restated, one required tick.

    The console's card asks the same explicit confirmation (its "high value"
    box) before approving above the policy's high-value threshold; a single
    tap on the card must not be less careful. The box is a required input,
    so Slack's client will not submit without it, and the submission is
    checked again (`submitted_confirmed`).
    """
    currency = refund.currency
    amount = staff_money(refund.amount_minor, currency)
    needs = (
        f" It needs {refund.approvals_required} senior approvals; yours is one of them."
        if refund.approvals_required > 1
        else ""
    )
    rule = f"*Rule* `{escape(refund.policy_rule)}`\n{escape(refund.policy_rule_text)}"
    return {
        "type": "modal",
        "callback_id": APPROVE_CONFIRM_CALLBACK,
        "private_metadata": _metadata(refund, channel=channel, ts=ts),
        "title": _plain("Approve high value"),
        "submit": _plain("Approve"),
        "close": _plain("Cancel"),
        "blocks": [
            {
                "type": "section",
                "block_id": "summary",
                "text": {
                    "type": "mrkdwn",
                    "text": f"Approve *{amount}* for *{refund.public_id}*? This is above "
                    f"{staff_money(threshold_minor, currency)}, the policy's high-value threshold for {currency}."
                    f"{needs}",
                },
            },
            {
                "type": "section",
                "block_id": "customer",
                "text": {"type": "mrkdwn", "text": f"*Customer*\n{customer_text(refund)}"},
            },
            {"type": "section", "block_id": "rule", "text": {"type": "mrkdwn", "text": clip(rule, 3000)}},
            {
                "type": "input",
                "block_id": "confirm",
                "optional": False,
                "label": _plain("High value"),
                "element": {
                    "type": "checkboxes",
                    "action_id": "confirm",
                    "options": [{"text": _plain(APPROVE_CONFIRM_LABEL), "value": CONFIRM_VALUE}],
                },
            },
        ],
    }


def decline_modal(refund: Refund, *, channel: str, ts: str) -> dict[str, Any]:
    """Decline with the customer-facing message (required) and the internal rationale (optional)."""
    return {
        "type": "modal",
        "callback_id": DECLINE_CALLBACK,
        "private_metadata": _metadata(refund, channel=channel, ts=ts),
        "title": _plain("Decline refund"),
        "submit": _plain("Decline"),
        "close": _plain("Cancel"),
        "blocks": [
            _summary(refund),
            _input(
                "reason",
                "Message to the customer",
                initial=policy_decline_draft(refund, language=refund_language(refund)),
                multiline=True,
                max_length=NOTE_MAX,
                hint="Required. The customer reads it in the decline email and on their status page, so write it "
                f"for them, in their language. Placeholders: {placeholders_allowed_text()}.",
            ),
            _input(
                "rationale",
                "Internal rationale (staff only, never sent)",
                multiline=True,
                optional=True,
                max_length=NOTE_MAX,
                hint="Why you decline, for colleagues and the audit trail. Never emailed, never on the status page.",
            ),
        ],
    }


def submitted_text(payload: dict[str, Any], field: str) -> str:
    """What was typed into the input `field` of the submitted view ("" when empty or absent)."""
    values = ((payload.get("view") or {}).get("state") or {}).get("values") or {}
    value = ((values.get(field) or {}).get(field) or {}).get("value")
    return value if isinstance(value, str) else ""


def submitted_confirmed(payload: dict[str, Any]) -> bool:
    """The high-value confirmation box is ticked."""
    values = ((payload.get("view") or {}).get("state") or {}).get("values") or {}
    selected = ((values.get("confirm") or {}).get("confirm") or {}).get("selected_options") or []
    return any(isinstance(o, dict) and o.get("value") == CONFIRM_VALUE for o in selected)
