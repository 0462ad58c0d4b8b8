from datetime import timedelta

import pytest
from django.utils import timezone

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
