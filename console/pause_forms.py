"""The kill switch form (issue 16): which switch, which provider, and why."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from providers.registry import provider_class, provider_names
from refunds.enums import PauseKind
from refunds.services.pauses import REASON_MAX


def scope_choices(kind: str) -> list[tuple[str, str]]:
    """Every provider, then each one a switch of `kind` can stop (a provider paid by hand has no submission)."""
    names = [
        name for name in provider_names() if kind != PauseKind.SUBMISSION or not provider_class(name).settles_by_hand
    ]
    return [("", _("every provider")), *((name, name) for name in names)]


class PauseForm(forms.Form):
    """Pause or resume one switch; the service checks everything again (known provider, reason, state)."""

    kind = forms.ChoiceField(choices=PauseKind.choices, widget=forms.HiddenInput)
    provider = forms.ChoiceField(
        label=_("Provider"), required=False, choices=[("", _("every provider")), *((n, n) for n in provider_names())]
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=REASON_MAX,
        help_text=_("Required. Shown to every staff member in the banner and kept in the audit trail."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={"required": _("A reason is required.")},
    )
