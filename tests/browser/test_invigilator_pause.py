"""An invigilator pauses the room: the candidate's screen hides the test within one poll, and
comes back with the answers when the room resumes."""
from __future__ import annotations

import re

from .browser_support import answer_item, sign_in, staff_page, start_sitting, wait_for_item


def test_pausing_the_room_hides_the_candidates_screen_and_resuming_brings_it_back(new_context, live_server):
    staff = staff_page(new_context(), live_server)
    page = new_context().new_page()
    sign_in(page, live_server, "0004")
    start_sitting(staff, live_server)
    wait_for_item(page, 1)
    answer_item(page, 0)
    page.wait_for_function("() => document.getElementById('save-status').textContent.trim().startsWith('Saved')")
    stem = page.locator("#item-form .stem").first.inner_text()

    staff.goto(live_server.at(f"/invigilate/sittings/{live_server.info['sitting_id']}"))
    staff.get_by_text("Pause the whole room with a reason").click()
    staff.fill("#room-reason", "Fire alarm test")
    staff.get_by_role("button", name="Pause the room").click()
    staff.wait_for_load_state()

    page.wait_for_url(re.compile(r"/paused$"), timeout=15_000)  # the timer poll notices within 5 s
    assert page.locator("h1").inner_text() == "The test is stopped for the whole room"
    assert page.locator("#item-form").count() == 0
    assert page.locator("[name^='r-']").count() == 0
    assert stem not in page.content()
    # The paused page's own live region says why, without an item in sight.
    assert page.locator("main [role=status]").first.inner_text().strip()

    staff.goto(live_server.at(f"/invigilate/sittings/{live_server.info['sitting_id']}"))
    staff.get_by_role("button", name="Resume the room").click()
    staff.wait_for_load_state()

    wait_for_item(page)  # the paused screen's poll moves the browser on
    assert page.locator("#item-form").count() == 1
    page.get_by_role("link", name=re.compile(r"^1\b")).click()
    wait_for_item(page, 1)
    assert page.locator("#item-form .stem").first.inner_text() == stem
    assert page.locator("#save-status").inner_text().startswith("Saved")  # the answer before the pause is kept
