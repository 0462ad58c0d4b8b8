from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.idempotency import idempotency_records_purge
from api.models import IdempotencyRecord
from api.tasks import purge_idempotency_keys
from refunds.models import ApiKey
from tests.refunds.factories import api_key

pytestmark = pytest.mark.django_db


def test_idempotency_keys_are_kept_for_the_ttl_then_purged(settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 48
    api_key("merchant")
    key = ApiKey.objects.get()
    old = IdempotencyRecord.objects.create(api_key=key, key="old", fingerprint="x", response_status=202)
    fresh = IdempotencyRecord.objects.create(api_key=key, key="fresh", fingerprint="x", response_status=202)
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=49))
    IdempotencyRecord.objects.filter(pk=fresh.pk).update(created_at=timezone.now() - timedelta(hours=47))

    assert purge_idempotency_keys() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]


def expired_records(count: int, *, hours_old: int = 49) -> None:
    api_key("merchant")
    key = ApiKey.objects.get()
    IdempotencyRecord.objects.bulk_create(
        IdempotencyRecord(api_key=key, key=f"k{n}", fingerprint="x", response_status=202) for n in range(count)
    )
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=hours_old))


def test_the_purge_deletes_in_batches_oldest_first_and_keeps_what_is_within_the_ttl(settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 48
    expired_records(7)
    key = ApiKey.objects.get()
    IdempotencyRecord.objects.create(api_key=key, key="fresh", fingerprint="x", response_status=202)
    with CaptureQueriesContext(connection) as queries:
        assert idempotency_records_purge(batch_size=3) == 7
    deletes = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("DELETE")]
    assert len(deletes) == 3  # 3 + 3 + 1: each batch one statement, in a transaction of its own
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]


def test_one_purge_run_stops_after_max_batches_and_the_next_carries_on(settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 48
    expired_records(5)
    assert idempotency_records_purge(batch_size=2, max_batches=2) == 4
    assert idempotency_records_purge(batch_size=2, max_batches=2) == 1
    assert not IdempotencyRecord.objects.exists()
