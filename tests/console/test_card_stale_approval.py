"""Issue 10 item 8: the maker edits after the checker looked.

An agent raised their own 10.00 refund to 199.00 while a senior had the card
open; the senior's approve then completed 199.00. The requester may never
edit their refund, and an approval carries the version of the card the
checker saw: a refund that changed since answers 409 and nothing moves.
"""

from __future__ import annotations

import re

import pytest

from audit.models import AuditEvent
from core.errors import CATALOG, ERR_CONFLICT_CHANGED
from refunds.enums import DecisionKind, Reason, RefundState, Role
from refunds.models import Decision, Refund
from tests.refunds.factories import agent, captured_order, make_refund

pytestmark = pytest.mark.django_db

FORM = re.compile(r'<form[^>]*action="(?P<action>[^"]+)"[^>]*>(?P<body>.*?)</form>', re.S)
HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*>')
ATTR = re.compile(r'(name|value)="([^"]*)"')


def card_url(refund: Refund, action: str = "") -> str:
    return f"/console/refunds/{refund.public_id}/" + (f"{action}/" if action else "")


def rendered_form(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the card's form posting to `action`, as the browser would send them."""
    for match in FORM.finditer(html):
        if match["action"] == action:
            fields = {}
            for tag in HIDDEN.findall(match["body"]):
                attrs = dict(ATTR.findall(tag))
                if attrs.get("name") and attrs["name"] != "csrfmiddlewaretoken":
                    fields[attrs["name"]] = attrs.get("value", "")
            return fields
    raise AssertionError(f"no form posting to {action} on the card")


def ten_dollar_refund_by(username: str) -> Refund:
    """A 10.00 goodwill refund (always reviewed, one approval) on a 500.00 capture, requested in the console."""
    order = captured_order(amount_minor=50000)
    return make_refund(order=order, amount_minor=1000, reason=Reason.GOODWILL, actor=agent(username))


def test_the_requester_cannot_edit_their_own_refund(login):
    maker = login("maker", Role.AGENT)
    refund = ten_dollar_refund_by("maker")
    assert "Edit draft or amount" not in maker.get(card_url(refund)).content.decode()
    response = maker.post(
        card_url(refund, "edit"),
        {"reply": "Here is 199.00 back.", "amount": "199.00", "action": "save", "version": refund.version},
    )
    assert response.status_code == 403
    assert "You requested this refund, so someone else must edit it" in response.content.decode()
    refund.refresh_from_db()
    assert refund.amount_minor == 1000
    assert not Decision.objects.filter(refund=refund, kind=DecisionKind.EDIT).exists()


def test_an_approval_from_a_card_opened_before_an_edit_is_refused_and_nothing_moves(login):
    """The attack: agent creates 10.00, senior loads the card, another agent raises it to 199.00, senior approves."""
    login("maker", Role.AGENT)
    refund = ten_dollar_refund_by("maker")
    senior = login("senior", Role.SENIOR_AGENT)
    stale = rendered_form(senior.get(card_url(refund)).content.decode(), card_url(refund, "approve"))

    other_agent = login("other", Role.AGENT)
    edited = other_agent.post(
        card_url(refund, "edit"),
        {
            "reply": "Here is 199.00 back.",
            "amount": "199.00",
            "action": "save",
            **rendered_form(other_agent.get(card_url(refund, "edit")).content.decode(), card_url(refund, "edit")),
        },
    )
    assert edited.status_code == 302
    refund.refresh_from_db()
    assert (refund.state, refund.amount_minor) == (RefundState.REQUESTED, 19900)

    response = senior.post(card_url(refund, "approve"), {**stale, "note": "looks fine"})

    assert response.status_code == 409
    html = response.content.decode()
    assert str(CATALOG[ERR_CONFLICT_CHANGED][2]) in html
    # The fresh card: the new amount, and an approve form carrying the new version.
    assert "199.00" in html
    assert rendered_form(html, card_url(refund, "approve")) == {"version": str(refund.version)}
    refund.refresh_from_db()
    assert (refund.state, refund.amount_minor) == (RefundState.REQUESTED, 19900)
    assert not Decision.objects.filter(refund=refund, kind=DecisionKind.APPROVE).exists()
    assert not AuditEvent.objects.filter(refund=refund, action="refund.approved").exists()

    # Approving from the fresh card, having seen 199.00, is a decision about 199.00.
    again = senior.post(card_url(refund, "approve"), {**rendered_form(html, card_url(refund, "approve"))})
    assert again.status_code == 302
    refund.refresh_from_db()
    assert (refund.state, refund.amount_minor) == (RefundState.APPROVED, 19900)


def test_save_and_approve_from_a_stale_edit_form_is_refused(login):
    refund = ten_dollar_refund_by("maker")
    senior = login("senior", Role.SENIOR_AGENT)
    stale = rendered_form(senior.get(card_url(refund, "edit")).content.decode(), card_url(refund, "edit"))
    login("other", Role.AGENT).post(
        card_url(refund, "edit"),
        {"reply": "Here is 199.00 back.", "amount": "199.00", "action": "save", "version": refund.version},
    )
    response = senior.post(
        card_url(refund, "edit"), {**stale, "reply": "Here is 20.00 back.", "amount": "20.00", "action": "approve"}
    )
    assert response.status_code == 409
    refund.refresh_from_db()
    assert (refund.state, refund.amount_minor) == (RefundState.REQUESTED, 19900)


def test_an_approve_form_without_the_version_is_refused(login):
    refund = ten_dollar_refund_by("maker")
    response = login("senior", Role.SENIOR_AGENT).post(card_url(refund, "approve"), {"note": ""})
    assert response.status_code == 409
    assert Refund.objects.get(pk=refund.pk).state == RefundState.REQUESTED
