from __future__ import annotations

import pytest

from tests.support.customer_states import compile_catalogues


@pytest.fixture(scope="session", autouse=True)
def _catalogues() -> None:
    compile_catalogues()
