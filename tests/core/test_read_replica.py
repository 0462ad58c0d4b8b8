"""DATABASE_REPLICA_URL: screens and reports read the replica; writes, locks and decisions never do.

The replica here is the test database itself, reached by sessions opened with
`default_transaction_read_only=on` (tests/support/databases.py): every read
answers as on a hot standby, and anything that writes or locks through it
fails ("cannot execute … in a read-only transaction"). So a screen that
renders 200 while its queries are counted on `replica` reads there and
writes nowhere but `default`; a path that locked on the replica would fail.

Lag is simulated by holding a REPEATABLE READ snapshot open on the test
thread's replica connection: what the primary commits afterwards is not on
"the replica" yet.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.db import DatabaseError, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from core.databases import primary_pinned, read_alias
from core.middleware import ReadYourWritesMiddleware
from reconciliation.enums import RunSource
from reconciliation.services import reconciliation_run
from refunds.enums import Reason, RefundState, Role
from refunds.models import Customer, Merchant, Refund, WebhookEvent
from tests.reconciliation.factories import provider_report, provider_row, refund_settled, today
from tests.refunds.factories import UserFactory, agent, api_key, captured_order, make_refund, requester
from tests.support.databases import read_only_replica

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def replica(transactional_db):
    with read_only_replica():
        yield


def staff(role: str, username: str) -> Client:
    client = Client()
    client.force_login(UserFactory(username=username, role=role))
    return client


@contextmanager
def queries_on(alias: str):
    with CaptureQueriesContext(connections[alias]) as captured:
        yield captured


def tables(captured: CaptureQueriesContext) -> str:
    return " ".join(query["sql"] for query in captured.captured_queries)


@contextmanager
def replica_behind():
    """What the primary commits inside the block is not on the replica (its snapshot is older)."""
    with transaction.atomic(using="replica"):
        with connections["replica"].cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SELECT count(*) FROM refunds_refund")  # the snapshot is taken here
        yield


# --- the replica of these tests is one -------------------------------------------------------------


def test_the_test_replica_refuses_writes(replica):
    with pytest.raises(DatabaseError, match="read-only transaction"), transaction.atomic(using="replica"):
        Merchant.objects.using("replica").create(slug="never", name="Never")
    assert not Merchant.objects.filter(slug="never").exists()


# --- where reads go ----------------------------------------------------------------------------------


def test_without_a_replica_everything_reads_the_primary(transactional_db):
    assert read_alias() == "default"


def test_with_a_replica_screens_read_it_but_never_inside_a_transaction_or_after_ones_own_write(replica):
    assert read_alias() == "replica"
    with transaction.atomic():
        assert read_alias() == "default"  # a read in a transaction may decide something
    with primary_pinned():
        assert read_alias() == "default"
    assert read_alias() == "replica"


def test_an_instance_read_on_the_replica_is_written_to_the_primary(replica):
    refund = make_refund(order=captured_order(), amount_minor=1000, reason=Reason.GOODWILL, actor=requester())
    on_replica = Refund.objects.using("replica").get(pk=refund.pk)
    customer = on_replica.order.customer
    assert on_replica._state.db == customer._state.db == "replica"  # related objects come from where it was read

    customer.name = "Read on the replica, saved on the primary"
    customer.save(update_fields=["name"])

    assert customer._state.db == "default"
    assert Customer.objects.get(pk=customer.pk).name == "Read on the replica, saved on the primary"


# --- the screens -------------------------------------------------------------------------------------


def test_the_review_queue_reads_the_replica_and_shows_what_it_has(replica):
    waiting = make_refund(order=captured_order(amount_minor=100000), amount_minor=5000, reason=Reason.GOODWILL)
    agent = staff(Role.AGENT, "agent")

    with queries_on("replica") as on_replica:
        response = agent.get("/console/")

    assert response.status_code == 200
    assert waiting.public_id in response.content.decode()
    assert "refunds_refund" in tables(on_replica)


def test_finance_screens_and_exports_read_the_replica(replica):
    finance = staff(Role.FINANCE, "fiona")
    settled = refund_settled()
    run = reconciliation_run(
        day=today(),
        provider="stripe",
        source=RunSource.FILE,
        file=provider_report([provider_row(settled)]),
        actor=agent("fiona-runs", Role.FINANCE),
    )
    WebhookEvent.objects.create(
        provider="stripe", event_id="evt_held", event_type="charge.refunded", status="held", payload={}
    )
    pages = [
        "/finance/",
        f"/finance/runs/{run.pk}/",
        "/finance/webhooks/",
        f"/finance/runs/{run.pk}/export.csv",
        f"/finance/export.csv?day_from={today()}&day_to={today()}",
        f"/finance/ledger/export.csv?day_from={today()}&day_to={today()}",
    ]
    for page in pages:
        with queries_on("replica") as on_replica:
            response = finance.get(page)
            body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == 200, (page, body[:300])
        assert on_replica.captured_queries, f"{page} read nothing on the replica"
    assert settled.public_id.encode() in body  # the ledger export, read on the replica, has the settled refund


def test_the_status_page_reads_the_replica(replica):
    refund = make_refund(order=captured_order(), amount_minor=1000, reason=Reason.GOODWILL, actor=requester())

    with queries_on("replica") as on_replica, queries_on("default") as on_primary:
        response = Client().get(f"/r/{refund.status_token}/")

    assert response.status_code == 200
    assert "refunds_refund" in tables(on_replica)
    assert "refunds_refund" not in tables(on_primary)


# --- lag -----------------------------------------------------------------------------------------------


def test_a_status_link_to_a_refund_not_yet_on_the_replica_is_found_on_the_primary(replica):
    with replica_behind():
        refund = make_refund(order=captured_order(), amount_minor=1000, reason=Reason.GOODWILL, actor=requester())
        assert not Refund.objects.using("replica").filter(pk=refund.pk).exists()

        response = Client().get(f"/r/{refund.status_token}/")

    assert response.status_code == 200
    assert refund.public_id in response.content.decode()


def test_a_run_just_asked_for_opens_although_the_replica_lacks_it(replica):
    finance = staff(Role.FINANCE, "fiona")
    with replica_behind():
        response = finance.post(
            "/finance/runs/new/", {"day": today().isoformat(), "provider": "stripe", "source": RunSource.API}
        )
        assert response.status_code == 302, response.content[:500]
        # A colleague opening the link has no pin from that write: the run is found by the fallback.
        colleague = staff(Role.FINANCE, "fred")
        assert colleague.get(response["Location"]).status_code == 200


def test_the_queue_lags_behind_a_new_refund_but_not_after_ones_own_write(replica):
    agent = staff(Role.AGENT, "agent")
    approved_here = make_refund(order=captured_order(amount_minor=100000), amount_minor=5000, reason=Reason.GOODWILL)
    with replica_behind():
        newer = make_refund(order=captured_order(amount_minor=100000), amount_minor=5000, reason=Reason.GOODWILL)
        # Accepted lag: the queue refreshes itself, and nobody decides from the list.
        assert newer.public_id not in agent.get("/console/").content.decode()

        # One's own write pins one's next pages to the primary: the decision just taken shows.
        version = Refund.objects.values_list("version", flat=True).get(pk=approved_here.pk)
        response = agent.post(f"/console/refunds/{approved_here.public_id}/approve/", {"version": version})
        assert response.status_code == 302
        assert ReadYourWritesMiddleware.COOKIE in response.cookies
        with queries_on("replica") as on_replica:
            page = agent.get("/console/?view=all").content.decode()
        assert newer.public_id in page
        assert "refunds_refund" not in tables(on_replica)


# --- writes, locks and the API never read the replica -----------------------------------------------------


def test_creating_deciding_and_reading_through_the_api_never_touch_the_replica(replica):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key('merchant')}")
    order = captured_order(amount_minor=10000)
    reviewed = make_refund(order=captured_order(amount_minor=100000), amount_minor=5000, reason=Reason.GOODWILL)
    agent = staff(Role.AGENT, "agent")

    with queries_on("replica") as on_replica:
        created = api.post(
            f"/v1/orders/{order.order_id}/refunds",
            {"amount_minor": 1000, "currency": "USD", "reason": "other"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="replica-1",
        )
        assert created.status_code == 202, created.content
        # Read-your-writes: the API reads the primary, so the refund just created is there at once.
        assert api.get(f"/v1/refunds/{created.json()['refund_id']}").status_code == 200
        version = Refund.objects.values_list("version", flat=True).get(pk=reviewed.pk)
        assert agent.post(f"/console/refunds/{reviewed.public_id}/approve/", {"version": version}).status_code == 302

    assert on_replica.captured_queries == []
    assert Refund.objects.get(public_id=created.json()["refund_id"]).state == RefundState.APPROVED
    assert Refund.objects.get(pk=reviewed.pk).state == RefundState.APPROVED
