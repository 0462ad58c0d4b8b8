"""The customer request portal in a real browser on a phone: English and Arabic, code from the email, axe on each page.

Screenshots land in docs/screenshots/portal-*.png (UPDATE_SCREENSHOTS=1) for people to look at.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail

from portal.models import AccessCode
from refunds.models import Refund
from tests.e2e.browser.test_status_page import _axe, _serious
from tests.portal.conftest import EMAIL, send_pending_codes, shop_order
from tests.support.customer_states import compile_catalogues

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 256
TEXT = {
    "en": {"ask": "Email me a code", "go": "Continue", "send": "Send my request", "code": "Code from the email"},
    "ar": {
        "ask": "أرسل لي رمزًا بالبريد الإلكتروني",
        "go": "متابعة",
        "send": "إرسال طلبي",
        "code": "الرمز الوارد في البريد الإلكتروني",
    },
}


@pytest.fixture(scope="module", autouse=True)
def _catalogues() -> None:
    compile_catalogues()


@pytest.fixture
def phone(browser):
    """A fresh phone-sized browser speaking `language` (its Accept-Language); collects console errors (CSP)."""
    contexts = []

    def _open(language: str):
        context = browser.new_context(viewport=PHONE, locale=language, is_mobile=True, has_touch=True)
        contexts.append(context)
        page = context.new_page()
        page.console_errors = []
        # A 400 or 404 answer (a wrong code, a bad link) is logged as a failed load; CSP violations say "Refused".
        page.on(
            "console",
            lambda msg: (
                msg.type == "error"
                and not msg.text.startswith("Failed to load resource")
                and page.console_errors.append(msg.text)
            ),
        )
        return page

    yield _open
    for context in contexts:
        context.close()


def _check(page, language: str, shots, name: str) -> None:
    """Every page: its language and direction, no overflow at 390 px, no CSP error, axe clean; then a screenshot."""
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == language
    assert page.locator("html").get_attribute("dir") == ("rtl" if language == "ar" else "ltr")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name} is wider than the phone"
    assert page.console_errors == []
    assert _serious(_axe(page)) == [], name
    page.screenshot(path=str(shots / f"portal-{name}-{language}-phone.png"), full_page=True)


@pytest.mark.parametrize("language", ["en", "ar"])
def test_a_customer_requests_a_refund_by_line_with_a_photo_on_a_phone(
    transactional_db, live_server, phone, screenshot_dir, language
):
    order = shop_order()
    order.customer.locale = language
    order.customer.save()
    text = TEXT[language]
    page = phone(language)

    page.goto(f"{live_server.url}/request/")
    _check(page, language, screenshot_dir, "1-start")
    honeypot = page.locator('input[name="website"]')
    box = honeypot.bounding_box()
    assert honeypot.get_attribute("tabindex") == "-1"
    assert box["x"] + box["width"] <= 0 or box["x"] >= PHONE["width"], "the honeypot must be off-screen"
    page.get_by_label(re.compile("Order number|رقم الطلب")).fill("1002")
    page.locator('input[name="email"]').fill(EMAIL.upper())
    page.get_by_role("button", name=text["ask"]).click()

    page.wait_for_url("**/request/code/")
    _check(page, language, screenshot_dir, "2-code")
    # The email task, as the worker runs it; the code is read from the email the customer gets.
    send_pending_codes()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [EMAIL]
    assert mail.outbox[0].extra_headers["Content-Language"] == language
    code = re.search(r"^\s+(\d{6})\s*$", mail.outbox[0].body, re.MULTILINE).group(1)
    page.get_by_label(text["code"]).fill(code)
    page.get_by_role("button", name=text["go"]).click()

    page.wait_for_url("**/request/order/")
    _check(page, language, screenshot_dir, "3-order")
    page.locator('input[name="qty_1"]').fill("1")
    page.locator('input[name="reason"][value="quality"]').check()
    page.locator('textarea[name="note"]').fill("The handle came off." if language == "en" else "انكسر المقبض.")
    photo = page.locator('input[type="file"][name="evidence"]')
    assert photo.get_attribute("accept") == "image/*,application/pdf" and photo.get_attribute("multiple") is not None
    photo.set_input_files([{"name": "mug.jpg", "mimeType": "image/jpeg", "buffer": JPEG}])
    page.get_by_role("button", name=text["send"]).click()

    page.wait_for_url("**/request/done/**")
    _check(page, language, screenshot_dir, "4-done")
    refund = Refund.objects.get()
    assert refund.order == order and refund.requested_via == "customer"
    assert [(line.order_line.sku, line.quantity) for line in refund.lines.all()] == [("MUG", 1)]
    assert refund.evidence_files.count() == 1
    assert page.locator("#status-link").get_attribute("href") == refund.status_url
    assert AccessCode.objects.get().used_at is not None


def test_a_wrong_code_and_a_bad_link_are_explained_in_arabic(transactional_db, live_server, phone, screenshot_dir):
    shop_order()
    page = phone("ar")
    page.goto(f"{live_server.url}/request/")
    page.locator('input[name="order_id"]').fill("1002")
    page.locator('input[name="email"]').fill(EMAIL)
    page.get_by_role("button", name=TEXT["ar"]["ask"]).click()
    page.wait_for_url("**/request/code/")
    send_pending_codes()
    code = re.search(r"^\s+(\d{6})\s*$", mail.outbox[0].body, re.MULTILINE).group(1)
    page.get_by_label(TEXT["ar"]["code"]).fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name=TEXT["ar"]["go"]).click()
    assert page.locator(".error").inner_text() == "هذا الرمز غير صحيح. راجع البريد الإلكتروني وحاول مرة أخرى."
    _check(page, "ar", screenshot_dir, "code-wrong")

    page.goto(f"{live_server.url}/request/not-a-signed-link:abc:def/")
    assert page.locator("h1").inner_text() == "هذا الرابط غير صالح"
    _check(page, "ar", screenshot_dir, "link-invalid")
