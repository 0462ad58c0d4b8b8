import pytest

from audit.services import Actor


@pytest.fixture
def system_actor() -> Actor:
    return Actor.system("test")
