"""The policy admin's limits grid: the per-currency limits table as rows of cells risk types into.

Typed amounts are major units in each row's currency (`150.000` KWD,
`75000` JPY) and become exact minor units, or a clear error naming the
currency and the column; never a rounded limit.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string

from core.money import MAX_AMOUNT_MINOR, exponent, is_known_currency, is_typed_amount, major_to_minor, minor_to_major
from refunds.enums import Reason
from refunds.limits import DEFAULT_RATIOS, GOODWILL_DUAL_CONTROL, HIGH_VALUE, LIMIT_COLUMNS, OPTIONAL_COLUMNS


def _limit_cell_minor(text: str, currency: str) -> int:
    """One cell of the limits table, typed in major units (`"1,800.00"`), as minor units of `currency`.

    The shape every typed amount has (core.money.is_typed_amount): `1,50` is refused, never read as 150.
    """
    text = text.strip()
    if text.startswith("-") and is_typed_amount(text[1:]):
        raise ValidationError("cannot be negative", code="range")
    if not is_typed_amount(text):
        raise ValidationError("enter an amount such as 500.00, or leave it empty", code="invalid")
    amount = Decimal(text.replace(",", ""))
    try:
        minor = major_to_minor(amount, currency)
    except ValueError:
        places = exponent(currency)
        raise ValidationError(
            f"{currency} has {places} decimal place{'s' if places != 1 else ''}"
            + (" (whole amounts only)" if places == 0 else ""),
            code="precision",
        ) from None
    if minor > MAX_AMOUNT_MINOR:
        raise ValidationError("is larger than any amount the app accepts", code="range")
    return minor


def limit_column_label(column: str) -> str:
    if column == GOODWILL_DUAL_CONTROL:
        return "Goodwill dual control above"
    if column == HIGH_VALUE:
        return "High-value dual control above"
    return f"Auto-approve ceiling: {Reason(column).label}"


class LimitsTableWidget(forms.Widget):
    """The per-currency limits as a grid: one row per currency, one column per limit, plus empty rows to add.

    Posted as `<name>-rows` and `<name>-<row>-currency` / `<name>-<row>-<column>`;
    a row whose currency is cleared (and cells emptied) is removed.
    """

    template_name = "console/admin/limits_table.html"
    extra_rows = 2

    class Media:
        css = {"all": ["console/policy-admin.css"]}

    def __init__(self, attrs=None) -> None:
        super().__init__(attrs)
        self.invalid_cells: set[tuple[int, str]] = set()

    def value_from_datadict(self, data, files, name) -> list[dict[str, str]] | None:
        try:
            count = min(int(data.get(f"{name}-rows", "")), 200)
        except ValueError:
            return None
        return [
            {
                "currency": (data.get(f"{name}-{index}-currency") or "").strip(),
                **{column: (data.get(f"{name}-{index}-{column}") or "").strip() for column in LIMIT_COLUMNS},
            }
            for index in range(count)
        ]

    def value_omitted_from_data(self, data, files, name) -> bool:
        return f"{name}-rows" not in data

    @staticmethod
    def rows_from_table(table: dict) -> list[dict[str, str]]:
        rows = []
        for currency, limits in sorted(table.items(), key=lambda item: _currency_order(item[0])):
            row = {"currency": currency}
            for column in LIMIT_COLUMNS:
                value = limits.get(column)
                row[column] = "" if value is None else f"{minor_to_major(int(value), currency):f}"
            rows.append(row)
        return rows

    @classmethod
    def rows_from_table_as_lists(cls, table: dict) -> list[list[str]]:
        """The grid's rows as [currency, *cells] (what a person would type), for tests and fixtures."""
        return [[row["currency"], *(row[column] for column in LIMIT_COLUMNS)] for row in cls.rows_from_table(table)]

    def get_context(self, name, value, attrs) -> dict:
        context = super().get_context(name, value, attrs)
        if isinstance(value, dict):
            rows = self.rows_from_table(value)
        elif isinstance(value, list):
            rows = [dict(row) for row in value if any(row.values())]
        else:
            rows = []
        blank = {"currency": "", **dict.fromkeys(LIMIT_COLUMNS, "")}
        rows += [dict(blank) for _ in range(self.extra_rows)]
        context["table"] = {
            "name": name,
            "count": len(rows),
            "columns": [(column, limit_column_label(column)) for column in LIMIT_COLUMNS],
            "rows": [
                {
                    "index": index,
                    "currency": row["currency"],
                    "decimals": exponent(row["currency"]) if is_known_currency(row["currency"]) else None,
                    "currency_invalid": (index, "currency") in self.invalid_cells,
                    "cells": [
                        (column, row.get(column, ""), (index, column) in self.invalid_cells) for column in LIMIT_COLUMNS
                    ],
                }
                for index, row in enumerate(rows)
            ],
        }
        return context

    def render(self, name, value, attrs=None, renderer=None) -> str:
        # The project's template engine (templates/), not the form renderer's app-only search path.
        return render_to_string(self.template_name, self.get_context(name, value, attrs))


def _currency_order(currency: str) -> tuple[int, str]:
    defaults = list(DEFAULT_RATIOS)
    return (defaults.index(currency), "") if currency in defaults else (len(defaults), currency)


class LimitsTableField(forms.Field):
    """Cleans the grid into the policy's limits table (refunds.limits): {currency: {column: minor units}}.

    Every error names the row's currency and the column, and the cell is
    marked, so risk can fix a 40-cell table without guessing.
    """

    widget = LimitsTableWidget

    def to_python(self, value):
        if isinstance(value, dict):
            return value
        errors: list[ValidationError] = []
        invalid: set[tuple[int, str]] = set()
        table: dict[str, dict[str, int | None]] = {}
        for index, row in enumerate(value or []):
            code = row.get("currency", "").upper()
            cells = {column: row.get(column, "") for column in LIMIT_COLUMNS}
            if not code:
                if any(cells.values()):
                    invalid.add((index, "currency"))
                    errors.append(ValidationError(f"Row {index + 1}: enter its currency (ISO code such as EUR)."))
                continue
            if not is_known_currency(code):
                invalid.add((index, "currency"))
                errors.append(
                    ValidationError(f"Row {index + 1}: “{code}” is not an ISO 4217 currency code the app accepts.")
                )
                continue
            if code in table:
                invalid.add((index, "currency"))
                errors.append(ValidationError(f"{code} appears twice: keep one row per currency."))
                continue
            limits: dict[str, int | None] = {}
            for column, text in cells.items():
                if not text:
                    if column not in OPTIONAL_COLUMNS:
                        invalid.add((index, column))
                        errors.append(ValidationError(f"{code}, {limit_column_label(column)}: required."))
                    limits[column] = None
                    continue
                try:
                    limits[column] = _limit_cell_minor(text, code)
                except ValidationError as error:
                    invalid.add((index, column))
                    errors.append(ValidationError(f"{code}, {limit_column_label(column)}: {error.messages[0]}."))
            table[code] = limits
        self.widget.invalid_cells = invalid
        if errors:
            raise ValidationError(errors)
        if not table:
            raise ValidationError("Enter the limits of at least one currency.")
        return table
