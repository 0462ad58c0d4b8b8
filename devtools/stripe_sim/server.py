"""A payment-provider simulator speaking the Stripe refunds subset and voids (SPEC §6).

It is a separate process - stdlib only, no Django, no database server - so the
app and its tests exercise the real wire protocol, real timeouts and real
signed webhooks. Behaviour is chosen by the payment intent id, like test cards:

    pi_sim_ok_*       succeeded at once
    pi_sim_async_*    pending; succeeded `--async-delay` seconds later (webhook)
    pi_sim_fail_*     failed, failure_reason expired_or_canceled_card
    pi_sim_timeout_*  first call per idempotency key: created, then the answer
                      stalls `--stall` seconds (past the client timeout);
                      a retry with the same key replays it at once
    pi_sim_5xx_*      HTTP 500 twice per key without creating anything, then ok
    pi_sim_broken_*   HTTP 500 api_error on every call, never creates anything
                      (one request failing while the provider serves the rest)
    pi_sim_captured_* (voids) the intent is captured: its cancel is refused
    anything else     succeeded at once

Voids (issue 15): POST /v1/payment_intents/{id}/cancel cancels an authorized
intent (`requires_capture`), sends `payment_intent.canceled`, and refuses any
other with 400 `payment_intent_unexpected_state` carrying the intent (a second
cancel, a captured intent); GET /v1/payment_intents/{id} reads one. An intent
the simulator was not told of is an authorization of unknown amount (0);
POST /_sim/payment_intents (id, amount, currency, status) sets one up.

Idempotency follows Stripe: same key + same parameters -> the stored answer
with `Idempotent-Replayed: true`; other parameters -> 400 idempotency_error;
a request still running with the key -> 409 idempotency_key_in_use. Unlike
Stripe, the 5xx mode stores no answer, so its third try succeeds.

State (refunds, idempotency keys, the webhook queue) lives in one SQLite file,
so a restart keeps refunds and resumes webhook delivery. Webhooks are Stripe
events signed by `signature.sign_payload`, retried with backoff from a
background thread. Test helpers: GET /_sim/health, GET /_sim/webhooks,
POST /_sim/reset, POST /_sim/clock (offset=<seconds> shifts `created`),
POST /_sim/refunds/<id>/fail (failure_reason=…: a succeeded refund fails
afterwards, as when a card issuer returns it; webhooks refund.updated and
charge.refund.updated).

Run it with `python -m devtools.stripe_sim.server --port 8765 --db sim.sqlite3
--webhook-url http://127.0.0.1:8000/webhooks/payments`, or through Django with
`manage.py run_provider_sim` (same options).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import SplitResult, urlsplit

from devtools.http_server import AppHandler, AppServer, Listening, Reply
from devtools.stripe_sim.app import (
    API_VERSION,
    SimRequest,
    SimulatorApp,
    SimulatorConfig,
    error_response,
    make_event,
    new_id,
)
from devtools.stripe_sim.store import SimulatorStore
from providers.stripe.signature import sign_payload

__all__ = ["ProviderSimulator", "SimulatorConfig", "main", "serve"]


class _Handler(AppHandler):
    """`SimulatorApp` over HTTP, with Stripe's answer headers and the idempotency key in the log line."""

    server_version = "ProviderSimulator/1"
    log_label = "sim"

    def reply(self, url: SplitResult, body: bytes) -> Reply:
        request = SimRequest(self.command, url.path, url.query, self.headers, body)
        try:
            response = self.server.app.handle(request)
        except Exception:  # noqa: BLE001 - a simulator bug still answers like an API
            traceback.print_exc(file=sys.stderr)
            response = error_response(500, "Simulator internal error.", type_="api_error")
        if response.delay:
            time.sleep(response.delay)
        key = self.headers.get("Idempotency-Key")
        log = f" key={key}" if key else ""
        if response.headers.get("Idempotent-Replayed"):
            log += " replayed"
        headers = {"Request-Id": new_id("req_"), "Stripe-Version": API_VERSION, **response.headers}
        return Reply(response.status, json.dumps(response.body).encode(), "application/json", headers, log)


class ProviderSimulator(Listening):
    """The server plus its background workers (settlement, webhook delivery)."""

    def __init__(self, config: SimulatorConfig) -> None:
        if config.webhook_url and not config.webhook_secret:
            raise ValueError("a webhook secret is required to send webhooks")
        if config.webhook_url and urlsplit(config.webhook_url).scheme not in ("http", "https"):
            raise ValueError("the webhook URL must be http(s)")
        self.config = config
        self.store = SimulatorStore(config.db_path)
        self.app = SimulatorApp(config, self.store)
        self.httpd = AppServer((config.host, config.port), _Handler)
        self.httpd.app = self.app
        self._stop = threading.Event()
        # No proxies: webhooks go straight to the configured URL.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._threads = [
            threading.Thread(target=self._settle_loop, name="sim-settle", daemon=True),
            threading.Thread(target=self._deliver_loop, name="sim-webhooks", daemon=True),
        ]

    def serve_forever(self) -> None:
        for thread in self._threads:
            thread.start()
        self.httpd.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        self._stop.set()
        self.httpd.server_close()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=2)
        self.store.close()

    def _settle_loop(self) -> None:
        """Turn due pending refunds into succeeded ones (async mode)."""
        while not self._stop.wait(0.05):
            self.store.settle_due(self.app.now(), self._settled_events)

    def _settled_events(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        if not self.config.webhook_url:
            return []
        previous = {"status": "pending"}
        return [make_event("refund.updated", obj, int(self.app.now()), previous=previous)]

    def _deliver_loop(self) -> None:
        while not self._stop.is_set():
            rows = self.store.due_webhooks(time.time()) if self.config.webhook_url else []
            for row in rows:
                if self._stop.is_set():
                    return
                self._deliver(row)
            if not rows:
                self._stop.wait(0.05)

    def _deliver(self, row: dict[str, Any]) -> None:
        """One signed POST; on failure schedule the next try (bounded, jittered)."""
        payload = row["payload"].encode()
        assert self.config.webhook_url and self.config.webhook_secret
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self.config.webhook_url,
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign_payload(payload, self.config.webhook_secret),
                "User-Agent": "ProviderSimulator/1 (+webhooks)",
            },
        )
        error = None
        try:
            with self._opener.open(request, timeout=self.config.webhook_timeout) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:  # refused, timeout, bad URL
            status, error = 0, f"{type(exc).__name__}: {exc}"
        attempts, outcome = row["attempts"] + 1, ""
        if 200 <= status < 300:
            self.store.mark_delivered(row["seq"], attempts, time.time())
        else:
            dead = attempts >= self.config.webhook_max_attempts
            backoff = min(self.config.webhook_backoff * 2 ** (attempts - 1), 3600.0)
            next_at = time.time() + backoff * random.uniform(0.8, 1.2)
            self.store.mark_failed(row["seq"], attempts, next_at, dead, error or f"HTTP {status}")
            outcome = " - giving up" if dead else f" - next try in {next_at - time.time():.1f}s"
        sys.stderr.write(
            f"sim webhook {row['type']} {row['event_id']} attempt={attempts} "
            f"-> {status or 'no answer'}{' ' + error if error else ''}{outcome}\n"
        )


def serve(config: SimulatorConfig) -> None:
    """Run until SIGINT/SIGTERM; prints the listening URL on stdout first."""
    sim = ProviderSimulator(config)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"provider simulator listening on {sim.url}", flush=True)
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sim.close()


def build_arg_parser() -> argparse.ArgumentParser:
    """The stand-alone command line (`python -m devtools.stripe_sim.server`)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with `manage.py run_provider_sim`."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--db", default="provider_sim.sqlite3", help="SQLite state file")
    parser.add_argument("--webhook-url", default=None, help="where to POST signed events")
    parser.add_argument("--webhook-secret", default=None, help="default: $PROVIDER_WEBHOOK_SECRET")
    parser.add_argument("--async-delay", type=float, default=1.0, help="pending -> succeeded")
    parser.add_argument("--stall", type=float, default=10.0, help="timeout mode stall seconds")
    parser.add_argument("--api-key", default=None, help="accept only this bearer key")
    parser.add_argument("--webhook-max-attempts", type=int, default=8)
    parser.add_argument("--webhook-backoff", type=float, default=1.0, help="first retry delay")


def config_from_args(args: argparse.Namespace, *, default_secret: str | None = None) -> SimulatorConfig:
    """Options win; then `default_secret` (Django settings); then the environment."""
    return SimulatorConfig(
        db_path=args.db,
        host=args.host,
        port=args.port,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret or default_secret or os.environ.get("PROVIDER_WEBHOOK_SECRET"),
        async_delay=args.async_delay,
        stall=args.stall,
        api_key=args.api_key,
        webhook_max_attempts=args.webhook_max_attempts,
        webhook_backoff=args.webhook_backoff,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point without Django; blocks until interrupted."""
    args = build_arg_parser().parse_args(argv)
    serve(config_from_args(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
