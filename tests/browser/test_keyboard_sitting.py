"""A whole sitting by keyboard only: sign in, confirm, answer every item, flag one, review and
submit, pressing Tab, Shift+Tab, Space, Enter and arrow keys; every stop shows its focus and is
not hidden behind anything."""
from __future__ import annotations

import re

from .browser_support import staff_page, start_sitting, wait_for_item

#: Per Tab stop: the element, whether it shows focus, whether it is on screen and uncovered.
FOCUS_PROBE = """selector => {
    const el = document.activeElement;
    if (!el || el === document.body) return {matches: false, shown: true, visible: true, tag: 'body'};
    const style = getComputedStyle(el);
    const shown = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 || style.boxShadow !== 'none';
    const r = el.getBoundingClientRect();
    const cx = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1), cy = Math.min(Math.max(r.top + r.height / 2, 0), innerHeight - 1);
    const hit = document.elementFromPoint(cx, cy);
    const labelled = el.labels && [...el.labels].some(l => l.contains(hit));
    const visible = r.bottom > 0 && r.top < innerHeight && !!hit && (el.contains(hit) || hit.contains(el) || labelled);
    return {matches: el.matches(selector), shown, visible, tag: el.outerHTML.slice(0, 120)};
}"""


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until ``selector`` has focus; every stop on the way must show it is focused."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        probe = page.evaluate(FOCUS_PROBE, selector)
        assert probe["shown"], f"no visible focus on {probe['tag']}"
        assert probe["visible"], f"focused element off screen or covered: {probe['tag']}"
        if probe["matches"]:
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")


def answer_by_keys(page) -> None:
    tab_to(page, "#item-form [name^='r-']")
    kind = page.evaluate("() => document.activeElement.tagName === 'INPUT' ? document.activeElement.type : document.activeElement.tagName")
    if kind in ("radio", "checkbox"):
        page.keyboard.press("Space")
    elif kind == "SELECT":
        page.keyboard.press("ArrowDown")
    elif kind == "number":
        page.keyboard.type("3")
    else:
        page.keyboard.type("keyboard answer")


def test_a_full_sitting_by_keyboard_only(new_context, live_server):
    staff = staff_page(new_context(), live_server)
    page = new_context().new_page()
    page.goto(live_server.at("/start"))
    for field, value in (("#centre_number", live_server.info["centre"]), ("#candidate_number", "0005"),
                         ("#keycode", live_server.info["keycode"].lower())):
        tab_to(page, field)
        page.keyboard.type(value)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/details$"))
    tab_to(page, "#confirm")
    page.keyboard.press("Space")
    tab_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/wait$"))

    start_sitting(staff, live_server)
    wait_for_item(page, 1)
    total = page.locator(".nav-grid li").count()
    for position in range(1, total + 1):
        wait_for_item(page, position)
        answer_by_keys(page)
        if position == 2:
            tab_to(page, "#flag-button")
            page.keyboard.press("Enter")
            page.wait_for_selector("#flag-button[aria-pressed=true]")
            assert "flagged" in page.locator("#nav-2").inner_text()
        tab_to(page, "#item-form button[data-href]:last-of-type")
        page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/test/review$"))

    items = live_server.form_items("0005")
    assert all(fi.answered for fi in items), [fi.position for fi in items if not fi.answered]
    flagged = page.locator("h2", has_text="Flagged for review")
    assert flagged.inner_text() == "Flagged for review (1)"
    assert page.locator("h2", has_text="Not answered").count() == 0

    tab_to(page, "#confirm-submit")
    page.keyboard.press("Space")
    tab_to(page, "form[data-needs-saved] button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/test/done$"))
    assert "Your answers have been submitted." in page.locator("main").inner_text()
    assert f"{total} of {total} questions were answered" in page.locator("main").inner_text()
    assert live_server.attempt("0005").finish_reason == "submitted"
