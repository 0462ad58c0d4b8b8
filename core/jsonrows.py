"""Model instances from rows PostgreSQL hands over as JSON (`to_jsonb(row)`).

So one statement can carry a row with its related rows (joined ones, and
lists of children aggregated with `jsonb_agg`) where the ORM would send one
query per relation, or compile a large query on every request. The SQL is a
fixed string the caller writes once; each value is converted back to what
the ORM would have loaded (timestamps to aware datetimes in UTC, dates to
dates, JSON columns as decoded JSON), and the instance is built with
`Model.from_db`, as a queryset builds it.

Only fields whose JSON form converts back exactly are supported; `supported`
says whether a model has only such fields, and callers fall back to the ORM
when it has not (a new column of another type never gets a wrong value).
PostgreSQL only: callers use the ORM on other databases (the demo's SQLite).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, TypeVar

from django.db import models
from django.db.models.base import DEFERRED

M = TypeVar("M", bound=models.Model)

# Internal types whose JSON value is already what the ORM loads: numbers stay integers, text stays text.
_AS_IS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "BooleanField",
        "CharField",
        "TextField",
        "EmailField",
        "SlugField",
        "URLField",
    }
)


def _datetime(value: str | None) -> datetime | None:
    # PostgreSQL writes timestamptz in ISO 8601 with its offset ("2026-12-03T09:18:40.671418+00:00");
    # the ORM hands out the same instant in UTC.
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _as_is(value: Any) -> Any:
    return value


def _converter(field: models.Field) -> Callable[[Any], Any] | None:
    """How to turn `field`'s JSON value into the ORM's value; None when it cannot be done exactly."""
    if field.is_relation:
        return _converter(field.target_field)
    kind = field.get_internal_type()
    if kind == "DateTimeField":
        return _datetime
    if kind == "DateField":
        return _date
    if kind == "JSONField":
        # A custom decoder would read the stored text differently from plain JSON.
        return _as_is if getattr(field, "decoder", None) is None else None
    return _as_is if kind in _AS_IS else None


@cache
def _columns(model: type[models.Model]) -> tuple[tuple[str, str, Callable[[Any], Any] | None], ...]:
    """(attname, column, converter) of each concrete field, in the order `Model.from_db` takes values."""
    return tuple((f.attname, f.column, _converter(f)) for f in model._meta.concrete_fields)


def supported(*model_classes: type[models.Model]) -> bool:
    """True if every concrete field of these models converts back from JSON exactly."""
    return all(convert is not None for model in model_classes for _, _, convert in _columns(model))


def instance_from_json(model: type[M], row: dict[str, Any], *, using: str) -> M:
    """`row` (`to_jsonb` of a row of `model`'s table, keyed by column) as a loaded instance.

    Columns absent from `row` are deferred (read on first access, as with
    `.only()`); columns the model does not know are ignored.
    """
    columns = _columns(model)
    values = [convert(row[column]) if column in row else DEFERRED for _, column, convert in columns]  # type: ignore[misc]
    return model.from_db(using, [attname for attname, _, _ in columns], values)


def quoted(name: str) -> str:
    """An identifier as PostgreSQL reads it, whatever it holds."""
    return '"' + name.replace('"', '""') + '"'


def table(model: type[models.Model]) -> str:
    return quoted(model._meta.db_table)


def column(model: type[models.Model], field_name: str) -> str:
    """The quoted column of `field_name` ("pk" for the primary key)."""
    field = model._meta.pk if field_name == "pk" else model._meta.get_field(field_name)
    return quoted(field.column)


def instances_from_json(model: type[M], rows: Iterable[dict[str, Any]], *, using: str) -> list[M]:
    return [instance_from_json(model, row, using=using) for row in rows]
