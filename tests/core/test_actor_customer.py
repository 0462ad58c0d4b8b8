"""`Actor.for_customer`: the customer acting through the portal, named without spreading their address."""

from __future__ import annotations

from core.actor import LABEL_MAX, Actor


def test_the_customer_is_labelled_by_a_masked_address():
    actor = Actor.for_customer("Jane.Doe@example.com")
    assert actor.type == "customer" and actor.user is None and actor.api_key is None
    assert actor.label == "customer J•••@example.com"
    assert "Jane.Doe" not in actor.label


def test_a_long_or_missing_address_stays_within_the_label_limit():
    assert len(Actor.for_customer("j@" + "x" * 300 + ".example").label) == LABEL_MAX
    assert Actor.for_customer("").label == "customer •••"
