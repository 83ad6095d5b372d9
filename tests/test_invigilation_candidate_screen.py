"""What the candidate sees of invigilation: spoken time warnings, "hide timer", the paused screen."""
from __future__ import annotations

import re

from invigilation_support import HX, attempt_of, remaining


def _working(candidate_factory, invigilator, sitting_id, number="0001"):
    browser = candidate_factory(number)
    browser.sign_in()
    browser.confirm()
    invigilator.start(sitting_id)
    return browser


def _warning_oob(response) -> str | None:
    """The text sent for the live region, or None when the poll leaves it alone."""
    match = re.search(r'<div id="time-warning" hx-swap-oob="innerHTML">(.*?)</div>', response.get_data(as_text=True), re.S)
    return match.group(1).strip() if match else None


def test_warnings_at_10_5_and_1_minute_are_sent_once_into_a_polite_live_region(
        app, demo, invigilator, candidate_factory, clock):
    aisha = _working(candidate_factory, invigilator, demo["sitting_id"])
    page = aisha.item_page(1).get_data(as_text=True)
    region = re.search(r'<div id="time-warning"[^>]*>', page).group(0)
    assert 'role="status"' in region and 'aria-live="polite"' in region
    assert "hx-swap-oob" not in region and "hx-get" not in region  # the region itself is never swapped or polled

    clock.advance(minutes=34, seconds=30)  # 10 min 30 s left
    assert _warning_oob(aisha.client.get("/test/time", headers=HX)) is None
    for left, words in [(9 * 60 + 59, "10 minutes left."), (4 * 60 + 59, "5 minutes left."), (59, "1 minute left.")]:
        clock.advance(seconds=remaining(app, "0001") - left)
        assert _warning_oob(aisha.client.get("/test/time", headers=HX)) == words
        assert _warning_oob(aisha.client.get("/test/time", headers=HX)) is None  # said once, not every poll
        # A new page shows the current warning without announcing it again.
        assert words in re.search(r'<div id="time-warning"[^>]*>(.*?)</div>', aisha.item_page(2).get_data(as_text=True),
                                  re.S).group(1)

    # Time given back takes the candidate out of the warning zone: the region is cleared.
    attempt = attempt_of(app, "0001")
    invigilator.post(f"/invigilate/sittings/{demo['sitting_id']}/attempts/{attempt.id}/time", kind="credit",
                     minutes="15", reason="lost time")
    assert _warning_oob(aisha.client.get("/test/time", headers=HX)) == ""


def test_a_warning_crossed_during_a_page_load_is_still_announced(app, demo, invigilator, candidate_factory, clock):
    aisha = _working(candidate_factory, invigilator, demo["sitting_id"])
    clock.advance(minutes=35, seconds=30)  # 9 min 30 s left, and no poll has run yet
    page = aisha.item_page(1).get_data(as_text=True)
    assert re.search(r'<div id="time-warning"[^>]*></div>', page)  # empty until announced
    assert _warning_oob(aisha.client.get("/test/time", headers=HX)) == "10 minutes left."


def test_hide_timer_works_as_a_plain_post_and_is_remembered(app, demo, invigilator, candidate_factory):
    aisha = _working(candidate_factory, invigilator, demo["sitting_id"])
    page = aisha.item_page(3).get_data(as_text=True)
    assert "Hide timer" in page and "Time left" in page
    hidden = aisha.client.post("/test/timer", data={"csrf_token": aisha.csrf, "hidden": "1", "next": "/test/item/3"})
    assert hidden.status_code == 303 and hidden.headers["Location"] == "/test/item/3"
    page = aisha.item_page(3).get_data(as_text=True)
    assert "Timer hidden" in page and "Show timer" in page and "data-role=\"timer-value\"" not in page
    assert "Timer hidden" in aisha.client.get("/test/time", headers=HX).get_data(as_text=True)
    # Remembered on the attempt: a new workstation keeps the choice.
    again = candidate_factory("0001")
    again.sign_in()
    assert "Timer hidden" in again.item_page(1).get_data(as_text=True)
    # htmx swaps just the timer area, keeping the toggle's id so focus stays on it.
    shown = again.client.post("/test/timer", data={"csrf_token": again.csrf, "hidden": "0"}, headers=HX)
    body = shown.get_data(as_text=True)
    assert shown.status_code == 200 and 'id="timer-area"' in body and 'id="timer-toggle"' in body and "Hide timer" in body
    # Never sends the browser anywhere it names.
    elsewhere = again.client.post("/test/timer", data={"csrf_token": again.csrf, "hidden": "0", "next": "//evil.example/"})
    assert elsewhere.headers["Location"] == "/test"


def test_the_paused_screen_shows_no_item_and_says_how_long_is_left(app, demo, invigilator, candidate_factory, clock):
    aisha = _working(candidate_factory, invigilator, demo["sitting_id"])
    item_page = aisha.item_page(1).get_data(as_text=True)
    assert 'name="r-' in item_page
    clock.advance(minutes=5)
    attempt = attempt_of(app, "0001")
    invigilator.post(f"/invigilate/sittings/{demo['sitting_id']}/attempts/{attempt.id}/pause", reason="illness")
    page = aisha.client.get("/test/item/1", follow_redirects=True).get_data(as_text=True)
    assert "Your test is paused" in page and "40 min 00 s" in page
    assert 'name="r-' not in page and "Question 1" not in page
    assert 'hx-get="/paused?shown=paused"' in page
    assert aisha.client.get("/paused?shown=paused", headers=HX).status_code == 204
    # The flag and the review page are out of reach too.
    assert aisha.client.post("/test/item/1/flag", data={"csrf_token": aisha.csrf, "flagged": "1"},
                             headers=HX).headers["HX-Redirect"] == "/paused"
    assert aisha.client.get("/test/review").headers["Location"].endswith("/paused")
