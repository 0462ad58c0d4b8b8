"""Template filters for staff pages: `{{ amount_minor|money:currency }}` and `{{ moment|when }}`.

Both delegate to console.presenters.formatting, the one place that decides
how staff see money and time.
"""

from __future__ import annotations

from datetime import date, datetime

from django import template

from console.presenters import formatting

register = template.Library()


@register.filter
def money(amount_minor: int | None, currency: str) -> str:
    return formatting.money(amount_minor, currency)


@register.filter
def when(moment: datetime | date | None) -> str:
    return formatting.when(moment)
