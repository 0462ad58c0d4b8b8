"""What the customer sees on /r/<token>/: every state, in every language, and nothing private."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from notifications.messages import message_get, message_id_for_state
from refunds.models import Refund
from tests.support.customer_states import CUSTOMER_STATES, DECLINE_REASON, LANGUAGES, refund_in_state

pytestmark = pytest.mark.django_db

STATE_OF = {"failed_retryable": "failed"}


def _page(client, refund: Refund, **params) -> str:
    response = client.get(f"/r/{refund.status_token}/", params)
    assert response.status_code == 200
    return response.content.decode()


def _in(language: str, text) -> str:
    with translation.override(language):
        return str(text)


def _expected_message(customer_state: str):
    state = STATE_OF.get(customer_state, customer_state)
    return message_get(message_id_for_state(state, failure_retryable=customer_state == "failed_retryable"))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("customer_state", CUSTOMER_STATES)
def test_every_state_renders_in_every_language(client, customer_state, language):
    refund = refund_in_state(customer_state, locale=language)
    body = _page(client, refund)
    message = _expected_message(customer_state)
    title = _in(language, message.title)
    assert f"<title>{title} · " in body
    assert f'<h2 id="status-title" class="status-title">{title}</h2>' in body
    assert _in(language, message.body) in body
    assert f'<html lang="{language}" dir="{"rtl" if language == "ar" else "ltr"}">' in body
    if language != "en":
        # Really translated, not English passed through an empty catalogue.
        assert title != str(message.title)
        assert "Your refund" not in body
    # Exactly one step is the current one, for screen readers as well as the eye.
    assert body.count('aria-current="step"') == 1


@pytest.mark.parametrize(
    ("customer_state", "steps"),
    [
        ("requested", ["requested:current", "processing:upcoming", "refunded:upcoming"]),
        ("approved", ["requested:done", "processing:current", "refunded:upcoming"]),
        ("provider_pending", ["requested:done", "processing:current", "refunded:upcoming"]),
        ("completed", ["requested:done", "processing:done", "refunded:done"]),
        ("denied", ["requested:done", "declined:current:problem"]),
        ("canceled", ["requested:done", "canceled:current:problem"]),
        ("failed", ["requested:done", "processing:done", "failed:current:problem"]),
        # Only delayed: still on its way to "refunded".
        ("failed_retryable", ["requested:done", "delayed:current:warning", "refunded:upcoming"]),
    ],
)
def test_steps_follow_requested_processing_refunded_or_stop_where_it_ended(client, customer_state, steps):
    from status_page.presenters import refund_by_status_token, status_view

    refund = refund_in_state(customer_state)
    with translation.override("en"):
        view = status_view(refund_by_status_token(refund.status_token), language="en")
    shown = [f"{s.key}:{s.status}" + (f":{s.tone}" if s.tone != "ok" else "") for s in view.steps]
    assert shown == steps


def test_each_step_says_when_it_happened(client):
    refund = refund_in_state("completed")
    body = _page(client, refund)
    for moment in (refund.created_at, refund.decided_at, refund.submitted_at, refund.completed_at):
        assert f'<time datetime="{moment.isoformat()}">' in body
    assert "Approved: " in body
    assert "Sent to your payment provider: " in body
    # The zone is glued to the time: it never wraps onto a line of its own.
    assert "\xa0UTC</time>" in body


def test_declined_page_shows_the_agents_reason(client):
    body = _page(client, refund_in_state("denied"))
    assert "Reason given by our team" in body
    assert DECLINE_REASON in body


@pytest.mark.parametrize(
    ("customer_state", "next_step"),
    [("failed", "will contact you to arrange another way"), ("failed_retryable", "We are trying again automatically")],
)
def test_failed_page_says_what_happens_next(client, customer_state, next_step):
    body = _page(client, refund_in_state(customer_state))
    assert next_step in body
    assert "card_expired" not in body  # provider codes are for agents, not customers


@pytest.mark.parametrize(
    ("locale", "currency", "refund_minor", "expected"),
    [
        ("en", "USD", 123450, "$1,234.50"),
        ("de-DE", "EUR", 123450, "1.234,50\xa0€"),
        ("de-CH", "CHF", 123450, "CHF\xa01’234.50"),
        ("en", "JPY", 1234, "¥1,234"),
        ("de", "JPY", 1234, "1.234\xa0¥"),
        ("ar", "JPY", 1234, "1,234\xa0\u2066JP¥\u2069"),
        ("ar", "KWD", 1234500, "1,234.500\xa0د.ك.\u200f"),
        ("en", "KWD", 1234567, "KWD1,234.567"),
        ("de", "KWD", 5, "0,005\xa0KWD"),
        # A Latin symbol in Arabic is isolated, or the bidi algorithm shows "$US".
        ("ar", "USD", 4250, "42.50\xa0\u2066US$\u2069"),
    ],
)
def test_amount_is_formatted_for_the_currency_and_the_customers_locale(
    client, locale, currency, refund_minor, expected
):
    refund = refund_in_state("requested", locale=locale, currency=currency, refund_minor=refund_minor)
    amount = re.search(r'<dd class="amount">(.*?)</dd>', _page(client, refund)).group(1)
    assert expected in amount


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_accepted_currency_shows_exactly_its_iso_minor_digits(language):
    from babel import Locale

    from core.money import CURRENCY_EXPONENTS
    from status_page.presenters import format_amount

    locale = Locale.parse(language)
    symbols = locale.number_symbols["latn"]
    decimal, group = symbols["decimal"], symbols["group"]
    for currency, digits in CURRENCY_EXPONENTS.items():
        # 1234567 minor units: every digit is significant, so any rounding shows.
        text = format_amount(1234567, currency, locale)
        # The number alone (a symbol such as "د.إ." has dots of its own), without its grouping.
        number = re.search(rf"\d[\d{re.escape(decimal + group)}]*", text).group(0).replace(group, "")
        whole, _, fraction = number.partition(decimal)
        assert len(fraction) == digits, (currency, text)
        assert (whole + fraction).lstrip("0") == "1234567", (currency, text)


def test_iso_digits_win_where_cldr_would_round():
    """CLDR shows Iraqi dinars without decimals; ISO 4217 gives them three. A refund of 1.500 must not read 2."""
    from unittest import mock

    from babel import Locale

    from status_page.presenters import format_amount

    with mock.patch.dict("core.money.CURRENCY_EXPONENTS", {"IQD": 3, "LBP": 2}):
        assert format_amount(1500, "IQD", Locale.parse("en")) == "IQD1.500"
        assert format_amount(1234, "LBP", Locale.parse("de")) == "12,34\xa0LBP"


def test_the_customers_regional_format_is_kept_only_in_their_own_language(client):
    refund = refund_in_state("requested", locale="de-CH", currency="CHF", refund_minor=250000)
    assert "CHF\xa02’500.00" in _page(client, refund, lang="de")
    assert "CHF2,500.00" in _page(client, refund, lang="en")


@pytest.mark.parametrize(
    ("rail", "language", "expected"),
    [
        ("card", "en", "5–10 business days"),
        ("paynow", "en", "a few minutes"),
        ("bank_transfer", "en", "1–3 business days"),
        ("card", "de", "5–10 Werktage"),
        ("bank_transfer", "ar", "1–3 أيام عمل"),
    ],
)
def test_the_expected_timing_for_the_payment_rail_is_shown(client, rail, language, expected):
    body = _page(client, refund_in_state("provider_pending", rail=rail, locale=language))
    assert expected in body


def test_rail_timing_is_configurable(client, settings):
    settings.RAIL_TIMING = {
        "card": {"unit": "business_days", "min": 3, "max": 5},
        "paynow": {"unit": "minutes", "max": 1},
    }
    assert "3–5 business days" in _page(client, refund_in_state("approved", rail="card"))
    assert "1 minute" in _page(client, refund_in_state("approved", rail="paynow"))
    assert "1–3 business days" in _page(client, refund_in_state("approved", rail="bank_transfer"))


@pytest.mark.parametrize("customer_state", ["denied", "canceled", "failed"])
def test_no_timing_is_promised_when_no_money_moves(client, customer_state):
    assert "Usual time to arrive" not in _page(client, refund_in_state(customer_state))


def test_a_delayed_refund_still_says_when_to_expect_the_money_and_since_when_we_retry(client):
    refund = refund_in_state("failed_retryable", rail="bank_transfer")
    body = _page(client, refund)
    assert "1–3 business days" in body
    assert "Sent to your payment provider: " in body
    assert f'Trying again since: <time datetime="{refund.updated_at.isoformat()}">' in body


def test_order_items_and_rail_are_shown(client):
    refund = refund_in_state("approved", lines=7, rail="bank_transfer")
    body = _page(client, refund)
    assert refund.order.order_id in body
    assert "Blue ceramic mug 1" in body
    assert "Blue ceramic mug 5" in body
    assert "Blue ceramic mug 6" not in body
    assert "and 2 more items" in body
    assert "Bank transfer" in body


def test_only_the_masked_email_and_no_other_personal_data_is_shown(client):
    refund = refund_in_state("denied", email="jane.doe@example.com", name="Jane Doe")
    Refund.objects.filter(pk=refund.pk).update(customer_note="my phone is +65 5555 0000", evidence=["photo.jpg"])
    body = _page(client, refund)
    assert "j•••@example.com" in body
    for private in ("jane.doe", "Jane", "Doe", "+65 5555", "photo.jpg", refund.order.customer.external_id):
        assert private not in body
    for internal in (refund.policy_rule, "goodwill", "agent-deny"):
        assert internal not in body


def test_the_masked_email_does_not_tell_how_long_the_address_is(client):
    short = _page(client, refund_in_state("approved", email="jo@example.com"))
    long = _page(client, refund_in_state("approved", email="josephine.longname@example.com"))
    assert "j•••@example.com" in short
    assert "j•••@example.com" in long


def test_text_typed_by_people_keeps_its_own_direction_on_an_arabic_page(client):
    denied = _page(client, refund_in_state("denied", locale="ar", lines=2))
    # An English reason ends with its full stop on the right, not torn to the left by the RTL page.
    assert f'<p dir="auto">{DECLINE_REASON}</p>' in denied
    assert "<li><bdi>Blue ceramic mug 1</bdi></li>" in denied


def test_a_delayed_step_is_announced_as_current_not_stopped(client):
    body = _page(client, refund_in_state("failed_retryable"))
    assert 'Delayed<span class="visually-hidden"> (current step)</span>' in body
    assert "(stopped)" not in body
    assert 'Failed<span class="visually-hidden"> (stopped)</span>' in _page(client, refund_in_state("failed"))


def test_language_comes_from_the_customer_record(client):
    assert '<html lang="de" dir="ltr">' in _page(client, refund_in_state("approved", locale="de-DE"))
    assert '<html lang="ar" dir="rtl">' in _page(client, refund_in_state("approved", locale="ar_AE"))
    assert '<html lang="en" dir="ltr">' in _page(client, refund_in_state("approved", locale="fr-FR"))


def test_the_language_switch_overrides_the_customer_record(client):
    refund = refund_in_state("approved", locale="de")
    assert '<html lang="ar" dir="rtl">' in _page(client, refund, lang="ar")
    assert '<html lang="de" dir="ltr">' in _page(client, refund, lang="klingon")
    body = _page(client, refund)
    for code in LANGUAGES:
        assert f'href="?lang={code}" lang="{code}" hreflang="{code}"' in body
    assert 'hreflang="de" aria-current="true"' in body
    assert body.count('aria-current="true"') == 1


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str | None] = []
        self.links: list[str] = []
        self.inline_styles = 0
        self.handlers = 0

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs.get("src"))
        if tag == "link":
            self.links.append(attrs.get("href", ""))
        if "style" in attrs:
            self.inline_styles += 1
        self.handlers += sum(1 for name in attrs if name.startswith("on"))


def test_page_has_no_inline_code_and_no_third_party_assets(client):
    parser = _Assets()
    parser.feed(_page(client, refund_in_state("approved")))
    assert parser.scripts and all(src and src.startswith("/static/") for src in parser.scripts)
    assert all(href.startswith(("/static/", "data:")) for href in parser.links)
    assert parser.inline_styles == 0
    assert parser.handlers == 0
    assert "<style" not in _page(client, refund_in_state("approved"))


def test_page_without_javascript_is_complete_and_says_to_reload(client):
    body = _page(client, refund_in_state("approved"))
    # The whole status is in the HTML; the script only refreshes it.
    assert "Your refund has been approved" in body
    assert '<ol class="steps' in body
    assert re.search(r'<p id="refresh-hint"[^>]*>Reload this page to see the latest status.</p>', body)
    assert "Cache-Control" not in body


def test_page_costs_at_most_two_queries(client):
    refund = refund_in_state("approved", lines=3)
    client.get(f"/r/{refund.status_token}/")  # warm caches that are not per request
    with CaptureQueriesContext(connection) as queries:
        _page(client, refund)
    assert len(queries.captured_queries) <= 2
