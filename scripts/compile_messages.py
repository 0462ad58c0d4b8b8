"""Compile every locale/*/LC_MESSAGES/*.po to .mo with Babel (no gettext binaries needed).

A catalogue with a format error, a fuzzy entry or an untranslated one is
refused, and the build fails: gettext would silently show English for those
(a fuzzy entry is left out of the .mo), which a customer reading Arabic or
German must never get.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def catalogue_problems(catalog: Catalog) -> list[str]:
    """Why `catalog` cannot ship: format errors, fuzzy and untranslated entries ([] when it can)."""
    problems = [f"{message.id!r}: {error}" for message, errors in catalog.check() for error in errors]
    for message in catalog:
        if not message.id:
            continue  # the header
        strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        if message.fuzzy:
            problems.append(f"{message.id!r}: fuzzy")
        elif not all(strings):
            problems.append(f"{message.id!r}: untranslated")
    return problems


def compile_all(root: Path = ROOT / "locale") -> int:
    """Number of catalogues compiled, or -1 (nothing written for it) when one has problems."""
    count = 0
    for po_path in sorted(root.glob("*/LC_MESSAGES/*.po")):
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        problems = catalogue_problems(catalog)
        if problems:
            print(f"{po_path}: {len(problems)} problem(s): {problems[:3]}", file=sys.stderr)
            return -1
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        _write_atomically(po_path.with_suffix(".mo"), buffer.getvalue())
        count += 1
    return count


def _write_atomically(path: Path, content: bytes) -> None:
    """Replace `path` with `content` in one rename, and only when it changed.

    A running server (or a parallel test process) may be reading the .mo
    while it is compiled: written in place, it would see a half-written file
    and fail to parse it. A rename swaps the whole file at once.
    """
    if path.exists() and path.read_bytes() == content:
        return
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


if __name__ == "__main__":
    compiled = compile_all()
    if compiled < 0:
        sys.exit(1)
    print(f"compiled {compiled} message catalogue(s)")
