"""Cross-cutting fixtures only; per-app fixtures live beside their tests."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.support.stripe_sim"]


def pytest_configure(config) -> None:
    from scripts.check_services import check

    problems = check(os.environ["DATABASE_URL"], os.environ["REDIS_URL"])
    if problems:
        pytest.exit("\n".join(problems) + "\nThe tests need a real PostgreSQL and Redis.", returncode=3)


@pytest.fixture(autouse=True)
def _reference_data(request) -> None:
    """Roles, accounts and policy exist in every test that touches the database.

    Migrations create them, but transactional tests end with a flush that
    empties every table, so they are re-ensured (idempotently) per test.
    """
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    live = {"transactional_db", "live_app", "stack"}
    if not names & ({"db"} | live) and marker is None:
        return
    transactional = bool(names & live) or bool(marker and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    from refunds.services.reference_data import reference_data_ensure

    reference_data_ensure()


@pytest.fixture(scope="session", autouse=True)
def _flush_retries_on_deadlock():
    """End-to-end tests leave the web, worker and simulator running between tests.

    A webhook or task still in flight while a transactional test's teardown
    TRUNCATEs the tables can deadlock with it; PostgreSQL then aborts one side.
    Retrying the flush (never the test) is enough.
    """
    import time

    from django.core.management.base import CommandError
    from django.db import OperationalError
    from django.test.testcases import TransactionTestCase

    original = TransactionTestCase._fixture_teardown

    def teardown_with_retries(self):
        for attempt in range(5):
            try:
                return original(self)
            except (OperationalError, CommandError):
                if attempt == 4:
                    raise
                time.sleep(0.5)

    TransactionTestCase._fixture_teardown = teardown_with_retries
    yield
    TransactionTestCase._fixture_teardown = original


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session")
def live_app(django_db_setup, django_db_blocker):
    """The real app under gunicorn (several worker processes) on the test database.

    Tests using it get `transactional_db`, so what they create is committed
    and visible to the server's processes.
    """
    from tests.support.live import GunicornServer

    server = GunicornServer(workers=4)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker):
    """Simulator + gunicorn + a real Celery worker (with beat) on the test database.

    Module-scoped: its worker's sweeper sees every pending message in the
    database, so no two stacks may run at once.
    """
    from tests.support.stack import Stack

    running = Stack().start()
    yield running
    running.stop()


@pytest.fixture
def system_actor():
    from core.actor import Actor

    return Actor.system("test")
