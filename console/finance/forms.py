"""Forms of the finance screens: what finance may ask for, checked before any service runs."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from django import forms
from django.conf import settings

from providers.base import ReportFormatError
from providers.registry import UnknownProvider, default_provider_name, get_provider, provider_choices
from reconciliation.enums import ItemKind, ResolutionKind, RunSource
from refunds.enums import WebhookStatus

DEFAULT_MAX_UPLOAD_BYTES = 1024**3
DEFAULT_MAX_EXPORT_DAYS = 366


def _all_providers() -> list[tuple[str, str]]:
    return [("", "all"), *provider_choices()]


class DateInput(forms.DateInput):
    input_type = "date"


class RunRequestForm(forms.Form):
    day = forms.DateField(widget=DateInput)
    provider = forms.ChoiceField(choices=provider_choices, initial=default_provider_name)
    source = forms.ChoiceField(choices=RunSource.choices, initial=RunSource.API, widget=forms.RadioSelect)
    report = forms.FileField(required=False, help_text="Provider report CSV (only for a report run).")

    def clean(self) -> dict:
        data = super().clean()
        report = data.get("report")
        if data.get("source") == RunSource.FILE:
            if not report:
                self.add_error("report", "Choose the provider's report CSV.")
            elif data.get("provider"):
                self._check_report(report, provider=data["provider"])
        elif report:
            self.add_error("report", "A report is only read by a report run; choose that source or drop the file.")
        return data

    def _check_report(self, report, *, provider: str) -> None:
        limit = int(getattr(settings, "RECONCILIATION_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES))
        if report.size > limit:
            self.add_error("report", f"The report is larger than {limit // 2**20} MB.")
            return
        # Read only the header now: a wrong file is refused here, not minutes later in the worker.
        report.seek(0)
        first = report.read(64 * 1024).decode("utf-8-sig", errors="replace").splitlines()[:1]
        report.seek(0)
        try:
            header = next(csv.reader(io.StringIO(first[0] if first else "")))
            get_provider(provider).check_report_header(header)
        except (ReportFormatError, StopIteration, UnknownProvider) as error:
            self.add_error("report", str(error) or "The report has no header row.")


class ResolveForm(forms.Form):
    note = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), strip=True)


class BulkResolveForm(forms.Form):
    """Several exceptions of a run, one note and one kind for all of them."""

    item = forms.TypedMultipleChoiceField(coerce=int, choices=(), error_messages={"required": "Select exceptions."})
    kind = forms.ChoiceField(choices=[("", "choose…"), *ResolutionKind.choices], label="How")
    note = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), strip=True, label="Note")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Any id is accepted here; the service says per row which ones are not exceptions of this run.
        self.fields["item"].valid_value = lambda value: str(value).isdigit()


class RangeForm(forms.Form):
    """A date range for the exports (inclusive days in the reconciliation timezone)."""

    day_from = forms.DateField(widget=DateInput, label="From")
    day_to = forms.DateField(widget=DateInput, label="To")
    provider = forms.ChoiceField(choices=_all_providers, required=False)
    exceptions = forms.BooleanField(required=False, label="Exceptions only")

    def clean(self) -> dict:
        data = super().clean()
        day_from, day_to = data.get("day_from"), data.get("day_to")
        if day_from and day_to:
            if day_to < day_from:
                self.add_error("day_to", "The range ends before it starts.")
            limit = int(getattr(settings, "RECONCILIATION_MAX_EXPORT_DAYS", DEFAULT_MAX_EXPORT_DAYS))
            if day_to - day_from > timedelta(days=limit):
                self.add_error("day_to", f"Export at most {limit} days at a time.")
        return data


class ItemFilterForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[("", "all exceptions"), ("all", "everything, matched too"), *ItemKind.choices], required=False
    )
    resolution = forms.ChoiceField(
        choices=[("open", "open"), ("resolved", "resolved"), ("all", "open and resolved")], required=False
    )
    currency = forms.CharField(max_length=3, required=False)
    search = forms.CharField(max_length=100, required=False, label="Refund id")


class RunFilterForm(forms.Form):
    day_from = forms.DateField(widget=DateInput, required=False, label="From")
    day_to = forms.DateField(widget=DateInput, required=False, label="To")
    provider = forms.ChoiceField(choices=_all_providers, required=False)
    history = forms.BooleanField(required=False, label="Show superseded runs")


class WebhookFilterForm(forms.Form):
    """The webhook inbox: by default what needs finance (held and unknown-refund events)."""

    status = forms.ChoiceField(
        choices=[("", "needs attention"), *WebhookStatus.choices, ("all", "all events")], required=False
    )
    provider = forms.ChoiceField(choices=_all_providers, required=False)
    search = forms.CharField(max_length=100, required=False, label="Event, provider refund or refund id")


class MonthField(forms.DateField):
    """A month as `YYYY-MM` (an <input type="month">), cleaned to its first day."""

    widget = forms.DateInput(attrs={"type": "month"}, format="%Y-%m")
    input_formats = ["%Y-%m"]


class PeriodCloseForm(forms.Form):
    month = MonthField()
    note = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}), strip=True)


class ReopenRequestForm(forms.Form):
    month = MonthField(widget=forms.HiddenInput)
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), strip=True)


class DecisionForm(forms.Form):
    note = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}), strip=True)


CORRECTION_LINES = 4


def _account_choices() -> list[tuple[str, str]]:
    from ledger.models import Account

    return [("", "—"), *((account.code, account.name) for account in Account.objects.order_by("code"))]


class CorrectionForm(forms.Form):
    """A correcting entry's draft: up to four lines, each a debit or a credit in major units."""

    currency = forms.CharField(max_length=3, min_length=3, initial="USD")
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        strip=True,
        help_text="Why the books need this correction; it goes into the audit trail with the entry.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for n in range(1, CORRECTION_LINES + 1):
            self.fields[f"account_{n}"] = forms.ChoiceField(choices=_account_choices, required=False, label="Account")
            self.fields[f"debit_{n}"] = forms.DecimalField(required=False, min_value=0, label="Debit")
            self.fields[f"credit_{n}"] = forms.DecimalField(required=False, min_value=0, label="Credit")

    @property
    def line_rows(self) -> list[tuple]:
        return [(self[f"account_{n}"], self[f"debit_{n}"], self[f"credit_{n}"]) for n in range(1, CORRECTION_LINES + 1)]

    def clean(self) -> dict:
        from core.money import is_known_currency, major_to_minor

        data = super().clean()
        currency = (data.get("currency") or "").upper()
        data["currency"] = currency
        if not is_known_currency(currency):
            self.add_error("currency", f"Unknown currency '{currency}'.")
            return data
        lines = []
        for n in range(1, CORRECTION_LINES + 1):
            account, debit, credit = data.get(f"account_{n}"), data.get(f"debit_{n}"), data.get(f"credit_{n}")
            if not account and not debit and not credit:
                continue
            if not account or bool(debit) == bool(credit):
                self.add_error(f"account_{n}", "Each line needs an account and either a debit or a credit.")
                continue
            try:
                amount = major_to_minor(debit, currency) if debit else -major_to_minor(credit, currency)
            except ValueError as error:
                self.add_error(f"debit_{n}" if debit else f"credit_{n}", str(error))
                continue
            lines.append((account, amount))
        data["lines"] = lines
        return data
