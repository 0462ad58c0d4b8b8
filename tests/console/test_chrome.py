"""One staff chrome (templates/console/base.html): the same top bar, navigation and stylesheet on every staff page.

The navigation shows what the signed-in user may use, by the permissions the
views check; the area (agents or finance) only changes the accent.
"""

import re

import pytest

from refunds.enums import Role

pytestmark = pytest.mark.django_db


def nav_links(html: str) -> list[str]:
    """The texts of the top navigation's links, in order."""
    nav = re.search(r'<nav class="topnav" aria-label="Console">(.*?)</nav>', html, re.S).group(1)
    return re.findall(r"<a [^>]*>([^<]+)</a>", nav)


def current(html: str) -> list[str]:
    nav = re.search(r'<nav class="topnav" aria-label="Console">(.*?)</nav>', html, re.S).group(1)
    return re.findall(r'<a [^>]*aria-current="page"[^>]*>([^<]+)</a>', nav)


@pytest.mark.parametrize(
    ("role", "links"),
    [
        (Role.AGENT, ["Review queue", "Overrides", "New refund"]),
        (Role.SENIOR_AGENT, ["Review queue", "Overrides", "New refund"]),
        (Role.FINANCE, ["Review queue", "Overrides", "Reconciliation", "Webhook inbox", "Periods", "Corrections"]),
        (Role.RISK, ["Review queue", "Overrides", "Kill switches"]),
        (
            Role.ADMIN,
            [
                "Review queue",
                "Overrides",
                "New refund",
                "Reconciliation",
                "Webhook inbox",
                "Periods",
                "Corrections",
                "Merchant webhooks",
                "Kill switches",
            ],
        ),
        (Role.ACCESS_ADMIN, ["Merchant webhooks"]),
    ],
)
def test_navigation_shows_what_the_role_may_use(login, role, links):
    html = login(f"user-{role}", role).get("/console/").content.decode()

    assert nav_links(html) == links


def test_staff_users_also_get_the_admin_link(login):
    client = login("root", Role.ADMIN)
    client.user.is_staff = True
    client.user.save()

    assert nav_links(client.get("/console/").content.decode())[-1] == "Admin"


@pytest.mark.parametrize(
    ("role", "admin"), [(Role.AGENT, False), (Role.SENIOR_AGENT, False), (Role.FINANCE, True), (Role.RISK, True)]
)
def test_the_admin_link_is_shown_only_to_roles_with_work_in_the_admin(login, role, admin):
    """Staff status alone (every demo user has it) no longer shows agents an Admin they have nothing to do in."""
    client = login(f"staff-{role}", role)
    client.user.is_staff = True
    client.user.save()

    assert ("Admin" in nav_links(client.get("/console/").content.decode())) is admin


def test_finance_pages_wear_the_same_chrome_with_the_finance_accent(login):
    client = login("fiona", Role.FINANCE)

    queue = client.get("/console/").content.decode()
    runs = client.get("/finance/").content.decode()

    for html in (queue, runs):
        assert html.count('rel="stylesheet"') == 1 and "/console/console." in html and "finance.css" not in html
        assert '<a class="skip-link" href="#main">' in html and '<main id="main" tabindex="-1">' in html
        assert '<span class="who-name">fiona' in html and "Finance</span>" in html
        assert ">Sign out</button>" in html
        assert nav_links(html) == [
            "Review queue",
            "Overrides",
            "Reconciliation",
            "Webhook inbox",
            "Periods",
            "Corrections",
        ]
    assert '<body class="area-agents"' in queue and current(queue) == ["Review queue"]
    assert '<body class="area-finance"' in runs and current(runs) == ["Reconciliation"]


def test_finance_messages_use_the_shared_messages_region(login):
    client = login("fiona", Role.FINANCE)

    html = client.post("/finance/trial-balance/", follow=True).content.decode()

    assert '<div id="messages" class="messages" tabindex="-1" data-focus-after-swap>' in html
    assert 'role="status">Trial balance checked: every currency sums to zero.</p>' in html


def test_an_agent_refused_the_finance_screens_gets_the_shared_forbidden_page(login):
    response = login("agent", Role.AGENT).get("/finance/")
    html = response.content.decode()

    assert response.status_code == 403
    assert '<body class="area-finance"' in html and "<h1>Not allowed</h1>" in html
    assert "Reconciliation and its exports are for the finance role." in html
    assert '<a href="/console/">Back to the review queue</a>' in html
    assert "Reconciliation" not in nav_links(html)


def test_a_user_without_a_role_is_not_offered_pages_they_cannot_open(login):
    html = login("visitor", role=None).get("/finance/").content.decode()

    assert nav_links(html) == [] and "no role" in html
    assert "Back to the review queue" not in html


def test_the_login_page_has_the_chrome_without_navigation(client):
    html = client.get("/console/login/").content.decode()

    assert '<body class="area-agents"' in html and 'class="topnav"' not in html
    assert "Sign out" not in html
