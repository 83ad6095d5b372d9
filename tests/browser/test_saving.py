"""Saving under failure, in a real browser: the network cut and restored, the server failing, a
reload with answers not yet sent. No answer is lost, they arrive in order, and "Saved" is only
ever shown for what the server acknowledged."""
from __future__ import annotations

import re

from .browser_support import answer_item, receipt_time, save_status, sign_in, staff_page, start_sitting, wait_for_item

SAVED = re.compile(r"^Saved \d\d:\d\d:\d\d$")


def _candidate_at_item_1(new_context, live_server, number):
    staff = staff_page(new_context(), live_server)
    page = new_context().new_page()
    sign_in(page, live_server, number)
    start_sitting(staff, live_server)
    wait_for_item(page, 1)
    return page


def _wait_saved(page):
    page.wait_for_function("() => /^Saved \\d\\d:\\d\\d:\\d\\d$/.test(document.getElementById('save-status').textContent.trim())",
                           timeout=15_000)
    return save_status(page)


def test_network_cut_mid_test_and_restored_loses_nothing_and_receipts_match(new_context, live_server):
    page = _candidate_at_item_1(new_context, live_server, "0001")
    answer_item(page, 0)
    first = _wait_saved(page)
    assert SAVED.match(first)

    page.context.set_offline(True)
    answer_item(page, 1)
    # Not saved, said plainly, and kept in the browser.
    page.wait_for_function("() => document.getElementById('save-status').textContent.includes('Not saved yet')")
    assert "Not saved yet" in save_status(page)
    assert "question 1" in page.locator("#unsent-status").inner_text()
    stored = page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('onscreen:unsent:'))")
    assert stored, "the unsent answer must be kept in the browser"
    # Moving on while offline waits: the page must not be lost with the answer in it.
    page.get_by_role("button", name="Next").click()
    page.wait_for_timeout(500)
    assert page.url.endswith("/test/item/1")
    assert len(live_server.response_events("0001", 1)) == 1  # the server has only the first answer

    page.context.set_offline(False)
    wait_for_item(page, 2)  # sent on reconnection, then moved on as asked
    events = live_server.response_events("0001", 1)
    assert len(events) == 2
    items = live_server.form_items("0001")
    assert items[0].current_response == events[-1].response
    assert page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('onscreen:unsent:')).length") == 0

    # Several answers while cut off arrive in the order they were given.
    page.context.set_offline(True)
    answer_item(page, 0)
    answer_item(page, 1)
    page.wait_for_function("() => document.getElementById('save-status').textContent.includes('Not saved yet')")
    page.context.set_offline(False)
    receipt = _wait_saved(page)
    events = live_server.response_events("0001", 2)
    assert events and [e.seq for e in events] == sorted(e.seq for e in events)
    assert live_server.form_items("0001")[1].current_response == events[-1].response
    assert receipt == f"Saved {receipt_time(events[-1].recorded_at)}"


def test_a_server_error_shows_not_saved_and_the_answer_is_sent_again(new_context, live_server):
    page = _candidate_at_item_1(new_context, live_server, "0002")
    failures = []

    def fail_once(route):
        if not failures:
            failures.append(route.request.url)
            route.fulfill(status=503, body="unavailable")
        else:
            route.continue_()

    page.route(re.compile(r"/test/item/1$"), lambda route: fail_once(route) if route.request.method == "POST" else route.continue_())
    answer_item(page, 0)
    page.wait_for_function("() => document.getElementById('save-status').textContent.includes('server did not answer')")
    receipt = _wait_saved(page)  # retried by itself
    events = live_server.response_events("0002", 1)
    assert len(failures) == 1 and len(events) == 1
    assert receipt == f"Saved {receipt_time(events[0].recorded_at)}"


def test_reload_with_unsent_answers_never_shows_them_as_saved(new_context, live_server):
    page = _candidate_at_item_1(new_context, live_server, "0003")
    answer_item(page, 0)
    _wait_saved(page)
    saved_answer = live_server.form_items("0003")[0].current_response

    # Saves fail (the page itself still loads): change the answer, then reload.
    page.route(re.compile(r"/test/item/1$"), lambda route: route.abort() if route.request.method == "POST" else route.continue_())
    entered = answer_item(page, 1)
    page.wait_for_function("() => document.getElementById('save-status').textContent.includes('Not saved yet')")
    page.reload()
    # The server's page says "Saved" for the older answer; the browser knows better.
    page.wait_for_function("() => document.getElementById('save-status').textContent.includes('Not saved yet')")
    assert not SAVED.match(save_status(page))
    name, value = entered.split("=", 1)
    field = page.locator(f"#item-form [name='{name}']")
    if field.first.get_attribute("type") in ("radio", "checkbox"):
        assert page.locator(f"#item-form [name='{name}'][value='{value}']").is_checked()
    else:
        assert field.first.input_value() == value
    assert live_server.form_items("0003")[0].current_response == saved_answer

    page.unroute(re.compile(r"/test/item/1$"))
    receipt = _wait_saved(page)  # retried by itself once saves get through
    events = live_server.response_events("0003", 1)
    assert len(events) == 2 and live_server.form_items("0003")[0].current_response != saved_answer
    assert receipt == f"Saved {receipt_time(events[-1].recorded_at)}"


def test_a_flag_pressed_while_a_save_is_in_flight_stays_on_the_navigator(new_context, live_server):
    page = _candidate_at_item_1(new_context, live_server, "0003")
    held = []

    def hold_the_save(route):
        # The server stores the save (and renders its navigator cell, not flagged) now; the
        # browser gets the answer only after the flag's, the order that took the flag off.
        if route.request.method == "POST":
            held.append((route, route.fetch()))
        else:
            route.continue_()

    page.route(re.compile(r"/test/item/1$"), hold_the_save)
    answer_item(page, 0)
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the save was never sent"
    page.click("#flag-button")
    page.wait_for_selector("#flag-button[aria-pressed=true]")
    assert "flagged" in page.locator("#nav-1").inner_text()
    route, response = held[0]
    route.fulfill(response=response)
    _wait_saved(page)
    cell = page.locator("#nav-1")
    assert "answered, flagged" in cell.inner_text()
    assert "is-flagged" in cell.locator(".nav-cell").get_attribute("class")
    assert cell.locator(".nav-flag").count() == 1
