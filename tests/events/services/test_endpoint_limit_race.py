"""The endpoint limit under concurrent creates: real threads on their own PostgreSQL connections."""

from __future__ import annotations

import pytest

from core.errors import ERR_VALIDATION, DomainError
from events.models import WebhookEndpoint
from events.services.endpoints import endpoint_create
from tests.events.conftest import PUBLIC_URL
from tests.refunds.services.test_concurrency import race

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_creates_never_pass_the_limit(acme, system_actor, settings):
    settings.WEBHOOK_MAX_ENDPOINTS_PER_MERCHANT = 3
    endpoint_create(merchant=acme, url=PUBLIC_URL, events=["refund.*"], actor=system_actor)

    results = race(
        *[
            lambda n=n: endpoint_create(merchant=acme, url=f"{PUBLIC_URL}/{n}", events=["refund.*"], actor=system_actor)
            for n in range(6)
        ]
    )

    created = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(created) == 2 and len(refused) == 4, results
    assert {r.code for r in refused} == {ERR_VALIDATION}
    assert WebhookEndpoint.objects.filter(merchant=acme, deleted_at__isnull=True).count() == 3
