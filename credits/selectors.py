"""Reading store credits: always through the merchant, so another merchant's code is simply not found."""

from __future__ import annotations

from django.db.models import QuerySet

from core.errors import ERR_NOT_FOUND, DomainError
from credits.codes import code_digest, code_normalize
from credits.models import StoreCredit


def credit_find(*, code: str, merchant_id: int, queryset: QuerySet[StoreCredit] | None = None) -> StoreCredit | None:
    """The merchant's credit with this code, or None (malformed, unknown and another merchant's alike)."""
    canonical = code_normalize(code)
    if canonical is None:
        return None
    queryset = StoreCredit.objects.all() if queryset is None else queryset
    return queryset.filter(code_digest=code_digest(canonical), merchant_id=merchant_id).first()


def credit_get(*, code: str, merchant_id: int) -> StoreCredit:
    credit = credit_find(code=code, merchant_id=merchant_id)
    if credit is None:
        raise DomainError(ERR_NOT_FOUND)
    return credit
