"""Refunds for time not used (issue 15): the unused days of a service, after the cancellation fee.

For an order with `service_starts_at` and `service_ends_at` (exclusive),
when the policy in force has `proration_enabled`:

* total days: the calendar days the service touches, [start, end), in the
  business time zone (`ledger.calendar`, the books' calendar): a service from
  the 1st 15:00 to the 4th 11:00 is 4 days, to the 4th 00:00 is 3;
* used days: a day counts as used once it has begun — none before the
  start, the start day as soon as the service started, then one more each
  midnight; unused = total − used, never below 0;
* base = ⌊price × unused / total⌋, the price being the payment's amount;
* the cancellation fee tier in force (`refunds.services.policy.fee_tier`,
  for the fee schedule's reasons; 100 % for the others, which are the
  merchant's side) gives the percent of the base refunded. Before the start
  every day is unused, so the schedule applies to the whole price as it does
  for a booking refunded by amount;
* minus what the payment's active refunds already hold.

Nothing left is ERR_NOTHING_UNUSED. The policy that computed the amount
counts it within its terms (`policy_evaluate(prorated=…)`); its other rules
(evidence, velocity, ceilings, dual control) still apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from babel import Locale
from django.utils.translation import gettext, override

from core.errors import ERR_INSTRUMENT_NOT_ALLOWED, ERR_NOTHING_UNUSED, ERR_VALIDATION, DomainError
from core.i18n import format_amount
from ledger.calendar import business_date
from refunds.models import Payment, RefundPolicy
from refunds.services.policy import fee_tier


@dataclass(frozen=True)
class Proration:
    """The arithmetic of a refund for time not used, as stored in `Refund.proration`."""

    currency: str
    price_minor: int
    total_days: int
    unused_days: int
    base_minor: int
    fee_percent: int
    entitled_minor: int  # the base after the fee
    earlier_minor: int  # what the payment's active refunds already hold
    amount_minor: int

    def as_json(self) -> dict[str, Any]:
        return {
            "text": proration_text_en(self.as_numbers()),
            **self.as_numbers(),
        }

    def as_numbers(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "price_minor": self.price_minor,
            "total_days": self.total_days,
            "unused_days": self.unused_days,
            "base_minor": self.base_minor,
            "fee_percent": self.fee_percent,
            "entitled_minor": self.entitled_minor,
            "earlier_minor": self.earlier_minor,
            "amount_minor": self.amount_minor,
        }


def service_days(*, starts_at: datetime, ends_at: datetime, now: datetime) -> tuple[int, int]:
    """(total, unused) calendar days of the service [starts_at, ends_at) at `now` (see the module docstring)."""
    first = business_date(starts_at)
    # The end is exclusive: a service ending at midnight does not touch the day that begins then.
    last = business_date(ends_at - timedelta(microseconds=1))
    total = max((last - first).days + 1, 0)
    used = 0 if now < starts_at else min((business_date(now) - first).days + 1, total)
    return total, max(total - used, 0)


def proration_compute(*, payment: Payment, policy: RefundPolicy, reason: str, now: datetime) -> Proration:
    """The refund for the time not used of `payment`'s order at `now` (caller holds the payment lock).

    Raises ERR_INSTRUMENT_NOT_ALLOWED when the policy does not prorate,
    ERR_VALIDATION (field `prorate`) for an order without both service dates,
    and ERR_NOTHING_UNUSED when nothing is left to refund.
    """
    order = payment.order
    if not policy.proration_enabled:
        raise DomainError(
            ERR_INSTRUMENT_NOT_ALLOWED, "The policy in force does not refund time not used.", field="prorate"
        )
    starts_at, ends_at = order.service_starts_at, order.service_ends_at
    if starts_at is None or ends_at is None or ends_at <= starts_at:
        raise DomainError(
            ERR_VALIDATION, "Only a service with a start and a later end can be refunded by time.", field="prorate"
        )
    total, unused = service_days(starts_at=starts_at, ends_at=ends_at, now=now)
    price = payment.amount_minor
    base = price * unused // total
    percent = 100
    if reason in policy.fee_schedule_reasons and policy.cancellation_fee_schedule:
        percent = fee_tier(
            schedule=policy.cancellation_fee_schedule, starts_at=starts_at, captured_minor=base, now=now
        ).percent
    entitled = base * percent // 100
    earlier = payment.refund_reserved_minor
    proration = Proration(
        currency=payment.currency,
        price_minor=price,
        total_days=total,
        unused_days=unused,
        base_minor=base,
        fee_percent=percent,
        entitled_minor=entitled,
        earlier_minor=earlier,
        amount_minor=max(entitled - earlier, 0),
    )
    if proration.amount_minor == 0:
        raise DomainError(
            ERR_NOTHING_UNUSED,
            proration_text_en(proration.as_numbers()),
            total_days=total,
            unused_days=unused,
            fee_percent=percent,
        )
    return proration


def proration_text_en(numbers: dict[str, Any]) -> str:
    """The line as the API and the staff read it: English, whatever language the request runs in."""
    with override("en"):
        return proration_text(numbers, locale=Locale.parse("en"))


def proration_text(numbers: dict[str, Any], *, locale: Locale) -> str:
    """The arithmetic in one line, in the active language with `locale`'s amounts:
    "€300.00 × 12/30 days unused = €120.00, 90 % after the cancellation fee = €108.00"."""
    currency = numbers["currency"]

    def money(key: str) -> str:
        return format_amount(numbers[key], currency, locale)

    text = gettext("%(price)s × %(unused)s/%(total)s days unused = %(base)s") % {
        "price": money("price_minor"),
        "unused": numbers["unused_days"],
        "total": numbers["total_days"],
        "base": money("base_minor"),
    }
    if numbers["fee_percent"] != 100:
        text += gettext(", %(percent)s %% after the cancellation fee = %(entitled)s") % {
            "percent": numbers["fee_percent"],
            "entitled": money("entitled_minor"),
        }
    if numbers["earlier_minor"]:
        text += gettext(", less %(earlier)s refunded before = %(amount)s") % {
            "earlier": money("earlier_minor"),
            "amount": money("amount_minor"),
        }
    return text
