"""Compile every locale/*/LC_MESSAGES/*.po to .mo with Babel (no gettext binaries needed)."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def compile_all(root: Path = ROOT / "locale") -> int:
    count = 0
    for po_path in sorted(root.glob("*/LC_MESSAGES/*.po")):
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        errors = [(message.id, err) for message, err in catalog.check()]
        if errors:
            print(f"{po_path}: {errors[:3]}", file=sys.stderr)
            return -1
        with po_path.with_suffix(".mo").open("wb") as mo_file:
            write_mo(mo_file, catalog)
        count += 1
    return count


if __name__ == "__main__":
    compiled = compile_all()
    if compiled < 0:
        sys.exit(1)
    print(f"compiled {compiled} message catalogue(s)")
