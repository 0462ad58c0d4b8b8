"""Two-factor devices in the admin: who has enrolled, and a reset for a lost phone. Never the secrets.

django-otp's own admin shows an authenticator's key and QR code and lets an
admin add a device with a key of their choosing for anyone: an admin could
then pass a senior's second factor with their own phone, silently. Here the
devices are read-only (no key, no recovery codes), and the one change is
the audited reset (console.mfa.mfa_reset), after which the person enrols again.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from console.admin.common import ReadOnlyMixin
from console.mfa import mfa_reset
from core.actor import Actor

for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(TOTPDevice)
class AuthenticatorAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    search_fields = ("user__username",)
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    actions = ("reset_two_factor",)

    def get_actions(self, request: Any) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Reset two-factor sign-in of the selected users (lost phone)")
    def reset_two_factor(self, request: Any, queryset: Any) -> None:
        if not request.user.is_superuser:
            self.message_user(request, "Only a superuser may reset two-factor sign-in.", messages.ERROR)
            return
        users = get_user_model().objects.filter(pk__in=queryset.values("user_id"))
        for user in users:
            mfa_reset(user=user, actor=Actor.for_user(request.user), reason="reset from the admin")
        self.message_user(request, f"Two-factor sign-in reset for {len(users)} user(s); they enrol again.")
