"""The portal's forms: ask for a code, type it, and the request itself."""

from __future__ import annotations

import uuid

from django import forms
from django.core.validators import validate_email
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from portal.addresses import address_key
from portal.presenters import REASON_LABELS, OrderView
from refunds.enums import RefundInstrument
from refunds.services.evidence import evidence_max_bytes, evidence_max_files

HONEYPOT = "website"


class StartForm(forms.Form):
    order_id = forms.CharField(label=_("Order number"), max_length=100)
    email = forms.EmailField(label=_("Email address used for the order"), max_length=254)
    # Hidden from people (off-screen, aria-hidden, out of the tab order); bots fill every field.
    website = forms.CharField(required=False, max_length=200)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["order_id"].widget.attrs.update(autocomplete="off", inputmode="text", autocapitalize="characters")
        self.fields["email"].widget.attrs.update(autocomplete="email", inputmode="email")
        self.fields[HONEYPOT].widget.attrs.update(tabindex="-1", autocomplete="off")

    def clean_email(self) -> str:
        """The address folded once (portal.addresses): the lookup and the budgets see only this form of it."""
        key = address_key(self.cleaned_data["email"])
        if key is None:
            raise forms.ValidationError(
                _("Type the address in plain letters (a–z), digits and punctuation, as in your order emails."),
                code="not_ascii",
            )
        # Folding can join or split characters: what is looked up must still be an address.
        validate_email(key)
        return key


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Code from the email"), max_length=20)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs.update(
            autocomplete="one-time-code", inputmode="numeric", pattern=r"[0-9 ]*", autofocus=True
        )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; the evidence service checks count, size and content."""

    def __init__(self, *args, **kwargs) -> None:
        # image/* lets a phone offer its camera; the service accepts JPEG, PNG and PDF by their bytes.
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*,application/pdf"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class RequestForm(forms.Form):
    """Lines and quantities (or time not used), reason, note, evidence, and how to be paid back."""

    mode = forms.ChoiceField(choices=[("lines", _("Items")), ("prorate", _("Time not used"))], initial="lines",
                             widget=forms.RadioSelect, label=_("What to refund"))  # fmt: skip
    reason = forms.ChoiceField(label=_("Reason"), choices=list(REASON_LABELS.items()), widget=forms.RadioSelect)
    note = forms.CharField(label=_("Tell us more (optional)"), max_length=2000, required=False, widget=forms.Textarea)
    evidence = MultipleFileField(label=_("Photos or documents (optional)"), required=False)
    instrument = forms.ChoiceField(
        label=_("How would you like it back?"),
        choices=[
            (RefundInstrument.ORIGINAL_PAYMENT, _("Back to my original payment method")),
            (RefundInstrument.STORE_CREDIT, _("Store credit")),
        ],
        initial=RefundInstrument.ORIGINAL_PAYMENT,
        widget=forms.RadioSelect,
        required=False,
    )
    submission = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, view: OrderView, **kwargs) -> None:
        kwargs.setdefault("initial", {}).setdefault("submission", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        self.view = view
        self.fields["note"].widget.attrs.update(rows=4)
        self.fields["evidence"].help_text = _("JPEG, PNG or PDF; up to %(count)s files of %(size)s each.") % {
            "count": evidence_max_files(),
            "size": filesizeformat(evidence_max_bytes()),
        }
        # A hold is released whole: no lines to pick.
        for line in view.lines if view.state == "open" else []:
            if line.left:
                self.fields[line.field] = forms.IntegerField(
                    label=line.description, min_value=0, max_value=line.left, initial=0, required=False
                )
                self.fields[line.field].widget.attrs.update(inputmode="numeric")
        if not view.prorate_offered:
            del self.fields["mode"]
        if not view.store_credit_offered:
            del self.fields["instrument"]

    def line_fields(self) -> list[tuple]:
        return [(line, self[line.field]) for line in self.view.lines if line.field in self.fields]

    def clean(self) -> dict:
        data = super().clean()
        if self.view.state == "open" and data.get("mode", "lines") == "lines":
            picked: dict[str, int] = {}
            for line in self.view.lines:
                if line.left and data.get(line.field):
                    picked[line.sku] = picked.get(line.sku, 0) + data[line.field]
            data["lines"] = picked
            if not data["lines"] and not self.errors:
                raise forms.ValidationError(_("Choose at least one item and how many."), code="no_lines")
        return data
