"""The translation catalogues: every string the code marks for translation is translated, and the build says so.

`makemessages` needs GNU gettext; this extracts the same strings with Babel
(Python files) and Django's own `templatize` (templates), so a string added to
the code without a translation fails here instead of showing English to an
Arabic or German reader.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract
from babel.messages.pofile import read_po
from django.utils.translation.template import templatize

from scripts.compile_messages import compile_all

ROOT = Path(__file__).resolve().parent.parent.parent
LANGUAGES = ("ar", "de")
SKIP_DIRS = {".venv", ".git", "var", "node_modules", "__pycache__", ".ruff_cache", ".pytest_cache"}
# Django's gettext functions on top of Babel's defaults (makemessages passes the same to xgettext).
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext_lazy": (1, 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext_lazy": ((1, "c"), 2, 3),
}


def _files(pattern: str) -> list[Path]:
    return [p for p in ROOT.glob(pattern) if not SKIP_DIRS & set(p.relative_to(ROOT).parts)]


def _extract(source: str) -> set[tuple[str | None, str]]:
    found = set()
    for _lineno, message, _comments, context in extract("python", io.BytesIO(source.encode()), keywords=KEYWORDS):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.add((context, msgid))
    return found


def marked_strings() -> dict[tuple[str | None, str], str]:
    """(context, msgid) of every string marked for translation -> a file it is in."""
    where: dict[tuple[str | None, str], str] = {}
    for path in _files("**/*.py"):
        for key in _extract(path.read_text()):
            where.setdefault(key, str(path.relative_to(ROOT)))
    for path in _files("**/templates/**/*.html") + _files("**/templates/**/*.txt"):
        # templatize keeps the template's indentation, which Python's tokenizer rejects;
        # every call it writes fits on one line, so the lines can be dedented one by one.
        code = "\n".join(line.lstrip() for line in templatize(path.read_text(), origin=str(path)).splitlines())
        for key in _extract(code):
            where.setdefault(key, str(path.relative_to(ROOT)))
    return where


@pytest.fixture(scope="module")
def marked() -> dict[tuple[str | None, str], str]:
    return marked_strings()


def test_the_extraction_finds_python_template_and_plural_strings(marked):
    # Guards the test below against passing because it found nothing.
    assert (None, "We have received your refund request") in marked  # refunds/messages.py
    assert (None, "Reload this page to see the latest status.") in marked  # {% translate %}
    assert (None, "and %(counter)s more item") in marked  # {% blocktranslate count … %}
    assert (None, "See the status of your refund at any time:") in marked  # the plain-text email
    assert (None, "The person who requested a refund cannot approve it.") in marked  # API errors
    assert len(marked) > 60


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_marked_string_is_translated_in_every_language(marked, language):
    with (ROOT / "locale" / language / "LC_MESSAGES" / "django.po").open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    problems = []
    for (context, msgid), path in sorted(marked.items(), key=lambda item: (item[1], item[0][1])):
        message = catalog.get(msgid, context=context)
        strings = message.string if message and isinstance(message.string, tuple) else (getattr(message, "string", ""),)
        if message is None:
            problems.append(f"{path}: {msgid!r} is not in the catalogue (run makemessages)")
        elif message.fuzzy or not all(strings):
            problems.append(f"{path}: {msgid!r} is {'fuzzy' if message.fuzzy else 'untranslated'}")
    assert problems == []


PO_HEADER = "\n".join(
    [
        'msgid ""',
        'msgstr ""',
        '"Content-Type: text/plain; charset=utf-8\\n"',
        '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"',
        "",
    ]
)


@pytest.mark.parametrize(
    ("entry", "compiles"),
    [
        ('msgid "Amount"\nmsgstr "Betrag"\n', True),
        ('#, fuzzy\nmsgid "Amount"\nmsgstr "Betrag"\n', False),
        ('msgid "Amount"\nmsgstr ""\n', False),
        ('msgid "%(n)s day"\nmsgid_plural "%(n)s days"\nmsgstr[0] "%(n)s Tag"\nmsgstr[1] ""\n', False),
    ],
    ids=["translated", "fuzzy", "untranslated", "plural-form-missing"],
)
def test_the_build_refuses_fuzzy_and_untranslated_entries(tmp_path, entry, compiles):
    po = tmp_path / "de" / "LC_MESSAGES" / "django.po"
    po.parent.mkdir(parents=True)
    po.write_text(PO_HEADER + "\n" + entry)
    assert compile_all(tmp_path) == (1 if compiles else -1)
    assert po.with_suffix(".mo").exists() is compiles


def test_the_committed_catalogues_compile():
    assert compile_all() == len(LANGUAGES)


def test_a_compiled_catalogue_is_swapped_in_whole_and_left_alone_when_unchanged(tmp_path):
    """Parallel test processes (and a running server) read the .mo while another compiles it: written in
    place, a reader met a half-written file ("unpack requires a buffer of 4 bytes")."""
    po = tmp_path / "de" / "LC_MESSAGES" / "django.po"
    po.parent.mkdir(parents=True)
    po.write_text(PO_HEADER + '\nmsgid "Amount"\nmsgstr "Betrag"\n')
    mo = po.with_suffix(".mo")
    assert compile_all(tmp_path) == 1
    first = mo.stat()

    assert compile_all(tmp_path) == 1
    assert mo.stat().st_ino == first.st_ino and mo.stat().st_mtime_ns == first.st_mtime_ns  # unchanged: untouched

    po.write_text(PO_HEADER + '\nmsgid "Amount"\nmsgstr "Summe"\n')
    assert compile_all(tmp_path) == 1
    assert mo.stat().st_ino != first.st_ino  # a new file renamed over the old one, never rewritten in place
    assert b"Summe" in mo.read_bytes()
    assert [p.name for p in po.parent.iterdir() if p.suffix == ".tmp"] == []
