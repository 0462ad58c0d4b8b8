"""Infrastructure faults on demand, for the chaos tests and `benchmarks/faults.py`.

* `RedisServer` — a private `redis-server` (no persistence, like the one a
  deploy usually runs): `kill()` is an outage that loses every queued task and
  cached key, `start()` brings it back empty on the same port.
* `SmtpSink` — a mail server that keeps what it accepts, to count the
  customer emails a fault run sent (each exactly once, none lost).
* `TcpProxy` — a forwarder the app processes connect through instead of the
  real server (PostgreSQL here): `cut()` drops every open connection and
  turns new ones away, `restore()` forwards again. To a client that is
  exactly a database restart: sessions die mid-query, connects fail, then all
  is back with the data intact.

Stdlib only: the benchmarks import this without Django.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_connectable(port: int, *, up: bool, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} did not become {'reachable' if up else 'unreachable'} in {timeout}s")


class RedisServer:
    """A private redis-server on a port of its own; killable and restartable on the same port.

    Before `start()` (or after `kill()`) its port is reserved and nothing
    answers there: a broker or cache that is down from the first request.
    """

    def __init__(self, directory: Path | None = None, *, port: int = 0, name: str = "redis") -> None:
        # Its log lands here; a throw-away directory when the caller keeps none.
        self.directory = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix=f"{name}-"))
        self.port = port or _free_port()
        self.name = name
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian package redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--logfile", str(self.directory / f"{self.name}.log")],
            stdout=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self._wait_ping()
        return self

    def _wait_ping(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.directory}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} on port {self.port} did not answer PING in {timeout}s")

    def kill(self) -> None:
        """An outage: SIGKILL, so nothing is flushed and every client connection breaks at once."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None
        _wait_connectable(self.port, up=False)

    def stop(self) -> None:
        self.kill()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class TcpProxy:
    """Forwards 127.0.0.1:`port` to the target; `cut()` is an outage of the target, `restore()` its return.

    While cut it still accepts, and closes each new connection at once —
    what a client meets while the server restarts ("server closed the
    connection unexpectedly"); `refused` counts them, so a test can wait
    until a client really met the outage.
    """

    def __init__(self, target_host: str, target_port: int, *, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.port = port or _free_port()
        self._listener: socket.socket | None = None
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()
        self._up = True
        self.connections = 0  # forwarded in all
        self.refused = 0  # turned away while cut

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept_loop, args=(listener,), name=f"proxy-{self.port}", daemon=True).start()
        return self

    def cut(self) -> None:
        """Break every open connection and turn new ones away, as a server restart does."""
        with self._lock:
            self._up = False
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            _reset(*pair)

    def restore(self) -> None:
        """Forward new connections again (the server is back)."""
        with self._lock:
            self._up = True

    def stop(self) -> None:
        self.cut()
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped: the listener was closed
            with self._lock:
                up = self._up
                if not up:
                    self.refused += 1
            if not up:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            pair = (client, upstream)
            with self._lock:
                if not self._up:  # cut while connecting
                    _reset(*pair)
                    continue
                self._pairs.add(pair)
                self.connections += 1
            threading.Thread(target=self._pump, args=(pair,), daemon=True).start()

    def _pump(self, pair: tuple[socket.socket, socket.socket]) -> None:
        client, upstream = pair
        peer = {client: upstream, upstream: client}
        try:
            while True:
                readable, _, _ = select.select([client, upstream], [], [], 1.0)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peer[sock].sendall(data)
        except (OSError, ValueError):
            return  # cut, or a side closed
        finally:
            with self._lock:
                self._pairs.discard(pair)
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.close()


def _reset(*socks: socket.socket) -> None:
    """Close with RST rather than FIN: a killed server's sessions do not end politely."""
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()


class _SmtpHandler(socketserver.StreamRequestHandler):
    server: _SmtpServer

    def handle(self) -> None:
        self._say("220 sink ESMTP")
        while line := self.rfile.readline():
            verb = line.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
            if verb == "DATA":
                self._say("354 end with <CRLF>.<CRLF>")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data[1:] if data.startswith(b"..") else data)
                with self.server.lock:
                    self.server.messages.append(b"".join(lines))
                self._say("250 queued")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            elif verb == "RCPT" and (code := self._refused(line)):
                self._say(f"{code} recipient refused")
            else:  # EHLO, HELO, MAIL, RCPT, RSET, NOOP: all accepted
                self._say("250 ok")

    def _say(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")

    def _refused(self, line: bytes) -> int:
        address = line.decode("ascii", "replace").partition(":")[2].strip().strip("<>").lower()
        with self.server.lock:
            return self.server.refuse.get(address, 0)


class _SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    messages: list[bytes]
    refuse: dict[str, int]
    lock: threading.Lock


class SmtpSink:
    """An SMTP server on 127.0.0.1 keeping every message it accepts, in order (`messages`).

    `refuse` maps a recipient address (lower case) to the SMTP code its RCPT is
    answered with (451: try later, 550: no such mailbox); empty, all are accepted.
    """

    def __init__(self, *, port: int = 0) -> None:
        self.port = port or _free_port()
        self.messages: list[bytes] = []
        self.refuse: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: _SmtpServer | None = None

    def start(self) -> SmtpSink:
        server = _SmtpServer(("127.0.0.1", self.port), _SmtpHandler)
        server.messages, server.refuse, server.lock = self.messages, self.refuse, self._lock
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
