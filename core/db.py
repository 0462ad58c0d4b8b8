"""Database expressions that mean the same on PostgreSQL and on the embedded demo's SQLite."""

from typing import Any

from django.db import models


class JsonTypeOf(models.Func):
    """The JSON type of a value ('object', 'array', …): `jsonb_typeof` on PostgreSQL, `json_type` on SQLite.

    For CHECK constraints on JSON columns: both name an object 'object'.
    """

    function = "jsonb_typeof"
    output_field = models.CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return super().as_sql(compiler, connection, function="json_type", **extra_context)
