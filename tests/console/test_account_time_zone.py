"""Each staff member picks their time zone on the Account page; every staff page then shows times in it."""

import pytest

from console.models import StaffProfile
from refunds.enums import Role
from tests.console.conftest import review_refund

pytestmark = pytest.mark.django_db


def test_default_is_the_installation_zone(agent_client, settings):
    html = agent_client.get("/console/account/").content.decode()
    assert 'value="UTC" selected' in html
    assert "Now: <strong>UTC</strong>" in html


def test_chosen_zone_is_stored_and_used_on_every_staff_page(login):
    client = login("anna", Role.SENIOR_AGENT)
    response = client.post("/console/account/", {"time_zone": "Europe/Berlin"})
    assert response.status_code == 302
    assert StaffProfile.objects.get(user=client.user).time_zone == "Europe/Berlin"
    html = client.get("/console/account/").content.decode()
    assert "<strong>Europe/Berlin</strong>" in html and "CET" in html
    refund = review_refund()
    timeline = client.get(f"/console/refunds/{refund.public_id}/timeline/").content.decode()
    assert "CET" in timeline and "UTC<" not in timeline


def test_an_unknown_zone_is_refused_and_nothing_is_stored(login):
    client = login("anna", Role.AGENT)
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd", "", "CET; DROP TABLE"):
        response = client.post("/console/account/", {"time_zone": bad})
        assert response.status_code == 400, bad
        assert "time zone" in response.content.decode()
    assert not StaffProfile.objects.filter(user=client.user).exists()


def test_one_persons_zone_never_leaks_to_another(login):
    berlin = login("anna", Role.AGENT)
    berlin.post("/console/account/", {"time_zone": "Asia/Tokyo"})
    other = login("ben", Role.AGENT)
    assert "<strong>UTC</strong>" in other.get("/console/account/").content.decode()
    assert "JST" in berlin.get("/console/account/").content.decode()


def test_the_model_refuses_an_unknown_zone_too(django_user_model):
    from django.core.exceptions import ValidationError

    profile = StaffProfile(user=django_user_model.objects.create(username="x"), time_zone="Nowhere/Else")
    with pytest.raises(ValidationError):
        profile.full_clean()
