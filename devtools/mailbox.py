"""The demo's mailbox: the emails the app sent, read back from Django's file email backend, on a page.

`make demo` points the app at `django.core.mail.backends.filebased.EmailBackend`
with `EMAIL_FILE_PATH=var/mail`, so what a customer would receive - the
portal's one-time code, confirmations, status links, store-credit codes - is
on disk; this server shows it newest first at `/`, `/?to=<address>` for one
recipient, and `/latest.txt?to=<address>` as plain text (for scripts).
It is a separate process, stdlib only, and reads the folder on every request.

Run it with `python -m devtools.mailbox --dir var/mail --port 8792`, or
`manage.py run_mailbox` (same options).
"""

from __future__ import annotations

import argparse
import html
import signal
import sys
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from urllib.parse import SplitResult, parse_qs, quote

from devtools.http_server import AppHandler, AppServer, Listening, Reply

# Django's file backend ends every message it writes with this line (django.core.mail.backends.filebased).
SEPARATOR = b"\n" + b"-" * 79 + b"\n"
SHOWN = 50


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    sent_at: str
    text: str
    order: tuple[float, str, int]  # file time, file name, position: newest sorts last


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


def read_mailbox(directory: Path) -> list[Mail]:
    """Every message in the folder, newest first (a file holds the messages of one connection)."""
    mails = []
    for path in directory.glob("*.log"):
        mtime = path.stat().st_mtime
        for n, raw in enumerate(path.read_bytes().split(SEPARATOR)):
            if not raw.strip():
                continue
            message = message_from_bytes(raw.lstrip(), policy=policy.default)
            date = message["Date"]
            mails.append(
                Mail(
                    to=tuple(address for _, address in getaddresses(message.get_all("To", []))),
                    subject=str(message["Subject"] or ""),
                    sent_at=parsedate_to_datetime(date).isoformat() if date else "",
                    text=_text(message),
                    order=(mtime, path.name, n),
                )
            )
    return sorted(mails, key=lambda mail: mail.order, reverse=True)


def _for(mails: list[Mail], to: str) -> list[Mail]:
    return [mail for mail in mails if to.lower() in (address.lower() for address in mail.to)] if to else mails


def render_page(mails: list[Mail], *, to: str) -> str:
    shown = _for(mails, to)[:SHOWN]
    items = "".join(
        f"<article><h2>{html.escape(mail.subject)}</h2>"
        f'<p>To <a href="/?to={quote(", ".join(mail.to))}">{html.escape(", ".join(mail.to))}</a>'
        f" · {html.escape(mail.sent_at)}</p><pre>{html.escape(mail.text)}</pre></article>"
        for mail in shown
    )
    heading = f"Emails to {html.escape(to)}" if to else "Emails the demo sent"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Demo mailbox</title><style>body{{font:16px system-ui,sans-serif;max-width:48rem;margin:1rem auto;"
        f"padding:0 1rem}}article{{border-top:1px solid #999;padding:.5rem 0}}pre{{white-space:pre-wrap}}</style>"
        f'</head><body><h1>{heading}</h1><p><a href="/">All</a> · newest first, at most {SHOWN}'
        " · reload for new mail</p>"
        f"{items or '<p>No email yet.</p>'}</body></html>"
    )


class _Handler(AppHandler):
    server_version = "DemoMailbox/1"
    log_label = "mailbox"

    def reply(self, url: SplitResult, body: bytes) -> Reply:
        to = parse_qs(url.query).get("to", [""])[0].strip()
        mails = read_mailbox(self.server.app)
        if url.path == "/":
            return Reply(200, render_page(mails, to=to).encode(), "text/html; charset=utf-8")
        if url.path == "/latest.txt":
            latest = _for(mails, to)
            if not latest:
                return Reply(404, b"no email\n", "text/plain; charset=utf-8")
            mail = latest[0]
            text = f"To: {', '.join(mail.to)}\nSubject: {mail.subject}\n\n{mail.text}"
            return Reply(200, text.encode(), "text/plain; charset=utf-8")
        return Reply(404, b"not found\n", "text/plain; charset=utf-8")


class MailboxServer(Listening):
    def __init__(self, *, directory: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.httpd = AppServer((host, port), _Handler)
        self.httpd.app = directory


def serve(*, directory: Path, host: str, port: int) -> None:
    """Run until SIGINT/SIGTERM; prints the listening URL on stdout first (port 0 works)."""
    directory.mkdir(parents=True, exist_ok=True)
    mailbox = MailboxServer(directory=directory, host=host, port=port)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"demo mailbox listening on {mailbox.url} (reading {directory})", flush=True)
    try:
        mailbox.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        mailbox.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with `manage.py run_mailbox`."""
    parser.add_argument("--dir", type=Path, default=Path("var/mail"), help="the file email backend's EMAIL_FILE_PATH")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8792, help="0 picks a free port")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    serve(directory=args.dir, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
