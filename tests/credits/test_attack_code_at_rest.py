"""Attack: read a spendable store credit code out of a copy of the database.

credits/codes.py promises "The database never holds a spendable code in
clear … A copy of the database alone gives neither." An insider with a
read replica, a backup or an analytics export then has nothing to spend at
the merchant's checkout. Every table is searched for the code as text.
"""

from __future__ import annotations

import pytest
from django.db import connection

from tests.credits.factories import issued_credit

pytestmark = pytest.mark.django_db


def tables_holding(text: str) -> list[str]:
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT count(*) FROM {quoted} AS t WHERE t::text LIKE %s", [f"%{text}%"])
            if cursor.fetchone()[0]:
                found.append(table)
    return found


def test_no_table_holds_an_issued_credit_code_in_clear():
    credit = issued_credit(amount_minor=5000)
    code = credit.code

    # Its last group alone is kept for staff; the whole code (or its 12 symbols) must be nowhere.
    assert tables_holding(code) == []
    assert tables_holding(code.replace("-", "")[2:]) == []
