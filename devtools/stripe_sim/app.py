"""The simulator's protocol: Stripe's refunds subset and PaymentIntent cancel, as a pure function of a request.

No sockets and no threads here (see `simulator.py` for those), so every rule
about modes, validation and idempotency reads top to bottom in one class.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import string
import time
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl, unquote

from devtools.stripe_sim.store import SimulatorStore

API_VERSION = "2024-10-28.acacia"
_REFUND_PATH = re.compile(r"^/v1/refunds/([^/]+)$")
_INTENT_PATH = re.compile(r"^/v1/payment_intents/([^/]+)$")
_CANCEL_PATH = re.compile(r"^/v1/payment_intents/([^/]+)/cancel$")
_FAIL_PATH = re.compile(r"^/_sim/refunds/([^/]+)/fail$")
_ID_ALPHABET = string.ascii_letters + string.digits
_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}
_CANCELLATION_REASONS = {"duplicate", "fraudulent", "requested_by_customer", "abandoned"}
# The PaymentIntent statuses Stripe cancels from; `processing` only in rare cases, which the simulator leaves out.
_CANCELABLE = frozenset({"requires_payment_method", "requires_capture", "requires_confirmation", "requires_action"})
_INTENT_STATUSES = _CANCELABLE | {"processing", "succeeded", "canceled"}


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything the simulator can be told on its command line."""

    db_path: str
    host: str = "127.0.0.1"
    port: int = 8765
    webhook_url: str | None = None
    webhook_secret: str | None = None
    async_delay: float = 1.0
    stall: float = 10.0
    api_key: str | None = None
    webhook_max_attempts: int = 8
    webhook_backoff: float = 1.0
    webhook_timeout: float = 5.0


@dataclass
class SimRequest:
    method: str
    path: str
    query: str
    headers: Message
    body: bytes


@dataclass
class SimResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to stall before answering (timeout mode)


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def error_response(status: int, message: str, *, type_: str = "invalid_request_error", **extra: Any) -> SimResponse:
    return SimResponse(status, {"error": {"type": type_, "message": message, **extra}})


def _mode(payment_intent: str) -> str:
    for mode in ("ok", "async", "fail", "timeout", "5xx", "broken", "captured"):
        if payment_intent.startswith(f"pi_sim_{mode}_"):
            return mode
    return "ok"


def make_event(
    event_type: str,
    obj: dict[str, Any],
    created: int,
    *,
    previous: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """A Stripe event envelope around a snapshot of `obj`."""
    data: dict[str, Any] = {"object": obj}
    if previous:
        data["previous_attributes"] = previous
    return {
        "id": new_id("evt_"),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": idempotency_key},
        "type": event_type,
    }


class SimulatorApp:
    """The protocol: turns a parsed request into a response. No sockets here."""

    def __init__(self, config: SimulatorConfig, store: SimulatorStore) -> None:
        self.config = config
        self.store = store
        self.clock_offset = 0.0

    def now(self) -> float:
        """The simulated clock: real time shifted by POST /_sim/clock (for `created`)."""
        return time.time() + self.clock_offset

    def handle(self, req: SimRequest) -> SimResponse:
        """Route one request; /_sim/* helpers need no API key, /v1/* does."""
        if req.path.startswith("/_sim/"):
            return self._admin(req)
        scope = self._scope(req)
        if scope is None:
            return error_response(401, "You did not provide a valid API key (Authorization: Bearer).")
        if req.path == "/v1/refunds" and req.method == "POST":
            return self._create(req, scope)
        if req.path == "/v1/refunds" and req.method == "GET":
            return self._list(req)
        if req.path == "/v1/payment_intents" and req.method == "POST":
            return self._create_intent(req, scope)
        match = _CANCEL_PATH.match(req.path)
        if match and req.method == "POST":
            return self._cancel_intent(req, scope, unquote(match.group(1)))
        match = _INTENT_PATH.match(req.path)
        if match and req.method == "GET":
            intent_id = unquote(match.group(1))
            return SimResponse(200, self.store.get_intent(intent_id) or self._unknown_intent(intent_id))
        match = _REFUND_PATH.match(req.path)
        if match and req.method == "GET":
            refund_id = unquote(match.group(1))
            obj = self.store.get_refund(refund_id)
            if obj is None:
                return error_response(
                    404,
                    f"No such refund: '{refund_id}'",
                    code="resource_missing",
                    param="id",
                )
            return SimResponse(200, obj)
        return error_response(404, f"Unrecognized request URL ({req.method}: {req.path}).")

    def _scope(self, req: SimRequest) -> str | None:
        """Idempotency keys are scoped per API key, as at Stripe."""
        scheme, _, token = (req.headers.get("Authorization") or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        if self.config.api_key and not secrets.compare_digest(token, self.config.api_key):
            return None
        return hashlib.sha256(token.encode()).hexdigest()[:16]

    def _create(self, req: SimRequest, scope: str) -> SimResponse:
        pairs = parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        params, problem = self._validate_create(pairs)
        if problem is not None:
            return problem  # like Stripe: validation errors are not stored
        key, echo, answered = self._claim(req, scope, pairs)
        if answered is not None:
            return answered
        try:
            return self._execute(params, scope, key, echo)
        except BaseException:
            if key is not None:
                self.store.release(scope, key)  # nothing was saved: the key is free again
            raise

    def _claim(
        self, req: SimRequest, scope: str, pairs: list[tuple[str, str]]
    ) -> tuple[str | None, dict[str, str], SimResponse | None]:
        """The request's idempotency key, claimed: (key, echo headers, None) — or the answer it already has."""
        key = (req.headers.get("Idempotency-Key") or "").strip() or None
        echo = {"Idempotency-Key": key} if key else {}
        if key is None:
            return None, echo, None
        if len(key) > 255:
            return key, echo, error_response(400, "Idempotency-Key must be at most 255 characters.")
        fingerprint = hashlib.sha256(json.dumps([req.path, sorted(pairs)]).encode()).hexdigest()
        state, status, body = self.store.claim(scope, key, fingerprint, self.now())
        if state == "mismatch":
            return (
                key,
                echo,
                error_response(
                    400,
                    f"Idempotency key '{key}' was already used with different parameters; "
                    "use a new key for a different request.",
                    type_="idempotency_error",
                ),
            )
        if state == "in_use":
            resp = error_response(
                409,
                "Another request with this idempotency key is still in progress; retry later.",
                code="idempotency_key_in_use",
            )
            resp.headers["Stripe-Should-Retry"] = "true"
            return key, echo, resp
        if state == "replay":
            return key, echo, SimResponse(status, body, {**echo, "Idempotent-Replayed": "true"})
        return key, echo, None

    def _execute(self, params: dict[str, Any], scope: str, key: str | None, echo: dict[str, str]) -> SimResponse:
        pi = params["payment_intent"]
        mode = _mode(pi)
        if mode == "5xx" and self.store.bump_fault(scope, key or f"pi:{pi}") <= 2:
            if key is not None:
                self.store.release(scope, key)
            return error_response(500, "Simulated provider error (pi_sim_5xx_).", type_="api_error")
        if mode == "broken":
            # One request the provider cannot serve, while it serves every other one.
            if key is not None:
                self.store.release(scope, key)
            return error_response(500, "Simulated provider error (pi_sim_broken_).", type_="api_error")
        now = int(self.now())
        status = {"async": "pending", "fail": "failed"}.get(mode, "succeeded")
        obj: dict[str, Any] = {
            "id": new_id("re_"),
            "object": "refund",
            "amount": params["amount"],
            "balance_transaction": new_id("txn_"),
            "charge": "ch_" + hashlib.sha256(pi.encode()).hexdigest()[:24],
            "created": now,
            "currency": params["currency"],
            "metadata": params["metadata"],
            "payment_intent": pi,
            "reason": params["reason"],
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": status,
            "transfer_reversal": None,
        }
        event_types = ["refund.created"]
        if status == "failed":
            obj["failure_reason"] = "expired_or_canceled_card"
            obj["failure_balance_transaction"] = new_id("txn_")
            event_types.append("refund.failed")
        events = [make_event(t, obj, now, idempotency_key=key) for t in event_types]
        settle_at = self.now() + self.config.async_delay if status == "pending" else None
        idem = (scope, key) if key is not None else None
        with_webhooks = bool(self.config.webhook_url)
        self.store.create_refund(obj, settle_at, idem, events if with_webhooks else [])
        delay = self.config.stall if mode == "timeout" else 0.0
        return SimResponse(200, obj, dict(echo), delay=delay)

    # --- payment intents: voids (issue 15) ------------------------------------------------------------

    def _unknown_intent(self, intent_id: str, *, amount: int = 0, currency: str = "usd", status: str = "") -> dict:
        """A payment intent the simulator was not told of: an authorization (a captured one for `pi_sim_captured_*`).

        Like refunds, the simulator knows no payments; its amount is 0 unless
        registered with POST /_sim/payment_intents.
        """
        return {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "manual",
            "created": int(self.now()),
            "currency": currency,
            "livemode": False,
            "metadata": {},
            "status": status or ("succeeded" if _mode(intent_id) == "captured" else "requires_capture"),
        }

    def _cancel_intent(self, req: SimRequest, scope: str, intent_id: str) -> SimResponse:
        """POST /v1/payment_intents/{id}/cancel, as Stripe answers it.

        A cancelable intent becomes `canceled` (an authorization's
        `amount_capturable` goes to 0) and `payment_intent.canceled` is sent;
        any other (canceled already, captured) is refused with 400
        `payment_intent_unexpected_state` carrying the intent. Both answers are
        stored under the idempotency key and replayed for it. The 5xx, broken
        and timeout modes of the intent id behave as for refunds.
        """
        pairs = parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        reason = None
        for name, value in pairs:
            if name == "cancellation_reason" and value in _CANCELLATION_REASONS:
                reason = value
            elif name == "cancellation_reason":
                return error_response(400, "Invalid cancellation_reason.", code="parameter_invalid_empty", param=name)
            elif name != "expand[]":
                return error_response(400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name)
        key, echo, answered = self._claim(req, scope, pairs)
        if answered is not None:
            return answered
        idem = (scope, key) if key is not None else None
        mode = _mode(intent_id)
        if mode in ("5xx", "broken") and (mode == "broken" or self.store.bump_fault(scope, key or intent_id) <= 2):
            if key is not None:
                self.store.release(scope, key)
            return error_response(500, f"Simulated provider error (pi_sim_{mode}_).", type_="api_error")
        now = int(self.now())

        def events(obj: dict[str, Any]) -> list[dict[str, Any]]:
            if not self.config.webhook_url:
                return []
            return [make_event("payment_intent.canceled", obj, now, idempotency_key=key)]

        try:
            canceled, obj = self.store.cancel_intent(
                intent_id,
                unknown=self._unknown_intent(intent_id),
                cancelable=_CANCELABLE,
                changes={
                    "status": "canceled",
                    "canceled_at": now,
                    "cancellation_reason": reason,
                    "amount_capturable": 0,
                },
                idem=idem,
                make_events=events,
            )
        except BaseException:
            if key is not None:
                self.store.release(scope, key)
            raise
        if not canceled:
            refusal = error_response(
                400,
                f"You cannot cancel this PaymentIntent because it has a status of {obj['status']}.",
                code="payment_intent_unexpected_state",
                payment_intent=obj,
            )
            if idem is not None:
                self.store.store_answer(idem, refusal.status, refusal.body)
            refusal.headers.update(echo)
            return refusal
        delay = self.config.stall if mode == "timeout" else 0.0
        return SimResponse(200, obj, dict(echo), delay=delay)

    def _create_intent(self, req: SimRequest, scope: str) -> SimResponse:
        """POST /v1/payment_intents (issue 16, the synthetic refund's test payment), idempotently.

        `amount`, `currency`, `confirm`, `payment_method`, `capture_method`, `payment_method_types[]`
        and `metadata[…]`. Confirmed with a payment method it is `succeeded` (captured), or
        `requires_capture` with `capture_method=manual`; otherwise `requires_payment_method`. Every
        test card succeeds here. The id is `pi_sim_ok_…`, so refunds of it succeed. No webhook is
        sent for it (the app ignores payment events but a void's).
        """
        pairs = parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        form: dict[str, str] = {}
        metadata: dict[str, str] = {}
        for name, value in pairs:
            if name.startswith("metadata[") and name.endswith("]"):
                metadata[name[9:-1]] = value
            elif name in ("amount", "currency", "confirm", "payment_method", "capture_method"):
                form[name] = value
            elif name not in ("payment_method_types[]", "expand[]"):
                return error_response(400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name)
        amount = form.get("amount", "")
        if not re.fullmatch(r"[0-9]+", amount) or int(amount) <= 0:
            return error_response(400, "amount must be a positive integer.", code="parameter_invalid_integer")
        currency = form.get("currency", "")
        if not re.fullmatch(r"[A-Za-z]{3}", currency):
            return error_response(400, "Invalid currency.", code="invalid_currency", param="currency")
        key, echo, answered = self._claim(req, scope, pairs)
        if answered is not None:
            return answered
        manual = form.get("capture_method") == "manual"
        confirmed = form.get("confirm") == "true" and bool(form.get("payment_method"))
        status = ("requires_capture" if manual else "succeeded") if confirmed else "requires_payment_method"
        obj = self._unknown_intent(new_id("pi_sim_ok_"), amount=int(amount), currency=currency.lower(), status=status)
        obj["capture_method"] = "manual" if manual else "automatic"
        obj["metadata"] = metadata
        obj["amount_capturable"] = int(amount) if status == "requires_capture" else 0
        obj["amount_received"] = int(amount) if status == "succeeded" else 0
        self.store.put_intent(obj)
        if key is not None:
            self.store.store_answer((scope, key), 200, obj)
        return SimResponse(200, obj, dict(echo))

    def _register_intent(self, form: dict[str, str]) -> SimResponse:
        """POST /_sim/payment_intents (id, amount, currency, status): set up an intent as a test needs it."""
        intent_id = form.get("id") or new_id("pi_sim_ok_")
        status = form.get("status") or "requires_capture"
        amount = form.get("amount") or "0"
        if status not in _INTENT_STATUSES or not re.fullmatch(r"[0-9]+", amount):
            return error_response(400, "status must be a PaymentIntent status and amount a whole number.")
        obj = self._unknown_intent(
            intent_id, amount=int(amount), currency=(form.get("currency") or "usd").lower(), status=status
        )
        if status == "requires_capture":
            obj["amount_capturable"] = int(amount)
        elif status == "succeeded":
            obj["amount_received"] = int(amount)
        self.store.put_intent(obj)
        return SimResponse(200, obj)

    def _validate_create(self, pairs: list[tuple[str, str]]) -> tuple[dict[str, Any], SimResponse | None]:
        params: dict[str, Any] = {"metadata": {}, "reason": None}
        for name, value in pairs:
            if name.startswith("metadata[") and name.endswith("]"):
                params["metadata"][name[9:-1]] = value
            elif name in ("payment_intent", "amount", "currency", "reason"):
                params[name] = value
            elif name != "expand[]":
                return params, error_response(
                    400,
                    f"Received unknown parameter: {name}",
                    code="parameter_unknown",
                    param=name,
                )
        if not params.get("payment_intent"):
            return params, error_response(
                400,
                "Must provide payment_intent (the simulator does not support charge).",
                code="parameter_missing",
                param="payment_intent",
            )
        amount = str(params.get("amount", ""))
        if not re.fullmatch(r"[0-9]+", amount) or int(amount) <= 0:
            return params, error_response(
                400,
                "amount must be a positive integer (the simulator knows no captured amounts).",
                code="parameter_invalid_integer",
                param="amount",
            )
        params["amount"] = int(amount)
        currency = params.get("currency") or params["metadata"].get("currency") or "usd"
        if not re.fullmatch(r"[A-Za-z]{3}", currency):
            return params, error_response(400, "Invalid currency.", code="invalid_currency", param="currency")
        params["currency"] = currency.lower()
        if params["reason"] is not None and params["reason"] not in _REASONS:
            return params, error_response(400, "Invalid reason.", code="parameter_invalid_empty", param="reason")
        return params, None

    def _list(self, req: SimRequest) -> SimResponse:
        filters: dict[str, int] = {}
        payment_intent = starting_after = None
        limit = 10
        for name, value in parse_qsl(req.query, keep_blank_values=True):
            created_op = re.fullmatch(r"created(?:\[(gt|gte|lt|lte)\])?", name)
            if name in ("limit",) or created_op:
                if not re.fullmatch(r"-?[0-9]+", value):
                    return error_response(
                        400,
                        f"Invalid integer: {value}",
                        code="parameter_invalid_integer",
                        param=name,
                    )
                if name == "limit":
                    limit = int(value)
                else:
                    filters[created_op.group(1) or "eq"] = int(value)  # type: ignore[union-attr]
            elif name == "payment_intent":
                payment_intent = value
            elif name == "starting_after":
                starting_after = value
            elif name != "expand[]":
                return error_response(
                    400,
                    f"Received unknown parameter: {name}",
                    code="parameter_unknown",
                    param=name,
                )
        if not 1 <= limit <= 100:
            return error_response(400, "limit must be between 1 and 100.", param="limit")
        try:
            data, has_more = self.store.list_refunds(
                payment_intent=payment_intent,
                created=filters,
                limit=limit,
                starting_after=starting_after,
            )
        except LookupError:
            return error_response(
                400,
                f"No such refund: '{starting_after}'",
                code="resource_missing",
                param="starting_after",
            )
        return SimResponse(
            200,
            {
                "object": "list",
                "url": "/v1/refunds",
                "has_more": has_more,
                "data": data,
            },
        )

    def _fail_after_success(self, refund_id: str, form: dict[str, str]) -> SimResponse:
        """POST /_sim/refunds/{id}/fail: the provider fails a refund after it succeeded (a reversal).

        Stripe tells it with `refund.updated` (previous status `succeeded`) and
        `charge.refund.updated`, both about the same refund object; `failure_reason`
        (form field) defaults to `expired_or_canceled_card`.
        """
        reason = form.get("failure_reason") or "expired_or_canceled_card"

        def events(obj: dict[str, Any]) -> list[dict[str, Any]]:
            if not self.config.webhook_url:
                return []
            now, previous = int(self.now()), {"status": "succeeded"}
            kinds = ("refund.updated", "charge.refund.updated")
            return [make_event(kind, obj, now, previous=previous) for kind in kinds]

        obj, changed = self.store.fail_after_success(refund_id, reason, events)
        if obj is None:
            return error_response(404, f"No such refund: '{refund_id}'", code="resource_missing", param="id")
        if not changed:
            return error_response(400, f"Refund {refund_id} is {obj['status']}: only a succeeded refund can fail.")
        return SimResponse(200, obj)

    def _admin(self, req: SimRequest) -> SimResponse:
        if req.path == "/_sim/health" and req.method == "GET":
            return SimResponse(200, {"status": "ok", **self.store.stats()})
        if req.path == "/_sim/webhooks" and req.method == "GET":
            return SimResponse(200, {"data": self.store.webhook_log()})
        if req.path == "/_sim/reset" and req.method == "POST":
            self.store.reset()
            self.clock_offset = 0.0
            return SimResponse(200, {"status": "reset"})
        if req.path == "/_sim/payment_intents" and req.method == "POST":
            return self._register_intent(dict(parse_qsl(req.body.decode() or req.query)))
        match = _FAIL_PATH.match(req.path)
        if match and req.method == "POST":
            return self._fail_after_success(unquote(match.group(1)), dict(parse_qsl(req.body.decode() or req.query)))
        if req.path == "/_sim/clock" and req.method == "POST":
            form = dict(parse_qsl(req.body.decode() or req.query))
            try:
                self.clock_offset = float(form.get("offset", "0"))
            except ValueError:
                return error_response(400, "offset must be a number of seconds.")
            return SimResponse(200, {"offset": self.clock_offset, "now": int(self.now())})
        return error_response(404, f"Unrecognized request URL ({req.method}: {req.path}).")
