"""Merchant webhook endpoints in the admin: a signpost to their console pages (issue 14).

The access admin's day starts in the admin (users, groups, API keys), so the
endpoints are listed on its index for whoever holds `events.manage_webhooks`;
the entry opens the console's *Merchant webhooks* pages, where the secret is
shown once and every change goes through the audited services. Nothing is
edited here: an admin form would write the model without its service.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse

from events.models import WebhookEndpoint
from refunds.permissions import Perm, has_perm


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    def has_module_permission(self, request: Any) -> bool:
        return has_perm(request.user, Perm.MANAGE_WEBHOOKS)

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return has_perm(request.user, Perm.MANAGE_WEBHOOKS)

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: Any, extra_context: Any = None) -> HttpResponseRedirect:
        if not self.has_view_permission(request):
            return super().changelist_view(request, extra_context)  # the admin's own refusal
        return HttpResponseRedirect(reverse("console:webhooks"))

    def change_view(self, request: Any, object_id: str, form_url: str = "", extra_context: Any = None):
        endpoint = WebhookEndpoint.objects.filter(pk=object_id).only("public_id").first()
        if endpoint is None or not self.has_view_permission(request):
            return super().change_view(request, object_id, form_url, extra_context)
        return HttpResponseRedirect(reverse("console:webhooks_endpoint", args=[endpoint.public_id]))
