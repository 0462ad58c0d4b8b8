"""Cross-cutting fixtures only; per-app fixtures live beside their tests.

Pure tests (no database, no cache) need no service: PostgreSQL and Redis are
checked where a test first needs them, in `django_db_setup` and in the cache
cleanup of database tests, and the run stops there with one clear message.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.support.stripe_sim",
    "tests.support.stripe_events",
    # PgBouncer and RabbitMQ for the tests of connection pooling and of the other broker (tests/e2e/infra).
    "tests.support.pgbouncer",
    "tests.support.rabbitmq",
]

E2E = Path(__file__).resolve().parent / "e2e"
E2E_TIERS = {"journeys", "chaos", "browser", "infra"}  # folders of tests/e2e, each a marker (pyproject.toml)
# Fixtures that make a test use the database, besides the django_db mark.
DB_FIXTURES = {"db", "transactional_db", "live_server", "live_app", "stack", "own_stack"}
# Those whose data must be committed, for other processes to see it.
LIVE_FIXTURES = {"transactional_db", "live_server", "live_app", "stack", "own_stack"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the end-to-end tiers by folder, so `-m "not e2e"` or `-m chaos` selects them."""
    for item in items:
        path = Path(item.path)
        if E2E in path.parents:
            item.add_marker(pytest.mark.e2e)
            tier = path.relative_to(E2E).parts[0]
            if tier in E2E_TIERS:
                item.add_marker(getattr(pytest.mark, tier))


def _uses_database(request: pytest.FixtureRequest) -> bool:
    return bool(set(request.fixturenames) & DB_FIXTURES) or request.node.get_closest_marker("django_db") is not None


@pytest.fixture(scope="session")
def _services() -> Iterator[None]:
    """Stop the run, with one message, when PostgreSQL or Redis does not answer; tidy Redis after the run."""
    from django.conf import settings

    from scripts.check_services import check

    problems = check(os.environ["DATABASE_URL"], os.environ["REDIS_URL"])
    if problems:
        pytest.exit("\n".join(problems) + "\nThe tests need a real PostgreSQL and Redis.", returncode=3)
    yield
    from tests.support.live import delete_cache_keys, delete_queues

    # Tasks this process queued (on_commit of transactional tests) have no worker: they go with the session.
    delete_queues(settings.TEST_NAMESPACE)
    delete_cache_keys(settings.TEST_NAMESPACE)


@pytest.fixture(scope="session")
def django_db_setup(_services, django_db_setup) -> None:
    """pytest-django's test database, once the services are known to answer."""


@pytest.fixture(autouse=True)
def _clear_cache(request: pytest.FixtureRequest) -> None:
    """Database tests start with none of this session's cache keys (rate limits, breakers).

    Only this session's keys: processes of a running stack and other
    sessions share the Redis database, each under a prefix of its own.
    """
    if not _uses_database(request):
        return
    request.getfixturevalue("_services")
    from django.conf import settings

    from tests.support.live import delete_cache_keys

    delete_cache_keys(settings.TEST_NAMESPACE)


@pytest.fixture(autouse=True)
def _database(request: pytest.FixtureRequest) -> None:
    """Tests using a live process get `transactional_db`: what they create is committed, for it to see."""
    if not _uses_database(request):
        return
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(set(request.fixturenames) & LIVE_FIXTURES) or bool(marker and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")


@pytest.fixture(scope="session", autouse=True)
def _flush_keeps_reference_data():
    """After a transactional test's flush, the reference data is back, committed, for every later test.

    Roles, accounts, the audit chain head and the default policy come with
    the migrations; a transactional test ends with a flush that empties every
    table. Ensuring them once after each flush (and not once per test, about
    90 ms) keeps every test starting from a migrated database.

    The flush is retried (never the test) when PostgreSQL aborts it as a
    deadlock: a running stack's beat keeps its worker touching the tables
    between tests (sweeper, audit sealer) and may hold a row lock while the
    flush TRUNCATEs.
    """
    import time

    from django.core.management.base import CommandError
    from django.db import OperationalError
    from django.test.testcases import TransactionTestCase

    from refunds.services.reference_data import reference_data_ensure

    original = TransactionTestCase._fixture_teardown

    def teardown_then_reference_data(self):
        for attempt in range(5):
            try:
                original(self)
                break
            except (OperationalError, CommandError):
                if attempt == 4:
                    raise
                time.sleep(0.5)
        reference_data_ensure()

    TransactionTestCase._fixture_teardown = teardown_then_reference_data
    yield
    TransactionTestCase._fixture_teardown = original


@pytest.fixture(scope="session")
def live_app(django_db_setup, django_db_blocker):
    """The real app under gunicorn (several worker processes) on the test database.

    Tests using it get `transactional_db`, so what they create is committed
    and visible to the server's processes.
    """
    from tests.support.live import LiveApp

    app = LiveApp(workers=4).start()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker):
    """Simulator + gunicorn + a real Celery worker (with beat) on the test database.

    Module-scoped: its worker's sweeper sees every pending message in the
    database, so no two stacks may run at once (Stack.start refuses).
    """
    from tests.support.stack import Stack

    running = Stack().start()
    yield running
    running.stop()


@pytest.fixture
def system_actor():
    from core.actor import Actor

    return Actor.system("test")


@pytest.fixture
def globex(system_actor):
    """A second merchant, `globex` (the default merchant plays the first): for tenancy tests."""
    from refunds.services.merchants import merchant_create

    return merchant_create(slug="globex", name="Globex", actor=system_actor)


@pytest.fixture(scope="session")
def _slack_sim_process(tmp_path_factory: pytest.TempPathFactory):
    """One Slack simulator process per test session (each xdist worker has its own)."""
    from tests.support.slack_sim import SlackSimulator

    sim = SlackSimulator(log_path=tmp_path_factory.mktemp("slack_sim") / "slack_sim.log").start()
    yield sim
    sim.stop()


@pytest.fixture
def slack_sim(_slack_sim_process):
    """The session's Slack simulator, running and empty (no users, messages, modals, faults or calls).

    Running: an earlier test may have stopped it (a Slack outage) and failed
    before starting it again; it comes back on the same port.
    """
    sim = _slack_sim_process
    if not sim.running:
        sim.start()
    sim.reset()
    yield sim
    if not sim.running:
        sim.start()


@pytest.fixture
def slack_settings(slack_sim):
    """SLACK_* settings pointing at the simulator (token, signing secret, approvals channel C0APPROVALS)."""
    from django.test import override_settings

    from tests.support.slack_sim import APPROVALS_CHANNEL

    with override_settings(
        SLACK_BOT_TOKEN=slack_sim.token,
        SLACK_SIGNING_SECRET=slack_sim.signing_secret,
        SLACK_APPROVALS_CHANNEL=APPROVALS_CHANNEL,
        SLACK_API_BASE=slack_sim.api_base,
    ):
        yield slack_sim


@pytest.fixture(scope="session")
def _merchant_receiver_process(tmp_path_factory: pytest.TempPathFactory):
    """One webhook receiver process per test session (each xdist worker has its own, on a free port)."""
    from tests.support.webhook_receiver import WebhookReceiver

    receiver = WebhookReceiver(log_path=tmp_path_factory.mktemp("merchant_receiver") / "merchant_receiver.log").start()
    yield receiver
    receiver.stop()


@pytest.fixture
def merchant_receiver(_merchant_receiver_process):
    """The session's merchant webhook receiver (devtools.webhook_receiver), running and empty.

    Not named `webhook_receiver`: that is the provider simulator's receiver
    (tests/support/stripe_sim.py). Empty: no requests, every path answers 200.

    Running: an earlier test may have stopped it (an outage) and failed
    before starting it again; it comes back on the same port.
    """
    receiver = _merchant_receiver_process
    if not receiver.running:
        receiver.start()
    receiver.reset()
    yield receiver
    if not receiver.running:
        receiver.start()
