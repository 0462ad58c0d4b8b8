"""The status link is the credential: random, looked up by digest in constant time, 404 for anything else."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from unittest import mock

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY

from refunds.models import Refund
from status_page.presenters import refund_by_status_token
from tests.support.customer_states import refund_in_state
from tests.support.faults import RedisServer

pytestmark = pytest.mark.django_db


def _other_token(token: str) -> str:
    """The same token with its last character changed: as close as a guess can get."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def test_status_tokens_are_long_random_and_unique():
    refunds = [refund_in_state("approved") for _ in range(12)]
    tokens = [r.status_token for r in refunds]
    assert len(set(tokens)) == len(tokens)
    for refund in refunds:
        # token_urlsafe(32): 256 bits of randomness in 43 URL-safe characters.
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", refund.status_token)
        assert refund.status_token_digest == hashlib.sha256(refund.status_token.encode()).hexdigest()
        assert refund.public_id not in refund.status_token
        assert refund.status_url.endswith(f"/r/{refund.status_token}/")


def test_the_token_is_never_stored_in_plain_text(settings):
    refund = refund_in_state("approved")
    token = refund.status_token
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM refunds_refund WHERE id = %s", [refund.pk])
        row = " ".join(str(value) for value in cursor.fetchone())
        cursor.execute("SELECT * FROM refunds_historicalrefund WHERE id = %s", [refund.pk])
        history = " ".join(str(value) for row_ in cursor.fetchall() for value in row_)
    assert token not in row and token not in history
    # Only the configured key (the test settings' STATUS_TOKEN_ENCRYPTION_KEY) opens the ciphertext.
    assert Refund.objects.get(pk=refund.pk).status_token == token
    configured = settings.STATUS_TOKEN_ENCRYPTION_KEY
    settings.STATUS_TOKEN_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(InvalidToken):
        Refund.objects.get(pk=refund.pk).status_token  # noqa: B018 - reading it is the test
    settings.STATUS_TOKEN_ENCRYPTION_KEY = configured
    assert Refund.objects.get(pk=refund.pk).status_token == token


def test_the_right_token_opens_the_page(client):
    refund = refund_in_state("approved")
    response = client.get(f"/r/{refund.status_token}/")
    assert response.status_code == 200
    assert refund.public_id in response.content.decode()


def test_every_wrong_link_gets_the_same_404_with_no_hint_that_a_refund_exists(client):
    refund = refund_in_state("approved")
    unknown = secrets.token_urlsafe(32)
    candidates = [
        _other_token(refund.status_token),  # one character off a real token
        unknown,  # well-formed, belongs to nobody
        refund.status_token_digest,  # a leaked digest is not a token
        refund.public_id,  # the refund id is not a token either
        "short",
        "x" * 200,
        "not%20a%20token",
    ]
    responses = [client.get(f"/r/{candidate}/") for candidate in candidates]
    assert {r.status_code for r in responses} == {404}
    assert len({r.content for r in responses}) == 1
    body = responses[0].content.decode()
    assert refund.public_id not in body
    assert refund.order.order_id not in body
    assert "This link is not valid" in body


def test_unknown_and_wrong_tokens_carry_the_same_headers(client):
    refund = refund_in_state("approved")
    wrong = client.get(f"/r/{_other_token(refund.status_token)}/")
    unknown = client.get(f"/r/{secrets.token_urlsafe(32)}/")
    ignored = {"X-Correlation-Id", "Date"}
    assert {k: v for k, v in wrong.headers.items() if k not in ignored} == {
        k: v for k, v in unknown.headers.items() if k not in ignored
    }


def test_lookup_goes_through_the_digest_never_the_plaintext_token():
    refund = refund_in_state("approved")
    with CaptureQueriesContext(connection) as queries:
        found = refund_by_status_token(refund.status_token)
    assert found.pk == refund.pk
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert refund.status_token_digest in sql
    assert refund.status_token not in sql
    assert '"status_token" =' not in sql


def test_lookup_compares_digests_in_constant_time_for_hits_and_misses():
    refund = refund_in_state("approved")
    with mock.patch("status_page.presenters.hmac.compare_digest", wraps=hmac.compare_digest) as compare:
        assert refund_by_status_token(refund.status_token) is not None
        assert refund_by_status_token(secrets.token_urlsafe(32)) is None
    assert compare.call_count == 2
    hit_args, miss_args = compare.call_args_list[0].args, compare.call_args_list[1].args
    assert hit_args == (refund.status_token_digest, refund.status_token_digest)
    # A miss still compares two 64-character digests, so it costs what a hit costs.
    assert len(miss_args[0]) == len(miss_args[1]) == 64


def test_malformed_tokens_are_refused_without_a_query():
    with CaptureQueriesContext(connection) as queries:
        for candidate in ("", "short", "../../etc/passwd", "a" * 65, "ä" * 43, None):
            assert refund_by_status_token(candidate) is None
    assert queries.captured_queries == []


def test_tokens_are_not_readable_from_the_refund_history():
    refund = refund_in_state("approved")
    history_fields = {f.name for f in Refund.history.model._meta.get_fields()}
    assert "status_token" not in history_fields
    assert "status_token_digest" not in history_fields
    assert refund.history.exists()


@pytest.mark.parametrize("kind", ["page", "not_found"])
def test_status_answers_are_never_indexed_cached_or_sent_as_referrer(client, kind):
    refund = refund_in_state("approved")
    token = refund.status_token if kind == "page" else secrets.token_urlsafe(32)
    response = client.get(f"/r/{token}/")
    assert response["X-Robots-Tag"].startswith("noindex")
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    body = response.content.decode()
    assert '<meta name="robots" content="noindex' in body
    assert '<meta name="referrer" content="no-referrer">' in body


def test_only_reading_methods_are_allowed(client):
    refund = refund_in_state("approved")
    assert client.head(f"/r/{refund.status_token}/").status_code == 200
    assert client.post(f"/r/{refund.status_token}/").status_code in (403, 405)


class TestRateLimit:
    @pytest.fixture(autouse=True)
    def _mid_window(self):
        """Pin the clock 30 s into a window: requests of one test must not straddle a window's end."""
        with mock.patch("status_page.views.time.time", return_value=1_800_000_030.0):
            yield

    def test_over_the_limit_answers_429_with_retry_after(self, client, settings):
        settings.STATUS_PAGE_RATE_LIMIT_PER_MINUTE = 3
        refund = refund_in_state("approved")
        codes = [client.get(f"/r/{refund.status_token}/").status_code for _ in range(3)]
        blocked = client.get(f"/r/{refund.status_token}/")
        assert codes == [200, 200, 200]
        assert blocked.status_code == 429
        assert int(blocked["Retry-After"]) == 31  # what is left of the window, rounded up
        assert blocked["X-Robots-Tag"].startswith("noindex")
        body = blocked.content.decode()
        assert "Too many requests" in body
        assert refund.public_id not in body

    def test_guesses_spend_the_same_budget_as_hits(self, client, settings):
        settings.STATUS_PAGE_RATE_LIMIT_PER_MINUTE = 2
        refund = refund_in_state("approved")
        for _ in range(2):
            assert client.get(f"/r/{secrets.token_urlsafe(32)}/").status_code == 404
        # The real token is refused too: guessing cannot be interleaved with a valid link to reset anything.
        assert client.get(f"/r/{refund.status_token}/").status_code == 429

    def test_each_client_address_has_its_own_budget(self, client, settings):
        settings.STATUS_PAGE_RATE_LIMIT_PER_MINUTE = 1
        refund = refund_in_state("approved")
        url = f"/r/{refund.status_token}/"
        assert client.get(url, REMOTE_ADDR="203.0.113.1").status_code == 200
        assert client.get(url, REMOTE_ADDR="203.0.113.1").status_code == 429
        assert client.get(url, REMOTE_ADDR="203.0.113.2").status_code == 200

    def test_an_ipv6_client_cannot_escape_the_limit_by_hopping_addresses_in_its_64(self, client, settings):
        settings.STATUS_PAGE_RATE_LIMIT_PER_MINUTE = 2
        refund = refund_in_state("approved")
        url = f"/r/{refund.status_token}/"
        assert client.get(url, REMOTE_ADDR="2001:db8:1:2::1").status_code == 200
        assert client.get(url, REMOTE_ADDR="2001:db8:1:2:ffff::9").status_code == 200
        assert client.get(url, REMOTE_ADDR="2001:db8:1:2:abcd:1:2:3").status_code == 429
        # The neighbouring /64 is another subscriber.
        assert client.get(url, REMOTE_ADDR="2001:db8:1:3::1").status_code == 200

    def test_the_cache_holds_no_client_address(self, client, settings):
        from django.core.cache import cache

        refund = refund_in_state("approved")
        client.get(f"/r/{refund.status_token}/", REMOTE_ADDR="198.51.100.77")
        keys = [k.decode() if isinstance(k, bytes) else k for k in cache._cache.get_client().keys("*")]
        assert keys
        assert not any("198.51.100.77" in k for k in keys)


def test_with_redis_down_the_page_is_served_unchecked_and_counted(client, settings):
    dead = RedisServer()  # never started: nothing answers on its port
    settings.STATUS_PAGE_RATE_LIMIT_PER_MINUTE = 1
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead.url()}}
    refund = refund_in_state("approved")
    before = _fail_open_count()

    answers = [client.get(f"/r/{refund.status_token}/").status_code for _ in range(3)]

    assert answers == [200, 200, 200]  # over the budget of 1, yet served: the limit could not be counted
    assert _fail_open_count() == before + 3


def _fail_open_count() -> float:
    return REGISTRY.get_sample_value("status_page_rate_limit_fail_open_total") or 0.0
