import pytest

from refunds.services.merchants import merchant_default

# A public address written as an IP literal: accepted without DNS, and refused by no SSRF rule.
PUBLIC_URL = "https://93.184.215.14/hooks/refunds"


@pytest.fixture
def acme(system_actor):
    return merchant_default()
