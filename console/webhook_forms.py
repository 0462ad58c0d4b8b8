"""Forms of the merchant webhooks pages (console/views/webhooks.py).

They only read what staff typed; the services (events.services.endpoints,
refunds.services.merchants) check the URL (https, public addresses), the
event types and the address, and their refusals are put back on the field
they name.
"""

from __future__ import annotations

from django import forms

from core.errors import DomainError
from events.enums import ALL_REFUND_EVENTS, SUBSCRIBABLE

EVENT_CHOICES = [
    (ALL_REFUND_EVENTS, "refund.* — every refund event, including types added later"),
    *[(value, value) for value in SUBSCRIBABLE if value != ALL_REFUND_EVENTS],
]


class EndpointForm(forms.Form):
    """Where a merchant's events go, which of them, and a note for people."""

    url = forms.CharField(
        label="URL",
        max_length=2048,
        help_text="An https:// address on the public internet; redirects are not followed.",
        widget=forms.URLInput(attrs={"class": "mono", "placeholder": "https://merchant.example/webhooks/refunds"}),
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        initial=[ALL_REFUND_EVENTS],
        error_messages={"required": "Subscribe to at least one event type."},
    )
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=500,
        help_text="For people: what receives these events (optional).",
    )

    def add_service_error(self, error: DomainError) -> None:
        """A service's refusal, on the field it names (or the whole form)."""
        field = error.details.get("field")
        self.add_error(field if field in self.fields else None, error.message)


class ContactEmailForm(forms.Form):
    """Who is emailed when one of the merchant's endpoints is disabled for failing."""

    contact_email = forms.CharField(
        label="Contact email",
        required=False,
        max_length=254,
        help_text="Told when an endpoint is disabled after days of failures. Empty: nobody is told.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
