"""Evidence files (SPEC §10): validated by content, encrypted at rest, attached with the refund.

What the customer (or an agent on their behalf) uploads is untrusted. A file
is accepted only when its first bytes say it is a JPEG, PNG or PDF — the name
and the browser's content type are claims, not facts — and when size and count
stay within the limits. The bytes are encrypted with Fernet (AES-128-CBC +
HMAC-SHA256) before they touch the disk, under a random name, in a directory
no URL serves; the console streams them back through a permission-checked view.

Settings (all optional):
- EVIDENCE_MAX_BYTES (default 5 MiB per file), EVIDENCE_MAX_FILES (default 5);
- EVIDENCE_ENCRYPTION_KEY: one Fernet key, or several separated by commas
  (the first encrypts, all decrypt: key rotation). Unset, a key is derived
  from SECRET_KEY with HKDF, so the demo needs no configuration — but then
  rotating SECRET_KEY makes stored evidence unreadable.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import InvalidToken, MultiFernet
from django.conf import settings
from django.db import transaction

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.crypto import fernet_for
from core.errors import ERR_VALIDATION, DomainError
from core.uploads import FORM_OVERHEAD_BYTES
from refunds.models import EvidenceFile, Order, Refund
from refunds.services.evidence_refs import FILE
from refunds.services.lines import LineRequest
from refunds.services.request import refund_request
from refunds.services.transition import refund_lock

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_FILES = 5

# content type -> (magic prefix, extensions the file may be named with)
ALLOWED_TYPES: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "image/jpeg": (b"\xff\xd8\xff", (".jpg", ".jpeg")),
    "image/png": (b"\x89PNG\r\n\x1a\n", (".png",)),
    "application/pdf": (b"%PDF-", (".pdf",)),
}


@dataclass(frozen=True)
class EvidenceUpload:
    """One validated upload, still in memory, not yet stored."""

    name: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def evidence_max_bytes() -> int:
    return int(getattr(settings, "EVIDENCE_MAX_BYTES", DEFAULT_MAX_BYTES))


def evidence_max_files() -> int:
    return int(getattr(settings, "EVIDENCE_MAX_FILES", DEFAULT_MAX_FILES))


def evidence_body_max_bytes() -> int:
    """The largest upload body of evidence: every file at its limit, and room for the multipart around them."""
    return evidence_max_bytes() * evidence_max_files() + FORM_OVERHEAD_BYTES


def evidence_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "evidence"


def _fernet() -> MultiFernet:
    return fernet_for(configured=getattr(settings, "EVIDENCE_ENCRYPTION_KEY", None), purpose=b"refund-desk evidence v1")


def evidence_clean_name(raw: str) -> str:
    """The file's own name only, without path parts or control characters, at most 200 characters."""
    name = os.path.basename((raw or "").replace("\\", "/"))
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return (name or "evidence")[-200:]


def _sniff(data: bytes) -> str | None:
    for content_type, (magic, _extensions) in ALLOWED_TYPES.items():
        if data.startswith(magic):
            return content_type
    return None


def _refuse(message: str) -> DomainError:
    return DomainError(ERR_VALIDATION, message, field="evidence")


def evidence_validate(*, files: list) -> list[EvidenceUpload]:
    """Check count, size and type of uploaded files and read them into memory.

    `files` are Django `UploadedFile`s (anything with `.name`, `.size`,
    `.read()`). The size is checked before reading, so an oversized upload is
    never loaded. Raises DomainError(ERR_VALIDATION) naming the file at fault.
    """
    files = [f for f in files if f is not None]
    max_files, max_bytes = evidence_max_files(), evidence_max_bytes()
    if len(files) > max_files:
        raise _refuse(f"At most {max_files} evidence files can be attached.")
    uploads = []
    for upload in files:
        name = evidence_clean_name(upload.name)
        if upload.size is not None and upload.size > max_bytes:
            raise _refuse(f"{name} is larger than {max_bytes // (1024 * 1024)} MB.")
        data = upload.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise _refuse(f"{name} is larger than {max_bytes // (1024 * 1024)} MB.")
        if not data:
            raise _refuse(f"{name} is empty.")
        content_type = _sniff(data)
        if content_type is None:
            raise _refuse(f"{name} is not a JPEG, PNG or PDF file.")
        if not name.lower().endswith(ALLOWED_TYPES[content_type][1]):
            raise _refuse(f"{name} does not match its content ({content_type}); check the file.")
        uploads.append(EvidenceUpload(name=name, content_type=content_type, data=data))
    return uploads


def _write_encrypted(data: bytes) -> str:
    directory = evidence_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stored_name = secrets.token_hex(16)
    path = directory / stored_name
    # O_EXCL: a (practically impossible) name collision fails instead of overwriting someone's evidence.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(_fernet().encrypt(data))
    return stored_name


def _remove(stored_names: list[str]) -> None:
    for stored_name in stored_names:
        (evidence_dir() / stored_name).unlink(missing_ok=True)


def evidence_attach(*, refund: Refund, uploads: list[EvidenceUpload], actor: Actor) -> list[EvidenceFile]:
    """Encrypt and store validated uploads, then record them on the refund.

    Side effects, in order: encrypted files under MEDIA_ROOT/evidence/, one
    EvidenceFile row each, audit `refund.evidence_attached` (names, sizes and
    SHA-256 of the plaintext). Must run inside the caller's transaction; if it
    fails, the files it wrote are removed again.
    """
    if not uploads:
        return []
    written: list[str] = []
    try:
        rows = []
        for upload in uploads:
            written.append(_write_encrypted(upload.data))
            rows.append(
                EvidenceFile.objects.create(
                    refund=refund,
                    stored_name=written[-1],
                    original_name=upload.name,
                    content_type=upload.content_type,
                    size_bytes=len(upload.data),
                    sha256=upload.sha256,
                    uploaded_by=actor.user,
                )
            )
        audit_record(
            actor=actor,
            action=AuditAction.REFUND_EVIDENCE_ATTACHED,
            refund=refund,
            note=", ".join(u.name for u in uploads),
            after={"files": [{"name": u.name, "bytes": len(u.data), "sha256": u.sha256} for u in uploads]},
        )
    except BaseException:
        _remove(written)
        raise
    return rows


def refund_request_with_evidence(
    *,
    order: Order,
    amount_minor: int | None = None,
    lines: list[LineRequest] | None = None,
    prorate: bool = False,
    instrument: str | None = None,
    currency: str,
    reason: str,
    actor: Actor,
    customer_note: str = "",
    uploads: list[EvidenceUpload] | None = None,
    request_token: str | None = None,
) -> Refund:
    """Create a refund on a customer's behalf with its evidence files, all or nothing.

    The refund is created by `refund_request` (same checks and policy as the
    API; the amount, lines or proration and the instrument as it takes them),
    told how many files come with it so the evidence rule sees them, and
    the files are attached in the same transaction, the refund's `evidence`
    then naming them by id (`{"type": "file", "file_id": N}`, the API's shape):
    a refused request stores no file, and a failed store leaves no refund.
    Files written before a rollback are removed.
    """
    stored: list[str] = []
    try:
        with transaction.atomic():
            refund = refund_request(
                order=order,
                amount_minor=amount_minor,
                lines=lines,
                prorate=prorate,
                instrument=instrument,
                currency=currency,
                reason=reason,
                actor=actor,
                customer_note=customer_note,
                uploaded_files=len(uploads or []),
                request_token=request_token,
            )
            rows = evidence_attach(refund=refund, uploads=list(uploads or []), actor=actor)
            stored = [row.stored_name for row in rows]
            if rows:
                refund.evidence = [{"type": FILE, "file_id": row.pk} for row in rows]
                refund.save(update_fields=["evidence", "updated_at"])
    except BaseException:
        # The rows were rolled back (a refusal, or the commit itself failed): take the files with them.
        _remove(stored)
        raise
    return refund


def refund_evidence_add(*, refund_id: int, uploads: list[EvidenceUpload], actor: Actor) -> list[EvidenceFile]:
    """Attach more evidence files to an existing refund, in any state (`POST /v1/refunds/{id}/evidence`).

    Any state, decided or not: evidence that comes after a decision still
    backs a dispute or a chargeback defence and staff see it on the card; it
    changes no money, no state and no decision (the policy is not run again).

    Side effects, in order, in one transaction: lock the refund (payment then
    refund, `refund_lock`, so two uploads cannot both pass the count); refuse
    with ERR_VALIDATION (field "evidence") when the refund's files and these
    would exceed EVIDENCE_MAX_FILES; `evidence_attach` (encrypted files, one
    EvidenceFile row each, audit `refund.evidence_attached`); append
    `{"type": "file", "file_id": N}` per file to `refund.evidence` and save.
    Files written before a failure are removed again.
    """
    if not uploads:
        raise _refuse("Attach at least one file.")
    stored: list[str] = []
    try:
        with transaction.atomic():
            refund, _payment = refund_lock(refund_id=refund_id)
            already, max_files = refund.evidence_files.count(), evidence_max_files()
            if already + len(uploads) > max_files:
                raise _refuse(
                    f"At most {max_files} evidence files can be attached to a refund; it has {already} already."
                )
            rows = evidence_attach(refund=refund, uploads=uploads, actor=actor)
            stored = [row.stored_name for row in rows]
            refund.evidence = [*list(refund.evidence or []), *({"type": FILE, "file_id": row.pk} for row in rows)]
            refund.save(update_fields=["evidence", "updated_at"])
    except BaseException:
        _remove(stored)
        raise
    return rows


def evidence_read(*, evidence: EvidenceFile) -> bytes:
    """Decrypt one stored file and check it is exactly what was uploaded.

    Raises DomainError(ERR_VALIDATION) when the file is missing, the key
    cannot decrypt it, or its content no longer matches the stored SHA-256.
    """
    path = evidence_dir() / evidence.stored_name
    try:
        token = path.read_bytes()
        data = _fernet().decrypt(token)
    except FileNotFoundError:
        raise DomainError(ERR_VALIDATION, "The evidence file is missing from storage.") from None
    except InvalidToken:
        raise DomainError(ERR_VALIDATION, "The evidence file cannot be decrypted with the configured key.") from None
    if hashlib.sha256(data).hexdigest() != evidence.sha256:
        raise DomainError(ERR_VALIDATION, "The evidence file does not match its recorded checksum.")
    return data
