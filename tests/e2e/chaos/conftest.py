"""Chaos tests own their whole stack: they kill and restart its processes."""

from __future__ import annotations

import pytest

from tests.refunds.factories import api_key
from tests.support.live import ApiClient
from tests.support.stack import Stack


@pytest.fixture
def own_stack(request, transactional_db, django_db_setup):
    """A stack for this test alone, stopped before its tables are flushed (`transactional_db` is set up first)."""
    marker = request.node.get_closest_marker("stack_options")
    running = Stack(worker_concurrency=2, **(marker.kwargs if marker else {})).start()
    yield running
    running.stop()


@pytest.fixture
def chaos_client(own_stack) -> ApiClient:
    return ApiClient(own_stack.url, api_key("chaos-merchant"))
