"""The demo mailbox: what the file email backend wrote, newest first, per recipient, decoded (devtools/mailbox.py)."""

from __future__ import annotations

import threading

import pytest
import requests
from django.core.mail import EmailMultiAlternatives, get_connection

from devtools.mailbox import MailboxServer, read_mailbox


def _send(directory, to: str, subject: str, text: str, html: str | None = None) -> None:
    connection = get_connection("django.core.mail.backends.filebased.EmailBackend", file_path=str(directory))
    message = EmailMultiAlternatives(subject, text, "refunds@example.com", [to], connection=connection)
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


@pytest.fixture
def mailbox(tmp_path):
    server = MailboxServer(directory=tmp_path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.close()


def test_messages_read_back_newest_first_with_their_text_decoded(tmp_path):
    _send(tmp_path, "a@example.com", "Your code", "Code: 481516", html="<p>Code: <b>481516</b></p>")
    _send(tmp_path, "b@example.com", "رمزك", "الرمز: 2342 " + "طويل " * 300)

    newest, oldest = read_mailbox(tmp_path)

    assert (newest.to, newest.subject) == (("b@example.com",), "رمزك")
    assert newest.text.startswith("الرمز: 2342")
    assert (oldest.to, oldest.text.strip()) == (("a@example.com",), "Code: 481516")
    assert oldest.sent_at


def test_the_page_lists_one_recipients_mail_escaped_and_latest_is_plain_text(tmp_path, mailbox):
    _send(tmp_path, "a@example.com", "First <script>", "Code: 111111")
    _send(tmp_path, "other@example.com", "Not yours", "Code: 999999")
    _send(tmp_path, "A@example.com", "Second", "Code: 222222")

    page = requests.get(f"{mailbox.url}/?to=a@example.com", timeout=5).text
    latest = requests.get(f"{mailbox.url}/latest.txt?to=a@example.com", timeout=5)

    assert "222222" in page and "111111" in page and "999999" not in page
    assert "First &lt;script&gt;" in page and "<script>" not in page
    assert latest.status_code == 200 and latest.text.endswith("Code: 222222")
    assert "Subject: Second" in latest.text
    assert requests.get(f"{mailbox.url}/latest.txt?to=nobody@example.com", timeout=5).status_code == 404
    assert requests.get(f"{mailbox.url}/anything", timeout=5).status_code == 404
