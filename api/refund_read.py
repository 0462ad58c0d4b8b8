"""A refund with everything its answer shows, in one statement (`GET /v1/refunds/{id}` and every refund answer).

`refunds.selectors.refund_get` joins the order, payment, policy and store
credit and prefetches the ledger entries, decisions (with their deciders) and
lines (with their order lines): four queries, each compiled by the ORM on
every request. Here PostgreSQL builds the same rows as one JSON document —
the joined rows whole, the children aggregated in their models' order — and
the instances are rebuilt from it (`core.jsonrows`) with the same caches the
ORM would fill, so the serializers render them unchanged: the answer is the
same bytes. Elsewhere (the demo's SQLite), and should a model get a column
JSON cannot carry exactly, it is `refund_get` itself.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, models, router

from core import jsonrows
from core.errors import ERR_NOT_FOUND, DomainError
from credits.models import StoreCredit
from ledger.models import JournalEntry
from refunds.models import Decision, Merchant, Order, OrderLine, Payment, Refund, RefundLine
from refunds.selectors import refund_get

RefundPolicy = Refund._meta.get_field("policy_version").related_model


def refund_read(*, public_id: str, merchant: Merchant) -> Refund:
    """`refund_get(public_id=…, merchant=…)`: the same refund, loaded the same way, in one statement.

    Another merchant's refund is not found (ERR_NOT_FOUND), like no refund at all.
    """
    alias = router.db_for_read(Refund)
    if connections[alias].vendor != "postgresql" or not _supported():
        return refund_get(public_id=public_id, merchant=merchant)
    with connections[alias].cursor() as cursor:
        cursor.execute(_refund_sql(), [public_id, merchant.pk])
        row = cursor.fetchone()
    if row is None:
        raise DomainError(ERR_NOT_FOUND)
    return _refund_from(json.loads(row[0]), using=alias)


def _refund_from(document: dict[str, Any], *, using: str) -> Refund:
    def load(model: type[models.Model], row: dict[str, Any] | None) -> Any:
        return None if row is None else jsonrows.instance_from_json(model, row, using=using)

    refund = load(Refund, document["refund"])
    # As select_related sets them: the forward relations on the refund, the store credit both ways.
    Refund.order.field.set_cached_value(refund, load(Order, document["order"]))
    Refund.payment.field.set_cached_value(refund, load(Payment, document["payment"]))
    Refund.policy_version.field.set_cached_value(refund, load(RefundPolicy, document["policy_version"]))
    credit = load(StoreCredit, document["store_credit"])
    Refund.store_credit.related.set_cached_value(refund, credit)
    if credit is not None:
        StoreCredit.refund.field.set_cached_value(credit, refund)

    entries = [load(JournalEntry, row) for row in document["ledger_entries"]]
    decisions = []
    for item in document["decisions"]:
        decision = load(Decision, item["row"])
        Decision.actor.field.set_cached_value(decision, load(get_user_model(), item["actor"]))
        decisions.append(decision)
    lines = []
    for item in document["lines"]:
        line = load(RefundLine, item["row"])
        RefundLine.order_line.field.set_cached_value(line, load(OrderLine, item["order_line"]))
        lines.append(line)
    refund._prefetched_objects_cache = {}
    for name, children in (("ledger_entries", entries), ("decisions", decisions), ("lines", lines)):
        _prefetched(refund, name, children)
    return refund


def _prefetched(refund: Refund, name: str, children: list[models.Model]) -> None:
    """What `prefetch_related(name)` leaves: a done queryset in the refund's cache, each child knowing its refund."""
    manager = getattr(refund, name)
    queryset = manager.get_queryset()
    for child in children:
        manager.field.set_cached_value(child, refund)
    queryset._result_cache = children
    queryset._prefetch_done = True
    refund._prefetched_objects_cache[manager.field.remote_field.cache_name] = queryset


@cache
def _supported() -> bool:
    return jsonrows.supported(
        Refund, Order, Payment, RefundPolicy, StoreCredit, JournalEntry, Decision, RefundLine, OrderLine
    ) and jsonrows.supported(get_user_model())


@cache
def _refund_sql() -> str:
    """refund_get's query and its three prefetches, each child list in its model's order (Meta.ordering)."""
    user, col, table = get_user_model(), jsonrows.column, jsonrows.table
    username = col(user, user.USERNAME_FIELD)
    return f"""
        SELECT jsonb_build_object(
            'refund', to_jsonb(r),
            'order', to_jsonb(o),
            'payment', to_jsonb(p),
            'policy_version', to_jsonb(v),
            'store_credit', to_jsonb(c),
            'ledger_entries', COALESCE((
                SELECT jsonb_agg(to_jsonb(e) ORDER BY e.{col(JournalEntry, "created_at")}, e.{col(JournalEntry, "pk")})
                FROM {table(JournalEntry)} e
                WHERE e.{col(JournalEntry, "refund")} = r.{col(Refund, "pk")}
            ), '[]'::jsonb),
            'decisions', COALESCE((
                SELECT jsonb_agg(
                    jsonb_build_object(
                        'row', to_jsonb(d),
                        -- The name of the decider only (ApprovalOutput.by), not the whole row of the user.
                        'actor', CASE WHEN u.{col(user, "pk")} IS NULL THEN NULL
                                 ELSE jsonb_build_object('{user._meta.pk.column}', u.{col(user, "pk")},
                                                         '{user._meta.get_field(user.USERNAME_FIELD).column}',
                                                         u.{username}) END
                    )
                    ORDER BY d.{col(Decision, "created_at")}, d.{col(Decision, "pk")}
                )
                FROM {table(Decision)} d
                LEFT JOIN {table(user)} u ON u.{col(user, "pk")} = d.{col(Decision, "actor")}
                WHERE d.{col(Decision, "refund")} = r.{col(Refund, "pk")}
            ), '[]'::jsonb),
            'lines', COALESCE((
                SELECT jsonb_agg(
                    jsonb_build_object('row', to_jsonb(l), 'order_line', to_jsonb(ol))
                    ORDER BY ol.{col(OrderLine, "line_no")}, l.{col(RefundLine, "pk")}
                )
                FROM {table(RefundLine)} l
                JOIN {table(OrderLine)} ol ON ol.{col(OrderLine, "pk")} = l.{col(RefundLine, "order_line")}
                WHERE l.{col(RefundLine, "refund")} = r.{col(Refund, "pk")}
            ), '[]'::jsonb)
        )::text
        FROM {table(Refund)} r
        JOIN {table(Order)} o ON o.{col(Order, "pk")} = r.{col(Refund, "order")}
        JOIN {table(Payment)} p ON p.{col(Payment, "pk")} = r.{col(Refund, "payment")}
        JOIN {table(RefundPolicy)} v ON v.{col(RefundPolicy, "pk")} = r.{col(Refund, "policy_version")}
        LEFT JOIN {table(StoreCredit)} c ON c.{col(StoreCredit, "refund")} = r.{col(Refund, "pk")}
        WHERE r.{col(Refund, "public_id")} = %s AND o.{col(Order, "merchant")} = %s
        ORDER BY r.{col(Refund, "pk")}
        LIMIT 1
    """  # noqa: S608 - names come from model metadata, values are parameters
