"""Journeys run over real HTTP against gunicorn worker processes and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.refunds.factories import api_key
from tests.support.live import ApiClient


@pytest.fixture
def merchant_http(live_app, transactional_db) -> ApiClient:
    return ApiClient(live_app.url, api_key("merchant"))


@pytest.fixture
def stack_merchant(stack, transactional_db) -> ApiClient:
    return ApiClient(stack.url, api_key("merchant", role=None))
