"""The provider side from its list API, against the real simulator process: every page of the day is read.

The provider is the subject here (how the run asks for a day and walks its
pages), so the run talks the Stripe wire protocol to a simulator of its own.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from providers.registry import get_provider
from reconciliation.enums import ItemKind, RunSource
from reconciliation.models import ReconciliationItem
from reconciliation.services import reconciliation_run
from tests.reconciliation.factories import refund_settled, today
from tests.support.live import own_simulator, point_provider_at

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
K = ItemKind
PAGE = 100  # what the run asks for per page (Stripe's maximum)


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    """A simulator of our own: its list holds exactly the refunds of this module."""
    with own_simulator(tmp_path_factory.mktemp("sim-recon")) as sim:
        yield sim


@pytest.fixture
def provider(settings, simulator):
    point_provider_at(settings, simulator, timeout=5.0)
    return get_provider()


def at_provider(provider, amount_minor: int) -> str:
    outcome = provider.execute_refund(
        payment_id=f"pi_sim_ok_{uuid.uuid4().hex[:16]}",
        amount_minor=amount_minor,
        currency="USD",
        idempotency_key=uuid.uuid4().hex,
        metadata={},
    )
    return outcome.provider_refund_id


def test_api_run_reads_every_page_of_the_day_with_the_created_range(provider, system_actor, monkeypatch):
    if (timezone.now() + timedelta(minutes=2)).date() != timezone.now().date():
        pytest.skip("too close to midnight: the refunds below must be created on the run's day")
    ours = at_provider(provider, 1500)
    short = at_provider(provider, 3100)  # we asked for 30.00 and recorded its id; the provider refunded 31.00
    strangers = [at_provider(provider, 100 + n) for n in range(PAGE + 3)]  # more than one page on their own
    matched = refund_settled(amount_minor=1500, provider_refund_id=ours)
    mismatched = refund_settled(amount_minor=3000, provider_refund_id=short)
    asked: list[dict[str, str]] = []
    send = provider.session.request

    def spy(method, url, **kwargs):
        if method == "GET" and urlsplit(url).path == "/v1/refunds":
            asked.append({key: str(value) for key, value in (kwargs.get("params") or {}).items()})
        return send(method, url, **kwargs)

    monkeypatch.setattr(provider.session, "request", spy)

    run = reconciliation_run(day=today(), provider="stripe", source=RunSource.API, actor=system_actor)

    listed = PAGE + 5
    assert run.provider_rows == listed and run.item_count == listed
    kinds = dict(ReconciliationItem.objects.filter(run=run).values_list("provider_refund_id", "kind"))
    assert kinds == {ours: K.MATCHED, short: K.AMOUNT_MISMATCH, **dict.fromkeys(strangers, K.MISSING_IN_LEDGER)}
    assert ReconciliationItem.objects.get(run=run, refund=matched).kind == K.MATCHED
    assert ReconciliationItem.objects.get(run=run, refund=mismatched).difference_minor == 100
    # Two pages, the same created range on both (the day ± grace), the second after the first's last id.
    gte, lt = str(int(run.window_start.timestamp()) - 3600), str(int(run.window_end.timestamp()) + 3600)
    assert [(q["created[gte]"], q["created[lt]"], q["limit"]) for q in asked] == [(gte, lt, str(PAGE))] * 2
    assert "starting_after" not in asked[0] and asked[1]["starting_after"] in {*strangers, ours, short}
