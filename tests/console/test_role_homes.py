"""Role homes (issue 12 item 6): after signing in each role lands where its day starts."""

import pytest
from django.test import Client

from refunds.enums import Role
from tests.refunds.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "role-homes-pw-1"


def sign_in(username: str, role: str, *, next_url: str = "") -> str:
    user = UserFactory(username=username, role=role)
    user.is_staff = True
    user.set_password(PASSWORD)
    user.save()
    url = "/console/login/" + (f"?next={next_url}" if next_url else "")
    response = Client().post(url, {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return response["Location"]


@pytest.mark.parametrize(
    ("role", "home"),
    [
        (Role.AGENT, "/console/"),
        (Role.SENIOR_AGENT, "/console/"),
        (Role.FINANCE, "/finance/"),
        (Role.RISK, "/admin/refunds/refundpolicy/"),
        (Role.ADMIN, "/console/"),
        (Role.ACCESS_ADMIN, "/admin/"),
    ],
)
def test_each_role_lands_on_its_home(role, home):
    assert sign_in(f"home-{role}", role) == home


def test_the_bare_console_root_as_next_still_means_the_role_home():
    """Opening the site sends everyone to the login with next=/console/: that is no destination of theirs."""
    assert sign_in("fin-root", Role.FINANCE, next_url="/console/") == "/finance/"


def test_a_deep_link_wins_over_the_role_home():
    assert sign_in("fin-deep", Role.FINANCE, next_url="/console/?view=all") == "/console/?view=all"
