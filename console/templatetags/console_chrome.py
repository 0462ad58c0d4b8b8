"""What the staff chrome asks of the permissions: the *Admin* link and the brand's link to the role's home."""

from __future__ import annotations

from typing import Any

from django import template

from console.views.auth import role_home
from refunds.permissions import works_in_admin as _works_in_admin

register = template.Library()


@register.filter
def works_in_admin(user: Any) -> bool:
    return _works_in_admin(user)


@register.simple_tag
def home_url(user: Any) -> str:
    return role_home(user)
