"""A pause's reason is staff's: the incident note never reaches a merchant (issue 16 kill switch; an attack first).

The pause's reason is described to the person typing it as "Shown to every staff member in the banner
and kept in the audit trail" (console/pause_forms.py). But `decision_paused` writes it into the
refund's `policy_rule_text` ("auto-approval paused: <reason> (the policy would approve: …)"), and
that field is the `policy.rule_text` of the refund document every merchant reads: the API's create
answer and GET, and the `refund.*` webhook payloads (events/documents.py PolicyOutput). An incident
note naming another tenant, a fraud pattern or a person is sent to every tenant that asks for a
refund during the pause.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from core.actor import Actor
from refunds.enums import PauseKind
from refunds.services.pauses import pause
from tests.api.conftest import create
from tests.refunds.factories import api_key, captured_order

pytestmark = pytest.mark.django_db

NOTE = "INC-7781 card-testing ring through merchant acme-shoes (Dana in risk)"


def test_the_incident_note_of_a_pause_is_not_in_the_merchants_refund_document():
    merchant = APIClient()
    merchant.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key('merchant', None, None, None)}")
    pause(PauseKind.AUTO_APPROVAL, reason=NOTE, actor=Actor.system("test"))
    order = captured_order(amount_minor=10_000)

    response = create(merchant, order.order_id, amount_minor=1000, reason="not_received")

    assert response.status_code == 202, response.content
    assert response.json()["state"] == "requested"  # the pause held: sent to review
    body = response.content.decode()
    assert "acme-shoes" not in body, body

    detail = merchant.get(f"/v1/refunds/{response.json()['refund_id']}").content.decode()
    assert "acme-shoes" not in detail, detail
