"""Who may open the console: signed-in staff with a role, through a session; nobody else."""

import pytest
from django.test import Client

from refunds.enums import Role
from tests.console.conftest import review_refund
from tests.refunds.factories import UserFactory, api_key

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_the_login_page():
    response = Client().get("/console/")
    assert response.status_code == 302
    assert response["Location"] == "/console/login/?next=/console/"


def test_htmx_request_without_a_session_redirects_the_whole_page():
    response = Client().get("/console/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue-results")
    assert response["HX-Redirect"].startswith("/console/login/")


def test_agent_signs_in_with_username_and_password_and_lands_on_the_queue():
    user = UserFactory(username="ana", role=Role.AGENT)
    user.set_password("a-long-password")
    user.save()
    client = Client()
    response = client.post("/console/login/", {"username": "ana", "password": "a-long-password"})
    assert response.status_code == 302 and response["Location"] == "/console/"
    assert "Review queue" in client.get("/console/").content.decode()


def test_wrong_password_is_refused_with_a_message():
    UserFactory(username="ana", role=Role.AGENT)
    response = Client().post("/console/login/", {"username": "ana", "password": "nope"})
    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode()


def test_login_form_needs_its_csrf_token():
    user = UserFactory(username="ana", role=Role.AGENT)
    user.set_password("a-long-password")
    user.save()
    client = Client(enforce_csrf_checks=True)
    response = client.post("/console/login/", {"username": "ana", "password": "a-long-password"})
    assert response.status_code == 403


def test_user_without_a_console_role_is_refused_with_403(login):
    client = login("visitor", role=None)
    response = client.get("/console/")
    assert response.status_code == 403
    assert "Your role does not allow this" in response.content.decode()


def test_finance_and_risk_can_read_the_queue(login):
    for username, role in [("fin", Role.FINANCE), ("risky", Role.RISK)]:
        assert login(username, role).get("/console/").status_code == 200


def test_an_api_key_never_opens_the_console():
    key = api_key("merchant", role=Role.ADMIN)
    response = Client().get("/console/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 302 and response["Location"].startswith("/console/login/")


def test_a_customer_status_token_never_opens_a_refund_card(agent_client):
    refund = review_refund()
    assert Client().get(f"/console/refunds/{refund.status_token}/").status_code == 302
    # Even for a signed-in agent the token is not a refund id.
    assert agent_client.get(f"/console/refunds/{refund.status_token}/").status_code == 404
    assert Client().get(f"/console/?token={refund.status_token}").status_code == 302


def test_sign_out_is_a_post_and_ends_the_session(agent_client):
    assert agent_client.get("/console/logout/").status_code == 405
    response = agent_client.post("/console/logout/")
    assert response.status_code == 302 and response["Location"] == "/console/login/"
    assert agent_client.get("/console/").status_code == 302


def test_the_bare_host_leads_to_the_console_login(client):
    response = client.get("/", follow=True)
    assert response.redirect_chain[0] == ("/console/", 302)
    assert response.request["PATH_INFO"] == "/console/login/"
