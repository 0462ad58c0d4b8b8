"""Merchant webhooks for staff (issue 14): each merchant's endpoints, their secrets shown once, the attempts log.

Who: whoever holds `events.manage_webhooks` (the access admin, who keeps the
merchants' API keys, and the operations admin). Every page and every POST is
behind that permission; everyone else gets the 403 page.

Views only translate: each POST calls one service (events.services.endpoints,
events.services.redeliver, refunds.services.merchants), which audits. A
secret exists in clear only in the response to the POST that made it
(create, rotate): it is never stored in the session or a message, and the
page says `Cache-Control: no-store`, so neither a reload of a GET page nor
the browser's cache shows it again.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.presenters.webhooks import (
    attempt_lines,
    attempts_page,
    days_text,
    endpoint_backlog,
    endpoint_row,
    merchant_endpoints,
    merchants_page,
    staff_endpoint,
)
from console.views.common import acting, console_permission
from console.webhook_forms import ContactEmailForm, EndpointForm
from core.errors import DomainError
from events.models import Event, WebhookEndpoint
from events.services.endpoints import endpoint_create, endpoint_delete, endpoint_rotate_secret, endpoint_update
from events.services.redeliver import event_redeliver
from refunds.models import Merchant
from refunds.permissions import Perm
from refunds.services.merchants import merchant_contact_update

FORBIDDEN = (
    "Merchant webhooks are managed by the access admin and the operations admin "
    "(permission “Manage merchants' webhook endpoints”)."
)
NAV = "merchant_webhooks"


def _gate(view):
    return console_permission(Perm.MANAGE_WEBHOOKS, forbidden_message=FORBIDDEN)(view)


def _merchant_or_404(slug: str) -> Merchant:
    merchant = Merchant.objects.filter(slug=slug).first()
    if merchant is None:
        raise Http404("No such merchant")
    return merchant


def _endpoint_or_404(public_id: str, *, live: bool = True) -> WebhookEndpoint:
    endpoint = staff_endpoint(public_id=public_id)
    if endpoint is None or (live and endpoint.deleted_at is not None):
        raise Http404("No such endpoint")
    return endpoint


def _secret_page(request: HttpRequest, endpoint: WebhookEndpoint, secret: str, *, rotated: bool) -> HttpResponse:
    """The one response that ever carries the secret in clear; never cached, never stored."""
    context = {"nav": NAV, "endpoint": endpoint, "merchant": endpoint.merchant, "secret": secret, "rotated": rotated}
    response = render(request, "console/webhooks/secret.html", context)
    add_never_cache_headers(response)
    return response


# --- merchants ----------------------------------------------------------------


@require_GET
@_gate
def merchants(request: HttpRequest) -> HttpResponse:
    """Every merchant: its contact, how many endpoints, how many failing or disabled."""
    context = {"nav": NAV, "page": merchants_page(page=request.GET.get("page"))}
    return render(request, "console/webhooks/merchants.html", context)


def _merchant_page(request: HttpRequest, merchant: Merchant, *, contact_form=None, status: int = 200) -> HttpResponse:
    live, deleted = merchant_endpoints(merchant=merchant)
    context = {
        "nav": NAV,
        "merchant": merchant,
        "endpoints": live,
        "deleted_endpoints": deleted,
        "contact_form": contact_form or ContactEmailForm(initial={"contact_email": merchant.contact_email}),
    }
    return render(request, "console/webhooks/merchant.html", context, status=status)


@require_GET
@_gate
def merchant(request: HttpRequest, slug: str) -> HttpResponse:
    """One merchant: its contact email and its endpoints (status, why disabled, failing since, last attempt)."""
    return _merchant_page(request, _merchant_or_404(slug))


@require_POST
@_gate
def contact(request: HttpRequest, slug: str) -> HttpResponse:
    """Change who is told when one of the merchant's endpoints is disabled for failing (audited)."""
    merchant = _merchant_or_404(slug)
    form = ContactEmailForm(request.POST)
    if form.is_valid():
        try:
            merchant_contact_update(
                merchant_id=merchant.pk, contact_email=form.cleaned_data["contact_email"], actor=acting(request)
            )
        except DomainError as error:
            form.add_error("contact_email", error.message)
    if not form.is_valid():
        return _merchant_page(request, merchant, contact_form=form, status=400)
    messages.success(request, "Contact email saved.")
    return redirect("console:webhooks_merchant", slug=merchant.slug)


# --- endpoints ----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@_gate
def create(request: HttpRequest, slug: str) -> HttpResponse:
    """A new endpoint for the merchant; on success the next page shows its secret, once."""
    merchant = _merchant_or_404(slug)
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            endpoint, secret = endpoint_create(
                merchant=merchant,
                url=data["url"].strip(),
                events=list(data["events"]),
                description=data["description"],
                actor=acting(request),
            )
        except DomainError as error:
            form.add_service_error(error)
        else:
            return _secret_page(request, endpoint, secret, rotated=False)
    status = 400 if request.method == "POST" else 200
    context = {"nav": NAV, "merchant": merchant, "form": form}
    return render(request, "console/webhooks/create.html", context, status=status)


def _endpoint_page(request: HttpRequest, endpoint: WebhookEndpoint, *, form=None, status: int = 200) -> HttpResponse:
    page = attempts_page(endpoint, page=request.GET.get("page"))
    if form is None and endpoint.deleted_at is None:
        form = EndpointForm(
            initial={"url": endpoint.url, "events": list(endpoint.events), "description": endpoint.description}
        )
    context = {
        "nav": NAV,
        "merchant": endpoint.merchant,
        "row": endpoint_row(endpoint),
        "endpoint": endpoint,
        "form": form,
        "backlog": endpoint_backlog(endpoint),
        "timeout_seconds": settings.WEBHOOK_TIMEOUT_SECONDS,
        "retry_window": days_text(settings.WEBHOOK_RETRY_WINDOW_SECONDS),
        "page": page,
        "attempts": attempt_lines(page),
    }
    return render(request, "console/webhooks/endpoint.html", context, status=status)


@require_GET
@_gate
def endpoint(request: HttpRequest, public_id: str) -> HttpResponse:
    """One endpoint: what it receives, edit, disable or enable, rotate, delete, and its attempts log."""
    return _endpoint_page(request, _endpoint_or_404(public_id, live=False))


@require_POST
@_gate
def edit(request: HttpRequest, public_id: str) -> HttpResponse:
    """Change the URL, the events or the description."""
    endpoint = _endpoint_or_404(public_id)
    form = EndpointForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            endpoint_update(
                endpoint_id=endpoint.pk,
                actor=acting(request),
                url=data["url"].strip(),
                events=list(data["events"]),
                description=data["description"],
            )
        except DomainError as error:
            form.add_service_error(error)
    if not form.is_valid():
        return _endpoint_page(request, endpoint, form=form, status=400)
    messages.success(request, "Endpoint saved.")
    return redirect("console:webhooks_endpoint", public_id=endpoint.public_id)


@require_POST
@_gate
def toggle(request: HttpRequest, public_id: str) -> HttpResponse:
    """Disable (deliveries wait) or enable again (what waited is sent; its failures are forgotten)."""
    endpoint = _endpoint_or_404(public_id)
    disable = request.POST.get("disabled") == "1"
    try:
        endpoint_update(endpoint_id=endpoint.pk, actor=acting(request), disabled=disable)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            "Disabled: events wait for it until it is enabled again."
            if disable
            else "Enabled: events that waited are sent now.",
        )
    return redirect("console:webhooks_endpoint", public_id=endpoint.public_id)


@require_POST
@_gate
def rotate(request: HttpRequest, public_id: str) -> HttpResponse:
    """A new secret, shown once on the next page; the old one keeps signing beside it for 24 hours."""
    endpoint = _endpoint_or_404(public_id)
    try:
        secret = endpoint_rotate_secret(endpoint_id=endpoint.pk, actor=acting(request))
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("console:webhooks_endpoint", public_id=endpoint.public_id)
    return _secret_page(request, endpoint, secret, rotated=True)


@require_http_methods(["GET", "POST"])
@_gate
def delete(request: HttpRequest, public_id: str) -> HttpResponse:
    """GET: what deleting means, and the confirm button. POST: delete (its history stays here)."""
    endpoint = _endpoint_or_404(public_id)
    if request.method == "GET":
        row = endpoint_row(endpoint)
        context = {"nav": NAV, "merchant": endpoint.merchant, "endpoint": endpoint, "row": row}
        return render(request, "console/webhooks/delete.html", context)
    try:
        endpoint_delete(endpoint_id=endpoint.pk, actor=acting(request))
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("console:webhooks_endpoint", public_id=endpoint.public_id)
    messages.success(request, f"Deleted {endpoint.url}. It receives nothing more; its attempts stay listed.")
    return redirect("console:webhooks_merchant", slug=endpoint.merchant.slug)


@require_POST
@_gate
def redeliver(request: HttpRequest, public_id: str, event_id: str) -> HttpResponse:
    """Send one event to this endpoint again (a new delivery, its own attempts; audited)."""
    endpoint = _endpoint_or_404(public_id)
    event = Event.objects.defer("data").filter(public_id=event_id, merchant_id=endpoint.merchant_id).first()
    if event is None:
        raise Http404("No such event")
    try:
        event_redeliver(event=event, actor=acting(request), endpoint=endpoint)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{event.public_id} ({event.type}) is queued for {endpoint.url} again.")
    return redirect("console:webhooks_endpoint", public_id=endpoint.public_id)
