"""Evidence uploads are refused by size before the body is read in full (issue 10, item 14).

Django writes an uploaded file to a temporary file, however big, before any
view sees it; the evidence service's own size check came after that. Here the
request body is a stream that counts what the server reads of it.
"""

from __future__ import annotations

import pytest

from refunds.enums import Reason
from refunds.models import EvidenceFile, Refund
from tests.refunds.factories import captured_order

pytestmark = pytest.mark.django_db

BOUNDARY = "hostileboundary"
LIMIT = 100 * 1024  # EVIDENCE_MAX_BYTES in these tests: above the multipart parser's 64 KiB chunk
FILES = 5  # EVIDENCE_MAX_FILES
CHUNK = 64 * 1024


@pytest.fixture(autouse=True)
def _small_limits(settings):
    settings.EVIDENCE_MAX_BYTES = LIMIT
    settings.EVIDENCE_MAX_FILES = FILES


class CountingBody:
    """A multipart body of one PDF `file_bytes` long, produced as it is read; counts the bytes handed out."""

    def __init__(self, file_bytes: int) -> None:
        head = (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="amount"\r\n\r\n10.00\r\n'
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="reason"\r\n\r\n{Reason.QUALITY}\r\n'
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="evidence"; filename="huge.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n%PDF-"
        ).encode()
        self.head, self.file_bytes, self.tail = head, file_bytes - 5, f"\r\n--{BOUNDARY}--\r\n".encode()
        self.length = len(head) + self.file_bytes + len(self.tail)
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        remaining = self.length - self.position
        size = remaining if size is None or size < 0 else min(size, remaining)
        out = bytearray()
        while len(out) < size:
            at = self.position + len(out)
            if at < len(self.head):
                out += self.head[at : at + size - len(out)]
            elif at < len(self.head) + self.file_bytes:
                out += b"0" * min(size - len(out), len(self.head) + self.file_bytes - at)
            else:
                start = at - len(self.head) - self.file_bytes
                out += self.tail[start : start + size - len(out)]
        self.position += len(out)
        return bytes(out)

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - the multipart parser reads in chunks
        return self.read(size)


def send(client, order, body: CountingBody, *, content_length: str):
    return client.generic(
        "POST",
        f"/console/refunds/new/?order={order.order_id}",
        **{
            "wsgi.input": body,
            "CONTENT_LENGTH": content_length,
            "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
        },
    )


def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body(agent_client):
    order = captured_order(amount_minor=12000)
    body = CountingBody(50 * 1024 * 1024)

    response = send(agent_client, order, body, content_length=str(body.length))

    assert response.status_code == 400
    assert body.position == 0
    assert not Refund.objects.exists()


def test_a_file_over_the_limit_within_a_modest_declared_length_is_cut_off_at_the_limit(agent_client):
    order = captured_order(amount_minor=12000)
    body = CountingBody(4 * LIMIT)  # the whole request fits FILES files, but its one file does not fit LIMIT

    response = send(agent_client, order, body, content_length=str(body.length))

    assert response.status_code == 400
    assert body.position <= len(body.head) + LIMIT + 2 * CHUNK  # the limit and what the parser reads ahead
    assert body.position < body.length
    assert not Refund.objects.exists()


def test_a_file_over_the_limit_in_a_lying_short_declared_length_is_still_cut_off(agent_client):
    order = captured_order(amount_minor=12000)
    body = CountingBody(10 * 1024 * 1024)

    response = send(agent_client, order, body, content_length=str(2 * LIMIT))

    assert response.status_code == 400
    assert body.position <= 2 * LIMIT
    assert not Refund.objects.exists()


def test_a_body_without_content_length_is_not_read_at_all(agent_client):
    order = captured_order(amount_minor=12000)
    body = CountingBody(50 * 1024 * 1024)

    response = send(agent_client, order, body, content_length="")

    assert response.status_code == 400
    assert body.position == 0
    assert not Refund.objects.exists()


def test_evidence_within_the_limit_is_still_accepted(agent_client):
    order = captured_order(amount_minor=12000)
    body = CountingBody(LIMIT)

    response = send(agent_client, order, body, content_length=str(body.length))

    assert response.status_code == 302, response.content[:500]
    stored = EvidenceFile.objects.get()
    assert stored.original_name == "huge.pdf"
    assert Refund.objects.get().evidence == [{"type": "file", "file_id": stored.pk}]
