"""SECURE_HTTPS: production is https-only behind a TLS proxy; plain http only when asked (issue 10, item 12).

Each case starts the settings in a process of its own and asks them through
Django's test client: the attack is a deploy that followed the README and
served the console over plain http, with cookies a network sniffer could
lift and no HSTS.
"""

from __future__ import annotations

import json

import pytest

from tests.config.test_production_secrets import configured
from tests.support.deploy import SETUP, clean_env, run_python

ASK = (
    SETUP
    + """
import json
from django.conf import settings
from django.test import Client
client = Client()
plain = client.get("/")  # a redirect to the console: no page rendered, no static files
secure = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")
probe = client.get("/healthz")
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "hsts": secure.get("Strict-Transport-Security"),
    "probe": probe.status_code,
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "csrf_cookie_secure": settings.CSRF_COOKIE_SECURE,
}))
"""
)


def ask(tmp_path, **values: str) -> dict:
    """Production settings (every secret set, SECURE_HTTPS left to its default) with `values` on top."""
    env = clean_env(tmp_path, **{**without_secure_https(), "ALLOWED_HOSTS": "testserver", **values})
    result = run_python(env, ASK)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def without_secure_https() -> dict[str, str]:
    values = configured()
    del values["SECURE_HTTPS"]
    return values


def test_production_is_https_only_by_default(tmp_path):
    answer = ask(tmp_path)
    assert answer["plain"] == [301, "https://testserver/"]
    assert answer["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert answer["session_cookie_secure"] and answer["csrf_cookie_secure"]


def test_health_probes_still_answer_over_plain_http(tmp_path):
    assert ask(tmp_path)["probe"] == 200


def test_secure_https_0_serves_plain_http_without_hsts(tmp_path):
    answer = ask(tmp_path, SECURE_HTTPS="0")
    assert answer["plain"] == [302, "/console/"]
    assert answer["hsts"] is None
    assert not answer["session_cookie_secure"] and not answer["csrf_cookie_secure"]


@pytest.mark.parametrize("value", ["1", "true"])
def test_the_deprecated_secure_cookies_still_makes_cookies_secure(tmp_path, value):
    answer = ask(tmp_path, SECURE_HTTPS="0", SECURE_COOKIES=value)
    assert answer["session_cookie_secure"] and answer["csrf_cookie_secure"]
    assert answer["plain"] == [302, "/console/"]


def test_hsts_lifetime_and_flags_come_from_the_environment(tmp_path):
    answer = ask(
        tmp_path,
        SECURE_HSTS_SECONDS="600",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="0",
        SECURE_HSTS_PRELOAD="0",
    )
    assert answer["hsts"] == "max-age=600"


def test_the_demo_serves_plain_http(tmp_path):
    result = run_python(clean_env(tmp_path, DEBUG="1", ALLOWED_HOSTS="testserver"), ASK)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["plain"] == [302, "/console/"] and answer["hsts"] is None
