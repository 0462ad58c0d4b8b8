"""Django admin: users and groups, for the access admin role (issue 10 item 9).

Who may do what is administered here by people who cannot decide refunds
(`refunds.permissions.administers_access`); every change made here is in the
audit trail (`audit.access`). Two guards on top of Django's own pages: no
one changes their own access (groups, permissions, status) — a second access
admin must — and only a superuser makes a superuser.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

User = get_user_model()

OWN_ACCESS_FIELDS = ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")


class AccessUserAdmin(UserAdmin):
    def get_readonly_fields(self, request: Any, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.pk == request.user.pk:
            fields += [name for name in OWN_ACCESS_FIELDS if name not in fields]
        if not request.user.is_superuser and "is_superuser" not in fields:
            fields.append("is_superuser")
        return fields


admin.site.unregister(User)
admin.site.register(User, AccessUserAdmin)
