"""Access tools in a real browser: arrangements on the record switch tools on without asking;
a change applies at once, keeps focus, and is remembered for the attempt; read aloud speaks the
question through the browser's speech synthesis; the practice test runs without invigilation."""
from __future__ import annotations

import re

from .browser_support import answer_item, sign_in, staff_page, start_sitting, wait_for_item

SPY = """() => {
    window.__spoken = [];
    window.speechSynthesis.speak = u => window.__spoken.push(u.text);
}"""


def _classes(page) -> set[str]:
    return set(page.evaluate("() => [...document.documentElement.classList]"))


def test_arrangements_switch_tools_on_and_a_change_is_remembered(new_context, live_server):
    live_server.set_arrangements("0006", {"colour_scheme": "cream", "enlarged_text": True, "computer_reader": True})
    staff = staff_page(new_context(), live_server)
    page = new_context().new_page()
    sign_in(page, live_server, "0006")
    assert {"scheme-cream", "text-150", "reader-on"} <= _classes(page)  # before anyone asked
    start_sitting(staff, live_server)
    wait_for_item(page, 1)
    assert {"scheme-cream", "text-150", "reader-on"} <= _classes(page)
    assert page.get_by_role("button", name="Read aloud").is_visible()

    # Read aloud speaks the question (the browser's own speech synthesis).
    page.evaluate(SPY)
    page.get_by_role("button", name="Read aloud").click()
    spoken = page.evaluate("() => window.__spoken")
    assert spoken and "Question 1" in spoken[0]
    assert page.locator("#item-form .stem").first.inner_text().strip()[:40] in spoken[0]

    # A change by keyboard applies at once, focus stays, and the next page keeps it.
    page.locator("summary", has_text="Display and reading tools").click()
    page.focus("#display-colour_scheme")
    page.select_option("#display-colour_scheme", "high_contrast")
    page.wait_for_function("() => document.documentElement.classList.contains('scheme-high-contrast')")
    assert "scheme-cream" not in _classes(page)
    assert page.evaluate("() => document.activeElement.id") == "display-colour_scheme"
    page.wait_for_load_state("networkidle")
    page.goto(live_server.at("/test/item/2"))
    assert {"scheme-high-contrast", "text-150", "reader-on"} <= _classes(page)
    # Turning read aloud off hides its buttons.
    page.locator("summary", has_text="Display and reading tools").click()
    page.uncheck("#display-read_aloud")
    assert not page.get_by_role("button", name="Read aloud").is_visible()


def test_practice_test_of_every_item_type_without_invigilation(new_context, live_server):
    page = new_context().new_page()
    page.goto(live_server.at("/"))
    page.get_by_role("link", name=re.compile("practice test")).click()
    page.get_by_role("link", name="Start the practice test").click()
    total = page.locator(".nav-grid li").count()
    assert total == 9
    for position in range(1, total + 1):
        page.wait_for_url(re.compile(rf"/practice/item/{position}$"))
        answer_item(page, 0)
        page.wait_for_function("() => document.getElementById('save-status').textContent.trim().startsWith('Saved')")
        if position == 3:
            page.get_by_role("button", name="Flag for review").click()
            page.wait_for_selector("#flag-button[aria-pressed=true]")
        page.locator("#item-form button[data-href]").last.click()
    page.wait_for_url(re.compile(r"/practice/review$"))
    assert page.locator("h2", has_text="Flagged for review").inner_text() == "Flagged for review (1)"
    assert page.locator("h2", has_text="Not answered").count() == 0
    page.get_by_role("button", name="Finish and see my marks").click()
    rows = page.locator("tbody tr")
    assert rows.count() == 9
    assert "Not answered" not in page.locator("tbody").inner_text()
