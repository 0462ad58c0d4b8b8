"""Staff two-factor sign-in: TOTP authenticators and one-time recovery codes (django-otp).

The devices are django-otp's: one confirmed `TOTPDevice` (an authenticator
app) and one `StaticDevice` holding the recovery codes, each code deleted when
used. A session has passed the second factor once `django_otp.login` has
stored the device that verified it (OTPMiddleware then sets
`user.is_verified()`); `console.middleware.StaffMfaMiddleware` decides who must.

Guessing codes is throttled by django-otp per device (each wrong code doubles
the wait before the next is checked), on top of the password lockout (axes).
Log lines (console.auth_log) carry a digest of the username, never the username.
"""

from __future__ import annotations

import logging
import re
from base64 import b32encode
from dataclasses import dataclass
from typing import Any

import django_otp
import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.enums import AuditAction
from audit.services import audit_record
from console.auth_log import log_auth
from core.actor import Actor

AUTHENTICATOR_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"
# Where the codes of a fresh enrolment or regeneration wait for the one page that shows them.
RECOVERY_CODES_SESSION_KEY = "mfa_recovery_codes"
_TOTP_TOKEN = re.compile(r"^\d{6}$")


def authenticator_for(user: Any) -> TOTPDevice | None:
    """The user's confirmed authenticator, if they have enrolled one."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def has_second_factor(user: Any) -> bool:
    return django_otp.user_has_device(user)


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def pending_authenticator(user: Any) -> TOTPDevice:
    """The authenticator being enrolled (unconfirmed): the same key until it is confirmed, so a reload keeps the QR."""
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)


def qr_svg(device: TOTPDevice) -> str:
    """The enrolment QR code as inline SVG markup: no script, no image request, no third party."""
    return segno.make(device.config_url, error="m").svg_inline(
        scale=5, border=4, omitsize=True, title="Two-factor set-up code"
    )


def secret_for_typing(device: TOTPDevice) -> str:
    """The key in base32, in groups of four, for authenticators that cannot scan."""
    text = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _new_recovery_codes(user: Any) -> list[str]:
    """Replace the user's recovery codes with a fresh set (the old ones stop working)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.MFA_RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def _mark_verified(request: HttpRequest, device: Any) -> None:
    # A new session key when the session gains the second factor, as Django does at login:
    # a session id fixed before this point is worth nothing after it.
    request.session.cycle_key()
    django_otp.login(request, device)


def mfa_enrol(request: HttpRequest, *, token: str) -> list[str] | None:
    """Confirm the pending authenticator with a code it produced; None if the code is wrong.

    On success, in one transaction: the authenticator is confirmed (any other
    authenticator of the user removed), a fresh set of recovery codes replaces
    any old one, the audit event is written; then the session is marked as
    verified and the codes are returned, to be shown once.
    """
    user = request.user
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
        if device is None or not _TOTP_TOKEN.match(token) or not device.verify_token(token):
            log_auth("MSG.auth.mfa_enrol_failed", user.get_username(), logging.WARNING)
            return None
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _new_recovery_codes(user)
        audit_record(
            actor=Actor.for_user(user),
            action=AuditAction.STAFF_MFA_ENROLLED,
            subject=f"user {user.pk}",
            note="authenticator enrolled; recovery codes issued",
        )
    _mark_verified(request, device)
    log_auth("MSG.auth.mfa_enrolled", user.get_username())
    return codes


@dataclass(frozen=True)
class Verification:
    device: Any = None
    retry_after_seconds: int | None = None  # set when the device refuses to check codes for now

    @property
    def ok(self) -> bool:
        return self.device is not None

    @property
    def used_recovery_code(self) -> bool:
        return isinstance(self.device, StaticDevice)


def _normalise(token: str) -> str:
    return re.sub(r"[\s-]", "", token).lower()


def mfa_verify(request: HttpRequest, *, token: str) -> Verification:
    """Check a code from the authenticator (six digits) or a recovery code, and mark the session verified.

    The code's shape picks the device, so a typo in one kind never counts
    against the throttle of the other. A recovery code is deleted as it is
    accepted (django-otp's StaticDevice), in the transaction that locks it.
    """
    user = request.user
    token = _normalise(token)
    model = TOTPDevice if _TOTP_TOKEN.match(token) else StaticDevice
    verified = None
    retry_after = None
    for device in model.objects.devices_for_user(user, confirmed=True):
        allowed, info = device.verify_is_allowed()
        if not allowed:
            locked_until = (info or {}).get("locked_until")
            if locked_until is not None:
                retry_after = max(1, int((locked_until - timezone.now()).total_seconds()) + 1)
            continue
        verified = django_otp.verify_token(user, device.persistent_id, token)
        if verified is not None:
            break
    if verified is None:
        log_auth("MSG.auth.mfa_verify_failed", user.get_username(), logging.WARNING, throttled=retry_after is not None)
        return Verification(retry_after_seconds=retry_after)
    _mark_verified(request, verified)
    if isinstance(verified, StaticDevice):
        log_auth("MSG.auth.recovery_code_used", user.get_username(), logging.WARNING, left=recovery_codes_left(user))
    else:
        log_auth("MSG.auth.mfa_verified", user.get_username())
    return Verification(device=verified)


def recovery_codes_regenerate(*, user: Any) -> list[str]:
    """A new set of recovery codes for a verified user; every earlier code stops working."""
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        audit_record(
            actor=Actor.for_user(user),
            action=AuditAction.STAFF_RECOVERY_CODES_REGENERATED,
            subject=f"user {user.pk}",
            note="recovery codes regenerated; the earlier set no longer works",
        )
    log_auth("MSG.auth.recovery_codes_regenerated", user.get_username())
    return codes


def mfa_reset(*, user: Any, actor: Actor, reason: str) -> int:
    """Remove every second-factor device of `user` (a lost phone); they enrol again at their next sign-in.

    Sessions that already passed the second factor lose it too: OTPMiddleware
    finds the device gone and treats the session as unverified.
    """
    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=user).count() + StaticDevice.objects.filter(user=user).count()
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        audit_record(
            actor=actor,
            action=AuditAction.STAFF_MFA_RESET,
            subject=f"user {user.pk}",
            note=reason[:500],
        )
    log_auth("MSG.auth.mfa_reset", user.get_username(), logging.WARNING)
    return removed
