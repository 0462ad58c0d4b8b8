"""What the Slack answers say: the console's words, where the console says the same thing.

A refusal from a service is answered with its own message (`DomainError.message`,
as the console shows it after a refused POST); the permission checks made
before a modal opens are the same functions the console's card asks
(`refunds.permissions`), so their words are the services' too. Only what
exists in Slack alone is worded here: a stale card, Slack being slow.
"""

from __future__ import annotations

from core.errors import ERR_CONFLICT_CHANGED, DomainError
from refunds.models import Refund
from refunds.selectors import approval_outcome_text

# The lead's words for a tap on a card drawn before the refund's last change (the card is redrawn on every change).
STALE_CARD = "This refund changed since the card was drawn; look at the updated card."
SLACK_SLOW = "Slack did not say who you are in time, so nothing was done. Tap the button again in a moment."
MODAL_NOT_OPENED = "Slack did not open the form in time, so nothing was done. Tap the button again."
NO_SUCH_REFUND = "This refund is not in Refund desk (any more), so nothing was done."
REPLY_TOO_LONG = "The drafted reply is too long to edit in Slack; edit it in the console."
# As the console's card (console.views.card.DECLINE_DRAFT_MESSAGE), for where Slack has no "Edit draft" link.
DECLINE_DRAFT = (
    "The drafted reply still declines this refund. Write the reply the customer should get with the "
    "approval (Edit), then approve."
)
HIGH_VALUE_UNCONFIRMED = "Tick this box to approve an amount above the high-value threshold."
# An Approve tap on a high-value refund decided without the confirmation modal (a task queued by an older
# version, a tap whose modal could not be opened): refused, as the console refuses without its tick.
HIGH_VALUE_CONFIRM_IN_DIALOG = (
    "This is a high-value refund: it is approved only in the confirmation dialog. Tap Approve again, "
    'tick "I have checked this high-value refund" and press Approve.'
)
TAP_TOO_OLD = "Your tap on {refund} is too old to act on (over {minutes} minutes), so nothing was done. Tap again."
NOT_PROCESSED = "Your tap on {refund} could not be processed in time, so nothing was done. Tap the button again."


def refusal_words(error: DomainError) -> str:
    """A service's refusal as the person reads it: its own message; a changed refund is a stale card."""
    if error.code == ERR_CONFLICT_CHANGED:
        return STALE_CARD
    return error.message


def approved_words(refund: Refund, *, already: bool) -> str:
    """After an approval from Slack: what the console says (refunds.selectors.approval_outcome_text)."""
    if already:
        return f"This refund was already {refund.get_state_display().lower()}; nothing changed."
    return approval_outcome_text(refund)


def declined_words(refund: Refund, *, already: bool) -> str:
    """After a decline from Slack: the console's (console.views.card.decline)."""
    if already:
        return "This refund was already declined; the reason given then stands."
    if refund.override_flagged:
        return "Declined. This overrides the policy's approve recommendation and is flagged."
    return "Declined. The customer gets a kind decline with your message."
