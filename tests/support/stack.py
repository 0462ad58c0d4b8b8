"""A whole running system for end-to-end tests: simulator + gunicorn + Celery worker(s)."""

from __future__ import annotations

import contextlib
import copy
import tempfile
from pathlib import Path
from typing import ClassVar

import redis
from django.conf import settings

from tests.support.live import (
    CeleryWorker,
    GunicornServer,
    OutboxRelayProcess,
    delete_cache_keys,
    delete_queues,
    free_port,
    new_namespace,
    queued_messages,
    stack_env,
    stack_simulator,
    wait_for,
    webhooks_queue,
)
from tests.support.slack_sim import APPROVALS_CHANNEL, SlackSimulator


class Stack:
    """The processes of one running system, in a namespace of their own (queues, cache keys).

    The namespace keeps stacks apart in Redis; the database they cannot keep
    apart: every stack works on the session's test database, and a stack's
    sweeper would hand another stack's outbox messages to its own simulator.
    So one stack runs at a time, and starting a second one is an error.

    `webhooks` is the provider simulator's webhooks to the stack; `webhooks_worker`
    runs merchants' webhook deliveries as production does: a worker of their own
    on the webhooks queue (threads pool), which every other worker then leaves
    alone (`-X`). Without it the main worker consumes that queue too.

    `handoff` is OUTBOX_HANDOFF for every app process: with "relay" the web
    and workers publish no outbox task and `manage.py outbox_relay` runs
    beside them (core.handoff); beat's sweeps run in both modes.
    """

    _running: ClassVar[Stack | None] = None

    def __init__(
        self,
        *,
        web_workers: int = 2,
        worker_concurrency: int = 2,
        stall: float = 3.0,
        webhooks: bool = True,
        slack: bool = False,
        webhooks_worker: bool = False,
        webhooks_concurrency: int = 8,
        extra_env: dict[str, str] | None = None,
        handoff: str = "publish",
    ) -> None:
        if handoff not in ("publish", "relay"):
            raise ValueError(f"handoff is publish or relay, not {handoff!r}")
        self.namespace = new_namespace("stack")
        self.tmp = tempfile.TemporaryDirectory(prefix=f"{self.namespace}-")
        self.directory = Path(self.tmp.name)
        self.web_workers, self.worker_concurrency = web_workers, worker_concurrency
        self.web_port = free_port()
        self.simulator = stack_simulator(
            self.directory,
            # Without webhooks, only our own calls (and retries) can settle a refund.
            webhook_url=f"http://127.0.0.1:{self.web_port}/webhooks/payments" if webhooks else None,
            stall=stall,
        )
        # With `slack`, a Slack simulator the app posts cards to, and whose clicks reach the stack's web.
        self.slack: SlackSimulator | None = None
        if slack:
            self.slack = SlackSimulator(
                log_path=self.directory / "slack_sim.log",
                interactions_url=f"{self.url}/integrations/slack/interactions",
            )
        # Settings of the app processes beyond the usual (a private broker, cache or database address).
        self.extra_env = extra_env or {}
        self.env: dict[str, str] = {}
        self.web: GunicornServer | None = None
        self.workers: list[CeleryWorker] = []
        self.webhooks_worker, self.webhooks_concurrency = webhooks_worker, webhooks_concurrency
        self.webhook_workers: list[CeleryWorker] = []
        self.handoff = handoff
        self.relay: OutboxRelayProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> Stack:
        if Stack._running is not None:
            raise RuntimeError(f"{Stack._running.namespace} is still running: two stacks would share one outbox")
        Stack._running = self
        try:
            # The simulator first: the app processes are configured with the port it got.
            self.simulator.start()
            slack_env = {}
            if self.slack is not None:
                self.slack.start()
                slack_env = dict(
                    SLACK_BOT_TOKEN=self.slack.token,
                    SLACK_SIGNING_SECRET=self.slack.signing_secret,
                    SLACK_APPROVALS_CHANNEL=APPROVALS_CHANNEL,
                    SLACK_API_BASE=self.slack.api_base,
                    # Short, so a card behind after an outage is swept within a test.
                    SLACK_SWEEP_SECONDS="1",
                    SLACK_BACKOFF_MAX_SECONDS="3",
                )
            self.env = stack_env(
                namespace=self.namespace,
                PROVIDER_API_BASE=self.simulator.url,
                APP_BASE_URL=self.url,
                **{"OUTBOX_HANDOFF": self.handoff, **slack_env, **self.extra_env},
            )
            self.web = GunicornServer(env=self.env, workers=self.web_workers, port=self.web_port)
            self.web.start()
            self.add_worker(beat=True, concurrency=self.worker_concurrency)
            if self.webhooks_worker:
                self.add_webhooks_worker(concurrency=self.webhooks_concurrency)
            if self.handoff == "relay":
                self.relay = OutboxRelayProcess(env=self.env, directory=self.directory)
                self.relay.start()
        except BaseException:
            self.stop()
            raise
        return self

    def add_worker(self, *, beat: bool = False, concurrency: int = 2) -> CeleryWorker:
        worker = CeleryWorker(
            env=self.env,
            schedule_dir=self.directory,
            concurrency=concurrency,
            beat=beat,
            name=f"w{len(self.workers) + 1}",
            # With a webhooks worker, a slow merchant endpoint never takes a slot of provider or email work.
            exclude_queues=[webhooks_queue(self.namespace)] if self.webhooks_worker else None,
        )
        worker.start()
        self.workers.append(worker)
        return worker

    def add_webhooks_worker(self, *, concurrency: int = 8) -> CeleryWorker:
        """A worker on the webhooks queue alone, in threads: each delivery mostly waits on a merchant's answer."""
        if not self.webhooks_worker:
            raise RuntimeError("the other workers take the webhooks queue: start the stack with webhooks_worker=True")
        worker = CeleryWorker(
            env=self.env,
            schedule_dir=self.directory,
            concurrency=concurrency,
            beat=False,
            name=f"webhooks{len(self.webhook_workers) + 1}",
            queues=[webhooks_queue(self.namespace)],
            pool="threads",
        )
        worker.start()
        self.webhook_workers.append(worker)
        return worker

    def wait_idle(self, *, timeout: float = 30.0) -> None:
        """Wait until nothing is in flight: no outbox message to deliver, no webhook to post, no task queued.

        Called before a test's database flush, so what one test set going
        cannot write into the next one's (emptied) tables. A merchant webhook
        delivery counts while it is due (or due within a moment) to a live
        endpoint, or its endpoint is leased by a worker sending to it; one
        backing off from an endpoint that is down does not: a test leaves its
        receivers up (or its endpoints deleted) when it wants them drained.
        """
        from datetime import timedelta

        from django.db.models import F
        from django.utils import timezone

        from events.enums import DeliveryStatus, EndpointStatus
        from events.models import WebhookDelivery, WebhookEndpoint
        from integrations.models import SlackCard
        from refunds.enums import OutboxStatus
        from refunds.models import OutboxMessage

        def webhooks_idle() -> bool:
            now = timezone.now()
            due = WebhookDelivery.objects.filter(
                status=DeliveryStatus.PENDING,
                next_attempt_at__lte=now + timedelta(seconds=2),
                endpoint__status=EndpointStatus.ENABLED,
                endpoint__deleted_at__isnull=True,
            )
            return not due.exists() and not WebhookEndpoint.objects.filter(lease_expires_at__gt=now).exists()

        def idle() -> bool:
            return (
                not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists()
                and (not self.simulator.running or self.simulator.health()["webhooks_pending"] == 0)
                and queued_messages(self.broker_url, self.namespace) == 0
                and webhooks_idle()
                and (
                    self.slack is None
                    or not self.slack.running
                    or not SlackCard.objects.filter(posted_revision__lt=F("wanted_revision")).exists()
                )
            )

        wait_for(idle, timeout=timeout, interval=0.1, message=f"{self.namespace} to be idle")

    @property
    def broker_url(self) -> str:
        """The stack's broker: the session's Redis db, or what `extra_env` gave it (RabbitMQ, a private Redis)."""
        return self.extra_env.get("CELERY_BROKER_URL") or settings.CELERY_BROKER_URL

    def caches(self) -> dict:
        """The CACHES setting of the stack's processes, for `override_settings` in the test process."""
        caches = copy.deepcopy(settings.CACHES)
        caches["default"]["KEY_PREFIX"] = self.namespace
        if "REDIS_URL" in self.extra_env:
            caches["default"]["LOCATION"] = self.extra_env["REDIS_URL"]
        return caches

    def stop(self) -> None:
        try:
            # All shut down side by side (a worker's warm shutdown alone takes about two seconds).
            processes = [
                *self.workers,
                *self.webhook_workers,
                *([self.web] if self.web else []),
                *([self.relay] if self.relay else []),
            ]
            for process in processes:
                process.terminate()
            for process in processes:
                process.stop()
            self.simulator.stop()
            if self.slack is not None:
                self.slack.stop()
            # A private broker the test already stopped took its queues with it.
            with contextlib.suppress(redis.ConnectionError, OSError):
                delete_queues(self.namespace, self.broker_url)
            delete_cache_keys(self.namespace)
            self.tmp.cleanup()
        finally:
            if Stack._running is self:
                Stack._running = None
