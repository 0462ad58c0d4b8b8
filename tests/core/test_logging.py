"""Log lines: JSON with the correlation id, and never a customer's status-page token."""

import json
import logging

from django.test import RequestFactory

from core.correlation import reset_correlation_id, set_correlation_id
from core.logging import CorrelationIdFilter, JsonFormatter
from refunds.models.refund import new_status_token


def render(record: logging.LogRecord) -> str:
    CorrelationIdFilter().filter(record)
    return JsonFormatter().format(record)


def test_a_line_is_json_with_message_id_and_correlation_id():
    token = set_correlation_id("corr-1")
    try:
        record = logging.makeLogRecord({"msg": "MSG.refund.completed", "message_id": "MSG.refund.completed"})
        line = json.loads(render(record))
    finally:
        reset_correlation_id(token)
    assert (line["msg"], line["message_id"], line["correlation_id"]) == (
        "MSG.refund.completed",
        "MSG.refund.completed",
        "corr-1",
    )


def test_a_failing_status_page_request_is_logged_without_its_token():
    status_token = new_status_token()
    request = RequestFactory().get(f"/r/{status_token}/")
    record = logging.makeLogRecord(
        {
            "name": "django.request",
            "msg": "Internal Server Error: %s",
            "args": (request.path,),
            "request": request,  # what django.request passes as extra
            "status_code": 500,
        }
    )
    line = render(record)
    assert status_token not in line
    assert "/r/[token]/" in json.loads(line)["msg"]
