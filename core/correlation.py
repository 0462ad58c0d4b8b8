"""The correlation id of the current request or task, for logs and audit events."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

_correlation_id: ContextVar[str] = ContextVar("correlation_id", default="")
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def clean_correlation_id(value: str | None) -> str:
    """Accept a caller's id only if it is short and harmless in logs; else mint one."""
    if value and _VALID.match(value):
        return value
    return new_correlation_id()


def get_correlation_id() -> str:
    return _correlation_id.get()


def set_correlation_id(value: str) -> object:
    return _correlation_id.set(value)


def reset_correlation_id(token) -> None:
    _correlation_id.reset(token)
