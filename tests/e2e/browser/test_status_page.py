"""The customer status page in a real browser: languages, widths, live updates, accessibility.

Screenshots land in docs/screenshots/status-*.png for people to look at.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from refunds.services.decide import refund_approve
from tests.refunds.factories import agent
from tests.support.customer_states import compile_catalogues, refund_in_state

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
TITLES = {
    "en": "Your refund is on its way",
    "ar": "المبلغ المسترد في طريقه إليك",
    "de": "Ihre Erstattung ist unterwegs",
}
SERIOUS = {"serious", "critical"}


@pytest.fixture(scope="module", autouse=True)
def _catalogues() -> None:
    compile_catalogues()


@pytest.fixture
def open_page(browser, live_server):
    """Open a refund's status page in a fresh context; collects console errors (CSP reports among them)."""
    contexts = []

    def _open(refund, *, width: str = "desktop", javascript: bool = True, query: str = ""):
        context = browser.new_context(viewport=WIDTHS[width], java_script_enabled=javascript)
        contexts.append(context)
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
        page.goto(f"{live_server.url}/r/{refund.status_token}/{query}")
        return page

    yield _open
    for context in contexts:
        context.close()


def _no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _step_boxes(page) -> list[dict]:
    return [li.bounding_box() for li in page.locator("ol.steps > li").all()]


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("language", list(TITLES))
def test_page_in_each_language_and_width(transactional_db, open_page, screenshot_dir, language, width):
    refund = refund_in_state("provider_pending", locale=language, lines=2, rail="card")
    page = open_page(refund, width=width)
    page.wait_for_load_state("networkidle")

    assert page.locator("html").get_attribute("lang") == language
    assert page.locator("html").get_attribute("dir") == ("rtl" if language == "ar" else "ltr")
    assert page.locator("#status-title").inner_text() == TITLES[language]
    assert page.locator('[aria-current="step"]').count() == 1
    assert _no_horizontal_overflow(page), "long strings must wrap, not widen the page"
    assert page.console_errors == []  # a CSP violation would be reported here

    first, *_, last = _step_boxes(page)
    if width == "desktop":
        # A horizontal stepper that runs with the reading direction: mirrored in Arabic.
        assert abs(first["y"] - last["y"]) < 2
        assert (first["x"] > last["x"]) if language == "ar" else (first["x"] < last["x"])
    else:
        # A vertical timeline on phones, its markers on the reading side.
        assert first["y"] < last["y"]
        marker = page.locator("ol.steps > li .step-marker").first.bounding_box()
        label = page.locator("ol.steps > li .step-label").first.bounding_box()
        assert (marker["x"] > label["x"]) if language == "ar" else (marker["x"] < label["x"])

    page.screenshot(path=str(screenshot_dir / f"status-{language}-{width}.png"), full_page=True)


@pytest.mark.parametrize(
    ("customer_state", "language", "width"),
    [
        ("denied", "de", "phone"),
        ("failed", "ar", "desktop"),
        ("completed", "en", "phone"),
        ("requested", "de", "phone"),
        ("denied", "ar", "phone"),
        ("failed_retryable", "de", "desktop"),
        ("canceled", "en", "phone"),
    ],
)
def test_outcomes_render_without_breaking_the_layout(
    transactional_db, open_page, screenshot_dir, customer_state, language, width
):
    refund = refund_in_state(customer_state, locale=language, lines=1)
    page = open_page(refund, width=width)
    assert page.locator("html").get_attribute("lang") == language
    assert page.locator('[aria-current="step"]').count() == 1
    assert _no_horizontal_overflow(page)
    page.screenshot(path=str(screenshot_dir / f"status-{customer_state}-{language}-{width}.png"), full_page=True)


def test_german_survives_the_narrowest_phone(transactional_db, open_page, screenshot_dir):
    refund = refund_in_state("provider_pending", locale="de", lines=3, rail="bank_transfer")
    page = open_page(refund, width="phone")
    page.set_viewport_size({"width": 320, "height": 640})
    assert page.locator("#status-title").inner_text() == TITLES["de"]
    assert _no_horizontal_overflow(page)
    # Every fact and every step stays inside the card.
    card = page.locator("#status-card").bounding_box()
    boxes = page.locator("#status-card dd, #status-card dt, ol.steps .step-text").all()
    assert len(boxes) >= 10
    for box in (el.bounding_box() for el in boxes):
        assert box["x"] >= card["x"] - 1 and box["x"] + box["width"] <= card["x"] + card["width"] + 1
    page.screenshot(path=str(screenshot_dir / "status-de-narrow-phone.png"), full_page=True)


def test_a_status_change_while_open_is_announced_without_moving_focus(
    transactional_db, open_page, settings, screenshot_dir
):
    settings.STATUS_PAGE_POLL_SECONDS = 1
    refund = refund_in_state("requested", locale="en")
    page = open_page(refund, width="phone")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#refresh-hint")).to_have_text("This page updates by itself when the status changes.")
    live = page.locator("#status-live")
    assert live.get_attribute("aria-live") == "polite"
    assert live.inner_text() == ""

    switch = page.locator('a[hreflang="de"]')
    switch.focus()
    refund_approve(refund_id=refund.pk, actor=agent("approver"))

    # (wait_for_function would need eval, which the page's CSP rightly refuses)
    expect(live).to_contain_text("Your refund has been approved", timeout=10_000)
    assert page.locator("#status-title").inner_text() == "Your refund has been approved"
    assert page.locator('ol.steps > li[aria-current="step"] .step-label').inner_text().startswith("Processing")
    assert page.evaluate("document.activeElement.getAttribute('hreflang')") == "de", "focus must not be stolen"
    assert page.title().startswith("Your refund has been approved")
    assert page.console_errors == []
    page.screenshot(path=str(screenshot_dir / "status-live-update-en-phone.png"), full_page=True)


def test_without_javascript_the_page_is_complete_and_a_reload_shows_the_new_state(transactional_db, open_page):
    refund = refund_in_state("requested", locale="en")
    page = open_page(refund, javascript=False)
    assert page.locator("#status-title").inner_text() == "We have received your refund request"
    expect(page.locator("#refresh-hint")).to_have_text("Reload this page to see the latest status.")
    assert page.locator("ol.steps > li").count() == 3

    refund_approve(refund_id=refund.pk, actor=agent("approver"))
    page.reload()
    assert page.locator("#status-title").inner_text() == "Your refund has been approved"


def test_the_language_switch_changes_the_page_language(transactional_db, open_page):
    refund = refund_in_state("approved", locale="en")
    page = open_page(refund)
    page.locator('a[hreflang="ar"]').click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("#status-title").inner_text() == "تمت الموافقة على استرداد المبلغ"
    assert page.locator('a[hreflang="ar"]').get_attribute("aria-current") == "true"


def _axe(page) -> dict:
    """axe-core's results for the page as it is now, with proof that axe really ran on it.

    axe.min.js ships inside axe-playwright-python and is evaluated in the page
    through the DevTools protocol (which the page's CSP does not govern): no
    network involved, and the page's own scripts stay under the strict CSP.
    """
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page).response
    assert results["testEngine"]["name"] == "axe-core"
    assert results["url"] == page.url
    # Rules that must have found something to check on this page: a run that
    # saw an empty or wrong document would not report them as passed.
    passed = {rule["id"] for rule in results["passes"]}
    assert {"html-has-lang", "document-title", "color-contrast", "list", "landmark-one-main"} <= passed, passed
    return results


def _serious(results: dict) -> list:
    return [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in results["violations"] if v["impact"] in SERIOUS
    ]


@pytest.mark.parametrize("language", list(TITLES))
@pytest.mark.parametrize("customer_state", ["requested", "provider_pending", "completed", "denied", "failed_retryable"])
def test_axe_finds_no_serious_accessibility_violations(transactional_db, open_page, language, customer_state):
    refund = refund_in_state(customer_state, locale=language, lines=2)
    for width in WIDTHS:
        page = open_page(refund, width=width)
        page.wait_for_load_state("networkidle")
        assert page.locator("#status-card").count() == 1  # the status page, not the 404
        assert _serious(_axe(page)) == []


@pytest.mark.parametrize(("language", "planted"), [("en", {"color-contrast", "link-name"}), ("ar", {"link-name"})])
def test_axe_really_checks_this_page_and_would_catch_a_violation(transactional_db, open_page, language, planted):
    """The check above cannot pass vacuously: the same run on the same page flags planted faults.

    (axe-core 4.12 does not measure the contrast of Arabic-script text at all —
    only Latin text and digits on the Arabic page — so contrast rests on the
    English and German runs, which use the same stylesheet and colours.)
    """
    page = open_page(refund_in_state("provider_pending", locale=language))
    page.wait_for_load_state("networkidle")
    assert _serious(_axe(page)) == []
    # Faults axe rates serious: low-contrast body text, and a link with no name.
    page.evaluate(
        """() => {
        document.querySelector(".status-body").style.color = "#ccc";
        document.querySelector(".langs a").textContent = "";
    }"""
    )
    found = {rule_id for rule_id, _, _ in _serious(_axe(page))}
    assert planted <= found, found


def test_axe_after_a_live_update(transactional_db, open_page, settings):
    settings.STATUS_PAGE_POLL_SECONDS = 1
    refund = refund_in_state("requested", locale="de")
    page = open_page(refund, width="phone")
    page.wait_for_load_state("networkidle")
    refund_approve(refund_id=refund.pk, actor=agent("approver"))
    expect(page.locator("#status-live")).to_contain_text("Ihre Erstattung wurde genehmigt", timeout=10_000)
    assert _serious(_axe(page)) == []
