import pytest

from tests.support.live import own_simulator, point_provider_at


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    """A real simulator process; its webhooks go nowhere (these tests drive delivery directly)."""
    with own_simulator(tmp_path_factory.mktemp("sim"), stall=2) as sim:
        yield sim


@pytest.fixture
def provider_settings(settings, simulator):
    point_provider_at(settings, simulator, timeout=1.0)
    settings.OUTBOX_BACKOFF_BASE_SECONDS = 0.01
    settings.OUTBOX_MAX_ATTEMPTS = 3
    settings.BREAKER_MIN_CALLS = 3
    settings.BREAKER_COOLDOWN_SECONDS = 60
    return settings
