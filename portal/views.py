"""The customer request portal, `/request/` (issue 15, docs/customer.md "Requesting a refund online").

Nothing of an order is shown before the customer proves the address on it:
a one-time code emailed to that address, or a signed link from the
merchant's own email. The first step answers the same page whether or not
an order matches (no code is sent when none does: a decoy row counts the
guesses instead), and every budget is charged for what was asked, not for
what exists. After the proof the session may see that one order, for a
limited time; the request goes through `refund_request` like every other,
as the customer.
"""

from __future__ import annotations

import functools
import logging
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from core.actor import Actor
from core.errors import CATALOG, ERR_EXCEEDS_REMAINING, DomainError
from core.i18n import babel_locale, format_amount, supported_language
from core.uploads import bounded_upload
from notifications.messages import message_get, message_id_for_state
from portal import session as portal_session
from portal.codes import access_code_verify, access_codes_issue, code_ttl
from portal.forms import HONEYPOT, CodeForm, RequestForm, StartForm
from portal.models import PortalSubmission
from portal.presenters import OrderView, order_view
from portal.ratelimit import client_wait, code_request_wait
from refunds.enums import RefundState
from refunds.models import Order, Refund
from refunds.services.evidence import (
    evidence_max_bytes,
    evidence_max_files,
    evidence_validate,
    refund_request_with_evidence,
)
from refunds.services.lines import LineRequest
from refunds.services.policy import policy_get_active
from refunds.services.request_links import request_link_order

logger = logging.getLogger("portal")


# --- language and headers --------------------------------------------------------------------------


def _language(request: HttpRequest) -> str:
    """The switch (`?lang=`, remembered for the visit), else what the browser asks for."""
    switched = supported_language(request.GET.get("lang"))
    if switched:
        request.session[portal_session.LANGUAGE] = switched
        return switched
    remembered = supported_language(request.session.get(portal_session.LANGUAGE))
    return remembered or translation.get_language_from_request(request)


def _speaking(view):
    """Run the view in the visitor's language (`language` keyword): forms and their help texts included."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        language = _language(request)
        with translation.override(language):
            return view(request, *args, language=language, **kwargs)

    return wrapper


def _languages(request: HttpRequest, current: str) -> list[dict]:
    return [
        {"code": code, "name": name, "href": f"{request.path}?lang={code}", "current": code == current}
        for code, name in settings.LANGUAGES
    ]


def _protect(response: HttpResponse, language: str) -> HttpResponse:
    """Headers of every portal answer: never indexed or cached, never sent to another site as a Referer."""
    response["X-Robots-Tag"] = "noindex, nofollow, noarchive"
    # Not no-referrer, as on the status page: browsers then send `Origin: null` with the forms' POSTs, which
    # the CSRF check refuses. Nothing leaves the site as a Referer; the signed link's own answer is no-referrer.
    response["Referrer-Policy"] = "same-origin"
    response["Content-Language"] = language
    patch_cache_control(response, private=True, no_store=True)
    patch_vary_headers(response, ["Accept-Language", "Cookie"])
    return response


def _page(request: HttpRequest, template: str, context: dict, *, language: str, status: int = 200) -> HttpResponse:
    with translation.override(language):
        base = {
            "brand": getattr(settings, "STATUS_PAGE_BRAND", "Refund desk"),
            "languages": _languages(request, language),
        }
        response = render(request, template, {**base, **context}, status=status)
    return _protect(response, language)


def _redirect(language: str, to: str, **kwargs) -> HttpResponse:
    return _protect(redirect(to, **kwargs), language)


def _rate_limited(request: HttpRequest, wait: float, language: str) -> HttpResponse:
    response = _page(request, "portal/rate_limited.html", {}, language=language, status=429)
    response["Retry-After"] = str(int(wait) + 1)
    return response


# --- step 1: order id and address ------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@_speaking
def start(request: HttpRequest, *, language: str) -> HttpResponse:
    """Ask for a code. Whatever was typed, the answer is the code page; only a matching order gets an email.

    The honeypot filled (a bot): the same answer, a decoy and nothing sent. The
    budgets are charged before the lookup, for the address (folded as the
    lookup folds it, portal.addresses) and order id typed.
    """
    if request.method == "GET":
        return _page(request, "portal/start.html", {"form": StartForm()}, language=language)
    form = StartForm(request.POST)
    if not form.is_valid():
        return _page(request, "portal/start.html", {"form": form}, language=language, status=400)
    email, order_id = form.cleaned_data["email"], form.cleaned_data["order_id"]
    wait = code_request_wait(request, email=email, order_id=order_id)
    if wait is not None:
        return _rate_limited(request, wait, language)
    nonce = portal_session.new_nonce()
    ids = access_codes_issue(order_id=order_id, email=email, nonce=nonce, language=language,
                             lookup=not form.cleaned_data[HONEYPOT])  # fmt: skip
    portal_session.pending_start(request, ids=ids, nonce=nonce, ttl_seconds=code_ttl().total_seconds())
    return _redirect(language, "portal:code")


# --- step 2: the code -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@_speaking
def code(request: HttpRequest, *, language: str) -> HttpResponse:
    """Type the code. A wrong or malformed one counts against CODE_MAX_ATTEMPTS, on the session's code rows.

    Only the rows count (locked, in the database), real codes and a miss's
    decoy alike, never the session: parallel requests of one session all
    read the same session, so a count kept there would run out later
    than the rows' and tell a burst of guesses whether the order exists.
    """
    record = portal_session.pending(request)
    if record is None:
        return _redirect(language, "portal:start")
    context = {"minutes": int(code_ttl().total_seconds() // 60)}
    if request.method == "GET":
        return _page(request, "portal/code.html", {**context, "form": CodeForm()}, language=language)
    wait = client_wait(request)
    if wait is not None:
        return _rate_limited(request, wait, language)
    form = CodeForm(request.POST)
    if not form.is_valid():
        return _page(request, "portal/code.html", {**context, "form": form}, language=language, status=400)
    result = access_code_verify(code_ids=list(record.get("ids") or []), nonce=record["nonce"],
                                code=form.cleaned_data["code"])  # fmt: skip
    if result.order is not None:
        portal_session.grant(request, result.order)
        return _redirect(language, "portal:order")
    expired = float(record.get("expires", 0)) < time.time()
    if expired or result.exhausted:
        portal_session.pending_clear(request)
        with translation.override(language):
            notice = _("That code has expired or was tried too often. Ask for a new one.")
        return _page(request, "portal/start.html", {"form": StartForm(), "notice": notice}, language=language,
                     status=400)  # fmt: skip
    with translation.override(language):
        form.add_error("code", _("That code is not right. Check the email and try again."))
    return _page(request, "portal/code.html", {**context, "form": form}, language=language, status=400)


# --- the merchant's signed link ---------------------------------------------------------------------


@require_safe
@_speaking
def link(request: HttpRequest, signed: str, *, language: str) -> HttpResponse:
    """A signed link from the merchant's email opens its order; a broken or old one offers the code instead."""
    wait = client_wait(request)
    if wait is not None:
        return _rate_limited(request, wait, language)
    order = request_link_order(signed)
    if order is None:
        response = _page(request, "portal/link_invalid.html", {}, language=language, status=404)
        response["Referrer-Policy"] = "no-referrer"
        return response
    portal_session.grant(request, order)
    # Off the signed URL at once: it stays out of the address bar, bookmarks and screenshots.
    response = _redirect(language, "portal:order")
    response["Referrer-Policy"] = "no-referrer"
    return response


# --- step 3: the order and the request ---------------------------------------------------------------


def _expired(request: HttpRequest, language: str) -> HttpResponse:
    with translation.override(language):
        notice = _("To see your order, confirm your email address first.")
    return _page(request, "portal/start.html", {"form": StartForm(), "notice": notice}, language=language, status=403)


# Evidence is refused by size while it streams in, before Django stores it (core.uploads); checks CSRF itself.
@bounded_upload(max_file_bytes=evidence_max_bytes, max_files=evidence_max_files)
@require_http_methods(["GET", "POST"])
@_speaking
def order(request: HttpRequest, *, language: str) -> HttpResponse:
    """The order this session proved: lines left to refund and the request form; a POST creates the refund."""
    granted = portal_session.granted_order(request)
    if granted is None:
        return _expired(request, language)
    if request.method == "POST":
        # A form sent again after it succeeded: its refund, even though the lines it took are no longer left.
        sent = _sent_before(str(request.POST.get("submission", ""))[:64], granted)
        if sent is not None:
            return _protect(sent, language)
    with translation.override(language):
        view = order_view(order=granted, policy=policy_get_active(), language=language)
    context = {"view": view}
    if request.method == "GET" or view.state not in ("open", "hold"):
        form = RequestForm(view=view) if view.state in ("open", "hold") else None
        return _page(request, "portal/order.html", {**context, "form": form}, language=language,
                     status=200 if request.method == "GET" else 409)  # fmt: skip
    form = RequestForm(request.POST, request.FILES, view=view)
    if not form.is_valid():
        return _page(request, "portal/order.html", {**context, "form": form}, language=language, status=400)
    return _submit_once(request, form, order=granted, view=view, language=language)


def _choice(form: RequestForm, view: OrderView) -> dict:
    """What the customer asked for, as `refund_request` takes it."""
    data = form.cleaned_data
    if view.state == "hold":
        # An authorized payment is released whole (a void): the full amount, never a share.
        return {"amount_minor": view.remaining_minor}
    instrument = data.get("instrument") or None
    if data.get("mode") == "prorate":
        return {"prorate": True, "instrument": instrument}
    lines = [LineRequest(sku=sku, quantity=quantity) for sku, quantity in data["lines"].items()]
    return {"lines": lines, "instrument": instrument}


def _submit_once(
    request: HttpRequest, form: RequestForm, *, order: Order, view: OrderView, language: str
) -> HttpResponse:
    """Create the refund unless this very form was sent already (its token is unique in the database).

    The token's row is inserted first, in the refund's transaction: a second
    copy racing on another process waits on the unique index, then fails and
    is sent to the first one's result. A refusal stores nothing, so the
    customer can correct the form and send it again.
    """
    token = form.cleaned_data["submission"]
    sent = _sent_before(token, order)
    if sent is not None:
        return sent
    try:
        uploads = evidence_validate(files=form.cleaned_data["evidence"])
        with transaction.atomic():
            submission = PortalSubmission.objects.create(token=token, order=order)
            refund = refund_request_with_evidence(
                order=order,
                **_choice(form, view),
                currency=view.currency,
                reason=form.cleaned_data["reason"],
                actor=Actor.for_customer(order.customer.email),
                customer_note=form.cleaned_data["note"],
                uploads=uploads,
            )
            submission.refund = refund
            submission.save(update_fields=["refund"])
    except IntegrityError:
        sent = _sent_before(token, order)
        if sent is None:
            raise
        return sent
    except DomainError as error:
        with translation.override(language):
            form.add_error(*_form_error(error))
        return _page(request, "portal/order.html", {"view": view, "form": form}, language=language,
                     status=error.http_status)  # fmt: skip
    return redirect("portal:done", public_id=refund.public_id)


def _form_error(error: DomainError) -> tuple[str | None, str]:
    """The refusal in the customer's language: our own words where the API's are for developers."""
    if error.details.get("field") == "evidence":
        return "evidence", _(
            "A file could not be accepted. Use photos (JPEG, PNG) or PDF documents, at most %(count)s files of "
            "%(size)s MB each."
        ) % {"count": evidence_max_files(), "size": evidence_max_bytes() // (1024 * 1024)}
    if error.code == ERR_EXCEEDS_REMAINING:
        return None, _("Part of what you chose has already been refunded. Check the quantities left and try again.")
    return None, str(CATALOG[error.code][2])


def _sent_before(token: str, order: Order) -> HttpResponse | None:
    submission = PortalSubmission.objects.filter(token=token, order=order, refund__isnull=False).first()
    if submission is None:
        return None
    return redirect("portal:done", public_id=submission.refund.public_id)


# --- the answer --------------------------------------------------------------------------------------


@require_safe
@_speaking
def done(request: HttpRequest, public_id: str, *, language: str) -> HttpResponse:
    """What happened to the request: decided at once, or when to expect the decision; the status link."""
    granted = portal_session.granted_order(request)
    refund = (
        Refund.objects.select_related("order__customer", "payment").filter(public_id=public_id, order=granted).first()
        if granted is not None
        else None
    )
    if refund is None:
        # Another order's refund, or access ran out: the same answer as no access at all.
        return _expired(request, language)
    locale = babel_locale(language, refund.order.customer.locale or "")
    with translation.override(language):
        message = message_get(message_id_for_state(refund.state, failure_retryable=refund.failure_retryable))
        context = {
            "refund": refund,
            "message": message,
            "reviewed": refund.state == RefundState.REQUESTED,
            "hours": int(getattr(settings, "REFUND_DECISION_SLA_HOURS", 24)),
            "amount": format_amount(refund.amount_minor, refund.currency, locale),
            "status_url": refund.status_url,
            "order_url": reverse("portal:order"),
        }
        return _page(request, "portal/done.html", context, language=language)


@require_http_methods(["POST"])
def leave(request: HttpRequest) -> HttpResponse:
    """Forget this browser's access (a shared computer)."""
    portal_session.revoke(request)
    portal_session.pending_clear(request)
    return redirect("portal:start")
