"""A simulator as a child process that announces its URL, for tests and benchmarks (stdlib only).

The simulators (`devtools.stripe_sim.server`, `devtools.slack_sim.server`)
start on port 0 and print `… listening on http://127.0.0.1:N` on stdout once
they serve, so a start waits for exactly that line instead of polling. The
port is kept: a restart binds the same one, which is what an outage of the
service looks like to the processes already configured with its URL.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


class AnnouncedProcess:
    """`python -m <module> <arguments>` with its stderr in `log_path`; restartable on the port it got."""

    what = "process"  # in errors: "<what> did not start"

    def __init__(self, *, log_path: Path, port: int = 0, env: dict[str, str] | None = None) -> None:
        self.log_path = Path(log_path)
        self.port = port
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """The module and its arguments (`--port` included), after `python -m`."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError(f"the {self.what} has no port before its first start")
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        env = {**(self.env if self.env is not None else os.environ), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *self.command()], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log
            )
        line = self._announced_line()
        if "listening on " not in line:
            self.stop()
            raise RuntimeError(f"{self.what} did not start; its log {self.log_path}:\n{self.log_path.read_text()}")
        self.port = int(line.rsplit(":", 1)[1].strip().rstrip("/"))
        return self

    def _announced_line(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                return self.process.stdout.readline().decode()
            if self.process.poll() is not None:
                return ""
        return ""

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None
