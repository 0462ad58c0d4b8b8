import pytest

from tests.live import Simulator, free_port


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    """A real simulator process; its webhooks go nowhere (these tests drive delivery directly)."""
    sim = Simulator(
        port=free_port(),
        db_path=tmp_path_factory.mktemp("sim") / "sim.sqlite3",
        webhook_url="http://127.0.0.1:9/",
        stall=2,
    )
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def provider_settings(settings, simulator):
    from tests.live import SIM_API_KEY

    settings.PROVIDER = "stripe"
    settings.PROVIDER_API_BASE = simulator.url
    settings.PROVIDER_API_KEY = SIM_API_KEY
    settings.PROVIDER_TIMEOUT_SECONDS = 1.0
    settings.OUTBOX_BACKOFF_BASE_SECONDS = 0.01
    settings.OUTBOX_MAX_ATTEMPTS = 3
    settings.BREAKER_FAILURE_THRESHOLD = 3
    settings.BREAKER_COOLDOWN_SECONDS = 60
    return settings
