"""Log lines for staff sign-in events (SPEC §10 message ids), connected in ConsoleConfig.ready.

django-axes logs its own lines with the username and address masked
(`AXES_VERBOSE = False`); these carry what an operator needs to follow an
attack — which account (as a digest: usernames may be email addresses) and
from which address — and never the password.
"""

from __future__ import annotations

import logging
from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from console.auth_log import log_auth
from core.client_ip import client_ip


@receiver(user_login_failed, dispatch_uid="console.login_failed")
def login_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    username = str((credentials or {}).get("username") or "")
    log_auth("MSG.auth.login_failed", username, logging.INFO, ip=client_ip(request) if request else None)


@receiver(user_locked_out, dispatch_uid="console.login_locked_out")
def login_locked_out(
    sender: Any, request: Any = None, username: str | None = None, ip_address: str | None = None, **kwargs: Any
) -> None:
    log_auth("MSG.auth.login_locked_out", username or "", logging.WARNING, ip=ip_address)
