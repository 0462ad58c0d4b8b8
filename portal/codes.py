"""One-time codes: proving to the portal that one holds the address on an order.

The flow (docs/customer.md "Requesting a refund online"):
1. `access_codes_issue` — for the order id and address typed, every order
   (of any merchant: order ids are unique per merchant only) whose customer
   has that address, case-insensitive, gets a code: a digest and the sealed
   code in one row, bound to the asking session's nonce; the email task is
   queued on commit. No order matching (or a bot's filled honeypot) writes
   one decoy row instead: no order, no code, never sent, never verifiable
   (a CHECK says so), but bound to the session like a code, so its wrong
   guesses are counted the same way. The caller answers the same either way.
2. `access_code_send` (Celery, `portal.send_access_code`) — under the row's
   lock: unsent and not expired, it emails the code, records the send and
   forgets the plaintext. A sweeper re-queues codes whose task was lost.
3. `access_code_verify` — the session's pending codes, locked; the typed code
   is compared with each digest in constant time. A match marks that code
   used (single use) and gives its order; a miss counts an attempt on each,
   and the attempt that reaches CODE_MAX_ATTEMPTS voids them (a CHECK
   constraint holds the counter to the limit). A decoy is locked and counted
   the same way, so a burst of parallel guesses runs out at the same guess
   with or without an order: the session itself counts nothing (it is read
   at the start of a request and written at its end, so parallel requests
   would all see one count).
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import smtplib
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation

from core.crypto import fernet_for, keyed_digest
from core.queueing import enqueue_best_effort
from notifications.emails import is_transient
from portal.addresses import address_key
from portal.models import CODE_MAX_ATTEMPTS, AccessCode
from refunds.models import Order

logger = logging.getLogger("portal")

CODE_DIGITS = 6
MAX_ORDERS_PER_REQUEST = 5
SEND_MAX_ATTEMPTS = 5
_CODE_PURPOSE = b"refund-desk portal code v1"
_SESSION_PURPOSE = b"refund-desk portal session v1"
_SEAL_PURPOSE = b"refund-desk portal sealed code v1"
# Compared against when the typed code is malformed: it is checked, and counted, like a wrong one.
_ABSENT = "0" * 32


def code_ttl() -> timedelta:
    return timedelta(minutes=int(getattr(settings, "PORTAL_CODE_TTL_MINUTES", 15)))


def _fernet():
    return fernet_for(configured=getattr(settings, "PORTAL_CODE_ENCRYPTION_KEY", None), purpose=_SEAL_PURPOSE)


def session_digest(nonce: str) -> str:
    return keyed_digest(nonce, purpose=_SESSION_PURPOSE)


def _code_digest(nonce: str, code: str) -> str:
    # Keyed and bound to the session's nonce: the digests in a leaked table cannot be tried offline.
    return keyed_digest(f"{nonce}:{code}", purpose=_CODE_PURPOSE)


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


# What people put between the groups of a code: spaces of every kind and dashes.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
_CODE = re.compile(rf"[0-9]{{{CODE_DIGITS}}}")


def normalise_code(raw: str) -> str:
    """What people type: '123 456', '123-456', Arabic-Indic or full-width digits → '123456'; else ''.

    Only decimal digits (Unicode category Nd: what an Arabic or a Japanese
    phone keyboard types) are read, each mapped to its ASCII digit; a
    superscript or any other character that merely looks numeric makes the
    code malformed, and a malformed code ("") is checked, and counted, as a
    wrong one.
    """
    text = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in raw or "")
    text = _SEPARATORS.sub("", text)
    return text if _CODE.fullmatch(text) else ""


def orders_matching(*, order_id: str, email: str) -> list[Order]:
    """The orders with this id whose customer has this address (case-insensitive), of every merchant.

    The address is folded as the budgets fold it (portal.addresses); one that is not plain ASCII matches nothing.
    """
    order_id, email = (order_id or "").strip(), address_key(email) or ""
    if not order_id or "@" not in email:
        return []
    rows = Order.objects.select_related("customer", "merchant").filter(order_id=order_id, customer__email__iexact=email)
    return list(rows.order_by("pk")[:MAX_ORDERS_PER_REQUEST])


def access_codes_issue(*, order_id: str, email: str, nonce: str, language: str, lookup: bool = True) -> list[int]:
    """Write a code for each matching order, bound to `nonce`; their emails are queued on commit.

    No match (or `lookup` False: the honeypot was filled) writes one decoy
    bound to `nonce` instead. Returns the rows' ids (the session keeps them);
    never tell the customer how many, nor which kind.
    """
    ids = []
    expires_at = timezone.now() + code_ttl()
    with transaction.atomic():
        for order in orders_matching(order_id=order_id, email=email) if lookup else []:
            code = new_code()
            row = AccessCode.objects.create(
                order=order,
                code_digest=_code_digest(nonce, code),
                code_sealed=_fernet().encrypt(code.encode()).decode(),
                session_digest=session_digest(nonce),
                language=language,
                expires_at=expires_at,
            )
            ids.append(row.pk)
            transaction.on_commit(partial(access_code_enqueue, row.pk))
        if not ids:
            # The same work as a match: a keyed digest, an INSERT and a task queued after commit (one that
            # sends nothing). The digest is of a nonce nobody holds, and a decoy never matches anyway.
            row = AccessCode.objects.create(
                order=None,
                code_digest=_code_digest(secrets.token_urlsafe(24), new_code()),
                session_digest=session_digest(nonce),
                language=language,
                expires_at=expires_at,
            )
            ids.append(row.pk)
            transaction.on_commit(partial(access_code_enqueue, row.pk))
    return ids


@dataclass(frozen=True)
class Verification:
    order: Order | None  # the order the code opened, when it matched
    exhausted: bool  # no usable code (or decoy) is left for this session: ask for a new one


def access_code_verify(*, code_ids: list[int], nonce: str, code: str) -> Verification:
    """Check `code` against the session's pending codes; single use, a limited number of guesses.

    The rows are locked for the check, so two guesses sent at once are counted
    one after the other, and a code used by one request is used for the other.
    A decoy is locked and counted like a code and never matches: the answers
    (and when they run out) are the same whether or not an order matched.
    """
    code = normalise_code(code)
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            AccessCode.objects.select_for_update()
            .filter(
                pk__in=code_ids[:MAX_ORDERS_PER_REQUEST],
                session_digest=session_digest(nonce),
                used_at__isnull=True,
                expires_at__gt=now,
                attempts__lt=CODE_MAX_ATTEMPTS,
            )
            .order_by("pk")
        )
        typed = _code_digest(nonce, code) if len(code) == CODE_DIGITS else _ABSENT
        for row in rows:
            if hmac.compare_digest(row.code_digest, typed) and row.order_id is not None:
                row.used_at, row.code_sealed = now, ""
                row.save(update_fields=["used_at", "code_sealed"])
                return Verification(order=Order.objects.select_related("customer", "merchant").get(pk=row.order_id),
                                    exhausted=False)  # fmt: skip
        if rows:
            AccessCode.objects.filter(pk__in=[row.pk for row in rows]).update(attempts=F("attempts") + 1)
        left = any(row.attempts + 1 < CODE_MAX_ATTEMPTS for row in rows)
    return Verification(order=None, exhausted=not left)


# --- the email -------------------------------------------------------------------------------------


def access_code_enqueue(code_id: int | None, *, countdown: float = 0) -> bool:
    return enqueue_best_effort(
        send_access_code,
        kwargs={"code_id": code_id},
        countdown=countdown,
        message_id="MSG.portal.code_enqueue_failed",
        log={"code_id": code_id},
    )


def _message(row: AccessCode, code: str) -> EmailMultiAlternatives:
    order = row.order
    brand = getattr(settings, "STATUS_PAGE_BRAND", "Refund desk")
    with translation.override(row.language):
        context = {
            "brand": brand,
            "code": code,
            "minutes": int(code_ttl().total_seconds() // 60),
            "order_id": order.order_id,
            "merchant": str(order.merchant),
            "url": f"{settings.APP_BASE_URL}/request/code/",
        }
        subject = translation.gettext("Your code: %(code)s") % {"code": code}
        text = render_to_string("portal/email_code.txt", context)
        html = render_to_string("portal/email_code.html", context)
    email = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[order.customer.email],
        headers={
            "Auto-Submitted": "auto-generated",
            "Content-Language": row.language,
            "X-Refund-Message": "portal.code",
        },
    )
    email.attach_alternative(html, "text/html")
    return email


def access_code_send(*, code_id: int) -> str:
    """Email one code: "sent", "retry", "failed", or why not ("done", "expired", "busy", "missing", "none": a decoy).

    The send happens under the row's lock (SKIP LOCKED: a second task for the
    same code answers "busy" and does nothing), so two workers never mail one
    code; the lock is one small row held for one SMTP call. The plaintext is
    emptied in the transaction that records the send.
    """
    with transaction.atomic():
        row = (
            AccessCode.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("order__customer", "order__merchant")
            .filter(pk=code_id)
            .first()
        )
        if row is None:
            return "busy" if AccessCode.objects.filter(pk=code_id).exists() else "missing"
        if row.order_id is None:
            return "none"  # a decoy: nothing to send
        if row.sent_at is not None or not row.code_sealed:
            return "done"
        if row.expires_at <= timezone.now() or row.used_at is not None:
            row.code_sealed = ""
            row.save(update_fields=["code_sealed"])
            return "expired"
        code = _fernet().decrypt(row.code_sealed.encode()).decode()
        row.send_attempts += 1
        try:
            _message(row, code).send(fail_silently=False)
        except (smtplib.SMTPException, OSError) as error:
            transient = is_transient(error)
            give_up = not transient or row.send_attempts >= SEND_MAX_ATTEMPTS
            if give_up:
                row.code_sealed = ""
            row.save(update_fields=["send_attempts", "code_sealed"])
            logger.warning(
                "portal code email not sent",
                extra={"message_id": "MSG.portal.code_send_failed", "code_id": code_id,
                       "error": error.__class__.__name__, "final": give_up},
            )  # fmt: skip
            if not give_up:
                transaction.on_commit(partial(access_code_enqueue, code_id, countdown=2.0**row.send_attempts))
            return "failed" if give_up else "retry"
        row.sent_at, row.code_sealed = timezone.now(), ""
        row.save(update_fields=["send_attempts", "sent_at", "code_sealed"])
    logger.info("portal code emailed", extra={"message_id": "MSG.portal.code_sent", "code_id": code_id})
    return "sent"


def access_code_sweep(*, limit: int = 200) -> int:
    """Queue the unsent, unexpired codes older than a minute whose task was lost; returns how many."""
    now = timezone.now()
    due = AccessCode.objects.filter(
        sent_at__isnull=True, expires_at__gt=now, created_at__lt=now - timedelta(minutes=1), used_at__isnull=True
    ).exclude(code_sealed="")
    queued = 0
    for code_id in due.order_by("created_at").values_list("pk", flat=True)[:limit]:
        if not access_code_enqueue(code_id):
            break
        queued += 1
    return queued


@shared_task(name="portal.send_access_code", acks_late=True)
def send_access_code(*, code_id: int | None) -> str:
    """Email one portal code (`access_code_send`); a decoy's sends nothing (None: queued by an older release)."""
    if code_id is None:
        return "none"
    return access_code_send(code_id=code_id)


@shared_task(name="portal.sweep_access_codes")
def sweep_access_codes(*, limit: int = 200) -> int:
    """Queue the code emails whose task was lost (broker restart, crash after commit)."""
    return access_code_sweep(limit=limit)
