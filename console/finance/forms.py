"""Forms of the finance screens: what finance may ask for, checked before any service runs."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from django import forms
from django.conf import settings

from providers.base import ReportFormatError
from providers.registry import UnknownProvider, default_provider_name, get_provider, provider_choices
from reconciliation.enums import ItemKind, RunSource
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
