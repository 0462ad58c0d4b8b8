"""`core.jsonrows`: instances from `to_jsonb` rows, exactly as the ORM loads them, or not at all."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, models
from django.test.utils import isolate_apps

from core import jsonrows
from ledger.models import JournalEntry


@isolate_apps("core")
def test_only_fields_that_json_carries_exactly_are_supported():
    class Plain(models.Model):
        name = models.CharField(max_length=10)
        at = models.DateTimeField()
        on = models.DateField()
        data = models.JSONField(default=dict)
        count = models.BigIntegerField()

        class Meta:
            app_label = "core"

    class Money(models.Model):
        amount = models.DecimalField(max_digits=10, decimal_places=2)

        class Meta:
            app_label = "core"

    class Ident(models.Model):
        uuid = models.UUIDField()

        class Meta:
            app_label = "core"

    class Decoded(models.Model):
        data = models.JSONField(decoder=json.JSONDecoder)

        class Meta:
            app_label = "core"

    assert jsonrows.supported(Plain)
    assert not jsonrows.supported(Plain, Money)
    assert not jsonrows.supported(Ident)
    assert not jsonrows.supported(Decoded)


def test_times_are_the_same_instant_in_utc_whatever_the_offset_and_precision():
    row = {
        "id": 1,
        "entry_type": "REFUND_PENDING",
        "refund_id": 2,
        "currency": "EUR",
        "amount_minor": 10,
        "memo": "",
        "created_at": "2026-12-03T10:16:10.28+01:00",
        "event_on": "2026-12-03",
        "booked_on": "2026-12-31",
    }
    entry = jsonrows.instance_from_json(JournalEntry, row, using="default")
    assert entry.created_at == datetime(2026, 12, 3, 9, 16, 10, 280000, tzinfo=UTC)
    assert entry.created_at.tzinfo is UTC
    assert (entry.event_on, entry.booked_on) == (date(2026, 12, 3), date(2026, 12, 31))
    assert not entry._state.adding and entry._state.db == "default"


def test_columns_not_in_the_row_are_deferred():
    user = jsonrows.instance_from_json(get_user_model(), {"id": 7, "username": "senior"}, using="default")
    assert (user.pk, user.get_username()) == (7, "senior")
    assert "email" in user.get_deferred_fields() and "password" in user.get_deferred_fields()


@pytest.mark.django_db
def test_what_postgresql_writes_reads_back_as_the_orm_reads_it():
    user = get_user_model().objects.create(username="zoë", email="z@example.com", first_name="Zoë")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT to_jsonb(u)::text FROM {jsonrows.table(type(user))} u WHERE u.id = %s", [user.pk])
        row = json.loads(cursor.fetchone()[0])
    ours = jsonrows.instance_from_json(type(user), row, using="default")
    orm = type(user).objects.get(pk=user.pk)
    assert {f.attname: getattr(ours, f.attname) for f in orm._meta.concrete_fields} == {
        f.attname: getattr(orm, f.attname) for f in orm._meta.concrete_fields
    }
    assert jsonrows.quoted('we"ird') == '"we""ird"'
