"""Journeys run over real HTTP against gunicorn worker processes and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.refunds.factories import api_key
from tests.support.live import ApiClient


@pytest.fixture
def merchant_http(live_app, transactional_db) -> ApiClient:
    return ApiClient(live_app.url, api_key("merchant"))


@pytest.fixture(autouse=True)
def _stack_idle_before_flush(request: pytest.FixtureRequest):
    """A journey on the module's stack leaves nothing in flight when its tables are flushed.

    `transactional_db` is set up here, before the test's other fixtures, so
    its flush runs after this teardown: a late webhook or retry of this test
    cannot land in the next test's empty tables.
    """
    if "stack" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("transactional_db")
    stack = request.getfixturevalue("stack")
    yield
    stack.wait_idle()


@pytest.fixture
def stack_merchant(stack, transactional_db) -> ApiClient:
    return ApiClient(stack.url, api_key("merchant", role=None))
