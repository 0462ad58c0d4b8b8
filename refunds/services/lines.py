"""Refunds by line (issue 15): which units of which order lines a refund takes back."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LineRequest:
    """One requested line: the order line's sku and how many of its units to refund."""

    sku: str
    quantity: int
