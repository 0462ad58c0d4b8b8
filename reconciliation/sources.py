"""Reading the provider side of a day: its list API, or a report file it gave us.

Both sources yield the provider's normalised `providers.base.ReportRow`, so
staging and classification never look at a provider's vocabulary; how a
listing or a report layout reads is the provider package's business
(`Provider.iter_refunds`, `Provider.report_rows`; docs/reconciliation.md
"Provider report CSV" lists the layouts).

Rows are generated one at a time: a report of a million rows is never held in
memory, it streams from the file into PostgreSQL's COPY.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from providers.base import Provider, ReportRow


def rows_from_api(provider: Provider, *, created_gte: int, created_lt: int) -> Iterator[ReportRow]:
    """Every refund the provider lists as created in [created_gte, created_lt)."""
    yield from provider.iter_refunds(created_gte=created_gte, created_lt=created_lt, page_size=100)


def rows_from_report(provider: Provider, stream: io.TextIOBase) -> Iterator[ReportRow]:
    """Every refund row of a report of the provider (a text stream, header first)."""
    yield from provider.report_rows(stream)


def open_text(source: str | Path | IO[bytes] | IO[str]) -> io.TextIOBase:
    """A text stream over a path or an (uploaded) file; UTF-8 with or without BOM."""
    if isinstance(source, str | Path):
        return open(source, encoding="utf-8-sig", newline="")
    if isinstance(source, io.TextIOBase):
        return source
    if hasattr(source, "seek"):
        source.seek(0)
    return codecs.getreader("utf-8-sig")(source)  # type: ignore[return-value]
