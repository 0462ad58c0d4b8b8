"""A whole running system for end-to-end tests: simulator + gunicorn + Celery worker."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.support.live import CeleryWorker, GunicornServer, Simulator, free_port, stack_env


class Stack:
    def __init__(
        self, *, web_workers: int = 2, worker_concurrency: int = 2, stall: float = 3.0, webhooks: bool = True
    ) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="refund-stack-")
        web_port, sim_port = free_port(), free_port()
        self.env = stack_env(
            PROVIDER_API_BASE=f"http://127.0.0.1:{sim_port}", APP_BASE_URL=f"http://127.0.0.1:{web_port}"
        )
        self.simulator = Simulator(
            port=sim_port,
            db_path=Path(self.tmp.name) / "sim.sqlite3",
            # Without webhooks, only our own calls (and retries) can settle a refund.
            webhook_url=f"http://127.0.0.1:{web_port if webhooks else free_port()}/webhooks/payments",
            stall=stall,
        )
        self.web = GunicornServer(workers=web_workers, port=web_port, **self.env)
        self.workers = [CeleryWorker(env=self.env, concurrency=worker_concurrency, name="w1")]

    @property
    def url(self) -> str:
        return self.web.url

    def start(self) -> Stack:
        self.simulator.start()
        self.web.start()
        for worker in self.workers:
            worker.start()
        return self

    def add_worker(self, *, beat: bool = False) -> CeleryWorker:
        worker = CeleryWorker(env=self.env, beat=beat, name=f"w{len(self.workers) + 1}")
        worker.start()
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.web.stop()
        self.simulator.stop()
        self.tmp.cleanup()
