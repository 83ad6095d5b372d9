"""The waiting screen's and the timer's polls: answered in front of Flask (engine/quiet_polls.py)
only while the full route would change nothing on screen and write nothing; everything else
reaches the route."""
from __future__ import annotations

import datetime as dt
import re
import sqlite3

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError

from engine import attempts, db, lock_web, models, quiet_polls, time_outs

from invigilation_support import correct_fields, remaining
from locks_support import CENTRE_NET, HX, INSIDE, OUTSIDE, attempt_of, from_address, set_centre_ranges, set_locks


def _poll(browser):
    return browser.client.get("/wait", headers=HX)


@pytest.fixture
def waiting(candidate_factory):
    browser = candidate_factory("0001")
    browser.sign_in()
    browser.confirm()
    _poll(browser)  # the first poll records the contact (the heartbeat)
    return browser


@pytest.fixture
def statements(app):
    seen = []

    def count(_conn, _cursor, statement, *_args):
        if statement != "BEGIN":  # SQLite's explicit BEGIN (engine/db.py) is not a query
            seen.append(statement)

    engine = db.engine_for(app)
    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_a_waiting_screen_is_answered_nothing_changed_with_one_read_and_no_lock_guard(app, waiting, statements,
                                                                                       monkeypatch):
    monkeypatch.setattr(lock_web, "guard", lambda: pytest.fail("the poll reached Flask"))
    answer = _poll(waiting)
    assert answer.status_code == 204 and answer.get_data() == b""
    assert answer.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert len(statements) == 1 and "FROM attempts" in statements[0]


def test_the_route_answers_a_poll_that_reaches_it_the_same_way(app, waiting, clock):
    clock.advance(seconds=31)  # the heartbeat is due: the route answers, and records the contact
    answer = _poll(waiting)
    assert answer.status_code == 204
    assert attempt_of(app, "0001").last_contact_at == clock.now


def test_the_heartbeat_still_reaches_the_route_every_30_seconds(app, waiting, clock, monkeypatch):
    reached = []
    guard = lock_web.guard
    monkeypatch.setattr(lock_web, "guard", lambda: reached.append(1) or guard())
    clock.advance(seconds=29)
    _poll(waiting)
    assert reached == []
    clock.advance(seconds=2)
    _poll(waiting)
    assert reached == [1]


def test_when_the_room_starts_the_poll_sends_the_screen_to_its_first_item(app, demo, waiting, invigilator):
    invigilator.start(demo["sitting_id"])
    assert _poll(waiting).headers["HX-Redirect"] == "/test/item/1"


def test_the_start_moves_a_waiting_screen_on_with_one_read_and_the_routes_answer(app, demo, waiting, invigilator,
                                                                                  statements, monkeypatch):
    invigilator.start(demo["sitting_id"])
    routes = waiting.client.get("/wait", headers=HX)  # the route's answer, for comparison
    statements.clear()
    monkeypatch.setattr(lock_web, "guard", lambda: pytest.fail("the poll reached Flask"))
    answer = _poll(waiting)
    assert len(statements) == 1 and "FROM attempts" in statements[0]
    assert answer.status_code == routes.status_code == 200 and answer.get_data() == routes.get_data() == b""
    assert answer.headers["HX-Redirect"] == routes.headers["HX-Redirect"] == "/test/item/1"
    for header in ("Content-Security-Policy", "X-Content-Type-Options", "Cache-Control", "Vary", "Content-Type"):
        assert answer.headers.get(header) == routes.headers.get(header), header


def test_the_first_item_still_passes_the_locks(app, demo, waiting, invigilator):
    set_centre_ranges(app, demo["centre"], [CENTRE_NET])
    set_locks(app, demo["sitting_id"], spec_locks={"centre_network": {}})
    from_address(waiting, OUTSIDE)
    invigilator.start(demo["sitting_id"])
    target = _poll(waiting).headers["HX-Redirect"]
    if target != "/blocked":  # sent on in front of Flask: the item page's guard stops it
        page = waiting.client.get(target)
        assert page.status_code == 303 and "question" not in page.get_data(as_text=True).lower()
        target = page.headers["Location"]
    assert target == "/blocked"


def test_a_started_attempt_with_an_answer_saved_is_sent_on_by_the_route(app, demo, waiting, invigilator,
                                                                         monkeypatch):
    invigilator.start(demo["sitting_id"])
    assert waiting.answer(1, correct_fields(app, attempt_of(app, "0001").form_items[0])).status_code == 200
    reached = _reaches_route(monkeypatch)
    # The waiting page left open in another tab: the route finds the first item still open.
    assert _poll(waiting).headers["HX-Redirect"] == "/test/item/2"
    assert reached == [1]


def test_a_browser_signed_out_by_another_sign_in_is_told_so(app, demo, waiting, candidate_factory):
    other = candidate_factory("0001")
    other.sign_in()  # the same candidate at another workstation: the first browser's claim is stale
    answer = _poll(waiting)
    assert answer.status_code != 204 and "/start" in answer.headers["HX-Redirect"]


@pytest.mark.parametrize("cookie", ["", "onscreen_session=forged.value.sig"])
def test_no_session_or_a_forged_one_goes_to_the_route(app, cookie):
    answer = app.test_client().get("/wait", headers={**HX, "Cookie": cookie})
    assert answer.status_code != 204


def test_the_full_page_and_other_methods_are_never_answered_here(app, waiting):
    page = waiting.client.get("/wait")
    assert page.status_code == 200 and "has not started" in page.get_data(as_text=True)


def test_a_lock_that_starts_blocking_while_waiting_is_applied_within_the_heartbeat(app, demo, waiting, clock):
    set_centre_ranges(app, demo["centre"], [CENTRE_NET])
    set_locks(app, demo["sitting_id"], spec_locks={"centre_network": {}})
    from_address(waiting, OUTSIDE)
    assert _poll(waiting).status_code == 204  # no item is shown or taken while waiting
    clock.advance(seconds=31)
    assert _poll(waiting).headers["HX-Redirect"] == "/blocked"
    from_address(waiting, INSIDE)
    with db.new_session(app) as session:
        assert session.scalar(select(models.Attempt.state).where(models.Attempt.id == attempt_of(app, "0001").id)) \
            == "waiting"


def test_a_database_error_here_leaves_the_answer_to_the_route(app, waiting, monkeypatch):
    broken = text("SELECT no_such_column FROM attempts WHERE id = :attempt_id")  # fails in the database
    monkeypatch.setattr(quiet_polls, "_statement", lambda _dialect: broken)
    reached = []
    guard = lock_web.guard
    monkeypatch.setattr(lock_web, "guard", lambda: reached.append(1) or guard())
    assert _poll(waiting).status_code == 204
    assert reached == [1]


# --- the timer on the test pages ----------------------------------------------------------------

TIMER_POLL = re.compile(r'<div id="timer"[^>]*?hx-get="([^"]+)"')


def _timer_path(answer) -> str:
    return TIMER_POLL.search(answer.get_data(as_text=True)).group(1).replace("&amp;", "&")


class Timer:
    """A test page's timer, polling as the page does: with what it was drawn with, swapped on 200."""

    def __init__(self, browser):
        self.browser = browser
        self.path = _timer_path(browser.item_page(1))

    def poll(self):
        answer = self.browser.client.get(self.path, headers=HX)
        if answer.status_code == 200 and "HX-Redirect" not in answer.headers:
            self.path = _timer_path(answer)
        return answer


@pytest.fixture
def timer(demo, waiting, invigilator, clock):
    invigilator.start(demo["sitting_id"])
    clock.advance(seconds=31)
    shown = Timer(waiting)
    assert shown.poll().status_code == 200  # the heartbeat was due: the route drew the timer again
    return shown


def _reaches_route(monkeypatch) -> list:
    reached = []
    guard = lock_web.guard
    monkeypatch.setattr(lock_web, "guard", lambda: reached.append(1) or guard())
    return reached


def test_a_timer_poll_that_changes_nothing_is_answered_with_one_read_and_no_lock_guard(app, timer, statements,
                                                                                      monkeypatch, clock):
    assert "?shown=" in timer.path
    monkeypatch.setattr(lock_web, "guard", lambda: pytest.fail("the poll reached Flask"))
    clock.advance(seconds=5)
    answer = timer.poll()
    assert answer.status_code == 204 and answer.get_data() == b""
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert len(statements) == 1 and "FROM attempts" in statements[0]


def test_on_postgresql_a_quiet_poll_reads_outside_a_transaction_and_the_next_request_has_one(app, timer, clock):
    if db.engine_for(app).dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (set ONSCREEN_TEST_DATABASE_URL): SQLite's transactions are in-process")
    autocommit = []

    def seen(conn, _cursor, statement, *_args):
        autocommit.append((statement.split()[0], conn.connection.dbapi_connection.autocommit))

    engine = db.engine_for(app)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        clock.advance(seconds=5)
        assert timer.poll().status_code == 204
        assert autocommit == [("SELECT", True)]  # no BEGIN and COMMIT around the one read
        autocommit.clear()
        # The pool hands the connection on as it was: a save is still one transaction.
        assert timer.browser.answer(1, {"text": "an answer"}).status_code == 200
        assert autocommit and not any(flag for _statement, flag in autocommit)
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_the_timer_is_drawn_again_by_the_route_when_the_heartbeat_is_due(app, timer, clock, monkeypatch):
    reached = _reaches_route(monkeypatch)
    clock.advance(seconds=29)
    assert timer.poll().status_code == 204 and reached == []
    clock.advance(seconds=2)
    answer = timer.poll()
    assert answer.status_code == 200 and reached == [1]
    assert 'data-remaining="' in answer.get_data(as_text=True)  # the server's time, put back on screen
    assert attempt_of(app, "0001").last_contact_at == clock.now


def test_a_timer_drawn_a_heartbeat_ago_goes_to_the_route_without_the_read(app, timer, clock, monkeypatch):
    monkeypatch.setattr(quiet_polls.QuietPolls, "_attempt", lambda *_a: pytest.fail("read in front of the route"))
    clock.advance(seconds=30)
    assert timer.poll().status_code == 200


def test_a_timer_that_claims_to_be_new_still_reaches_the_route_when_the_heartbeat_is_due(app, timer, clock,
                                                                                          monkeypatch):
    reached = _reaches_route(monkeypatch)
    clock.advance(seconds=31)
    now = int(clock.now.replace(tzinfo=dt.UTC).timestamp())
    forged = re.sub(r"at=\d+", f"at={now}", timer.path)
    assert forged != timer.path
    assert timer.browser.client.get(forged, headers=HX).status_code == 200 and reached == [1]


def test_a_timer_showing_a_deadline_passed_goes_to_the_route_without_the_read(app, timer, clock, monkeypatch):
    left = remaining(app, "0001")
    clock.advance(seconds=left - 20)
    timer.poll()  # drawn again (the heartbeat was due), 20 s before the deadline
    monkeypatch.setattr(quiet_polls.QuietPolls, "_attempt", lambda *_a: pytest.fail("read in front of the route"))
    clock.advance(seconds=21)
    assert timer.poll().status_code == 200  # in the grace for saves in flight: the route shows 0


@pytest.mark.parametrize("drawn", ["soon", "9" * 5000, "\u00b2"])
def test_a_timer_poll_with_a_nonsense_time_is_treated_as_without_one(app, timer, drawn):
    path = re.sub(r"at=\d+", f"at={drawn}", timer.path)
    assert timer.browser.client.get(path, headers=HX).status_code == 204
    nonsense = re.sub(r"shown=\w+", f"shown={drawn}", timer.path)
    assert timer.browser.client.get(nonsense, headers=HX).status_code == 200  # not what it shows: the route


def test_extra_time_reaches_the_screen_on_the_next_poll(app, demo, timer, invigilator):
    before = timer.path
    attempt = attempt_of(app, "0001")
    invigilator.post(f"/invigilate/sittings/{demo['sitting_id']}/attempts/{attempt.id}/time", kind="credit",
                     minutes="10", reason="lost time")
    answer = timer.poll()
    assert answer.status_code == 200 and timer.path != before
    shown = int(re.search(r'data-remaining="(\d+)"', answer.get_data(as_text=True)).group(1))
    assert shown > 44 * 60  # 45 minutes, less the 31 s gone, plus 10 minutes
    assert timer.poll().status_code == 204  # drawn with the new deadline: no change again


def test_hiding_the_timer_is_never_undone_by_a_quiet_poll(app, timer, waiting):
    waiting.client.post("/test/timer", data={"csrf_token": waiting.csrf, "hidden": "1"}, headers=HX)
    answer = timer.poll()  # the page's old timer (drawn shown) polls once more before its swap
    assert answer.status_code == 200 and "Timer hidden" in answer.get_data(as_text=True)
    assert timer.poll().status_code == 204


def test_a_pause_moves_the_screen_on_at_the_next_poll(app, demo, timer, invigilator):
    attempt = attempt_of(app, "0001")
    invigilator.post(f"/invigilate/sittings/{demo['sitting_id']}/attempts/{attempt.id}/pause", reason="unwell")
    assert timer.poll().headers["HX-Redirect"] == "/paused"


def test_a_time_warning_due_is_announced_by_the_route_then_polls_are_quiet_again(app, timer, clock):
    clock.advance(minutes=35)  # under 10 minutes left (the heartbeat is due too)
    assert "10 minutes left." in timer.poll().get_data(as_text=True)
    clock.advance(seconds=5)
    assert timer.poll().status_code == 204
    clock.advance(seconds=10)
    assert timer.poll().status_code == 204


def test_a_warning_crossed_between_heartbeats_is_not_held_back(app, timer, clock):
    left = remaining(app, "0001")
    clock.advance(seconds=left - 600 - 20)  # 10 min 20 s left: no warning yet
    assert timer.poll().status_code == 200  # (the heartbeat was due)
    clock.advance(seconds=25)  # 9 min 55 s left, 25 s after the last contact
    answer = timer.poll()
    assert answer.status_code == 200 and "10 minutes left." in answer.get_data(as_text=True)


def test_when_time_is_up_the_route_answers(app, timer, clock, monkeypatch):
    left = remaining(app, "0001")
    clock.advance(seconds=left - 10)
    timer.poll()  # the route: heartbeat, and the one-minute warning
    reached = _reaches_route(monkeypatch)
    clock.advance(seconds=11)
    timer.poll()
    assert reached == [1]


def _to_the_deadline(app, timer, clock, before: int = 5):
    """The clock ``before`` seconds short of the deadline, the timer drawn again by the route then."""
    clock.advance(seconds=remaining(app, "0001") - before)
    assert timer.poll().status_code == 200  # the heartbeat was due: drawn (and contact recorded) now


def test_once_the_grace_is_over_the_timer_is_sent_to_the_done_page_which_finishes_the_attempt(
        app, timer, clock, statements, monkeypatch):
    _to_the_deadline(app, timer, clock)
    clock.advance(seconds=5 + app.config["SAVE_GRACE_SECONDS"] + 1)
    statements.clear()
    monkeypatch.setattr(lock_web, "guard", lambda: pytest.fail("the poll reached Flask"))
    answer = timer.poll()
    assert answer.status_code == 200 and answer.headers["HX-Redirect"] == "/test/done"
    assert len(statements) == 1 and "FROM attempts" in statements[0]
    assert attempt_of(app, "0001").state == "in_progress"  # nothing written in front of Flask
    monkeypatch.undo()
    reached = _reaches_route(monkeypatch)
    page = timer.browser.client.get("/test/done")
    assert page.status_code == 200 and "Time ran out" in page.get_data(as_text=True)
    assert reached == [1]  # the done page passed the locks before finishing
    attempt = attempt_of(app, "0001")
    assert (attempt.state, attempt.finish_reason) == ("finished", "timed_out")
    assert attempt.result is not None


def test_a_timer_whose_attempt_a_room_mate_finished_is_sent_to_the_done_page_in_front_of_flask(
        app, timer, clock, statements, monkeypatch):
    """The first poll of a room finishes the room's time-outs together (engine/time_outs.py): the
    others' polls then find their attempt finished, and go to the done page as before."""
    _to_the_deadline(app, timer, clock)
    now = clock.advance(seconds=5 + app.config["SAVE_GRACE_SECONDS"] + 1)
    attempt_id = attempt_of(app, "0001").id
    with app.app_context():
        session = db.new_session(app)
        assert time_outs.finish_together(session, [attempt_id], now, app.config["SAVE_GRACE_SECONDS"]) == [attempt_id]
        session.close()
    statements.clear()
    monkeypatch.setattr(lock_web, "guard", lambda: pytest.fail("the poll reached Flask"))
    answer = timer.poll()
    assert answer.status_code == 200 and answer.headers["HX-Redirect"] == "/test/done"
    assert len(statements) == 1 and "FROM attempts" in statements[0]


def test_a_finish_the_database_cannot_take_now_shows_time_up_and_tries_again(app, timer, clock, monkeypatch):
    _to_the_deadline(app, timer, clock)
    clock.advance(seconds=5 + app.config["SAVE_GRACE_SECONDS"] + 1)
    assert timer.poll().headers["HX-Redirect"] == "/test/done"

    def refused(*_args, **_kwargs):
        raise OperationalError("UPDATE attempts", {}, sqlite3.OperationalError("database is locked"))
    monkeypatch.setattr(attempts, "finish_many", refused)
    page = timer.browser.client.get("/test/done")
    text = page.get_data(as_text=True)
    assert page.status_code == 503 and "Time is up" in text and 'hx-get="/test/done"' in text
    assert attempt_of(app, "0001").state == "in_progress"
    monkeypatch.undo()
    again = timer.browser.client.get("/test/done", headers=HX)  # the time-up page's poll
    assert again.status_code == 200 and "Time ran out" in again.get_data(as_text=True)
    assert attempt_of(app, "0001").state == "finished"


def test_in_the_grace_the_timer_still_reaches_the_route(app, timer, clock, monkeypatch):
    _to_the_deadline(app, timer, clock)
    reached = _reaches_route(monkeypatch)
    clock.advance(seconds=5 + app.config["SAVE_GRACE_SECONDS"])  # the last second of the grace
    answer = timer.poll()
    assert answer.status_code == 200 and "HX-Redirect" not in answer.headers and reached == [1]
    assert attempt_of(app, "0001").state == "in_progress"


def test_extra_time_given_after_the_timer_was_drawn_is_not_cut_short(app, demo, timer, clock, invigilator):
    _to_the_deadline(app, timer, clock)
    attempt = attempt_of(app, "0001")
    invigilator.post(f"/invigilate/sittings/{demo['sitting_id']}/attempts/{attempt.id}/time", kind="credit",
                     minutes="5", reason="fire alarm")
    clock.advance(seconds=5 + app.config["SAVE_GRACE_SECONDS"] + 1)  # past the deadline the page shows
    answer = timer.poll()
    assert answer.status_code == 200 and "HX-Redirect" not in answer.headers  # the route draws the new time
    shown = int(re.search(r'data-remaining="(\d+)"', answer.get_data(as_text=True)).group(1))
    assert 4 * 60 < shown < 5 * 60
    assert attempt_of(app, "0001").state == "in_progress"


def test_a_forged_deadline_shown_cannot_send_a_running_test_to_the_done_page(app, timer, clock):
    past = re.sub(r"shown=\d{8}T\d+", "shown=20000101T000000000000", timer.path)  # long past, as drawn
    assert past != timer.path
    answer = timer.browser.client.get(past, headers=HX)
    assert answer.headers.get("HX-Redirect") != "/test/done"
    assert attempt_of(app, "0001").state == "in_progress"


def test_a_timer_poll_without_what_it_shows_always_reaches_the_route(app, timer, monkeypatch):
    reached = _reaches_route(monkeypatch)
    assert timer.browser.client.get("/test/time", headers=HX).status_code == 200
    assert reached == [1]


def test_a_browser_moved_to_another_workstation_is_told_so_by_its_timer(app, timer, candidate_factory):
    other = candidate_factory("0001")
    other.sign_in()
    assert "/start" in timer.poll().headers["HX-Redirect"]


def test_a_lock_that_starts_blocking_mid_test_reaches_the_timer_within_the_heartbeat(app, demo, timer, clock):
    set_centre_ranges(app, demo["centre"], [CENTRE_NET])
    set_locks(app, demo["sitting_id"], spec_locks={"centre_network": {}})
    from_address(timer.browser, OUTSIDE)
    assert timer.browser.item_page(2).headers["Location"] == "/blocked"  # an item page, at once
    assert timer.poll().status_code == 204  # the timer shows no item and takes no answer
    clock.advance(seconds=31)
    assert timer.poll().headers["HX-Redirect"] == "/blocked"


# --- the paused screen ----------------------------------------------------------------------------

@pytest.fixture
def paused(app, demo, timer, invigilator):
    attempt = attempt_of(app, "0001")
    invigilator.post(f"/invigilate/sittings/{demo['sitting_id']}/attempts/{attempt.id}/pause", reason="unwell")
    assert _paused_poll(timer.browser).status_code == 204
    return timer.browser


def _paused_poll(browser, shown="paused"):
    """The paused screen's poll, saying what it shows (templates/candidate/_paused_status.html)."""
    return browser.client.get(f"/paused?shown={shown}", headers=HX)


def test_a_paused_screen_that_changes_nothing_is_answered_with_one_read_and_no_lock_guard(app, paused, statements,
                                                                                         monkeypatch):
    monkeypatch.setattr(lock_web, "guard", lambda: pytest.fail("the poll reached Flask"))
    answer = _paused_poll(paused)
    assert answer.status_code == 204 and answer.get_data() == b""
    assert len(statements) == 1 and "FROM attempts" in statements[0]


def test_resuming_moves_the_paused_screen_on_at_the_next_poll(app, demo, paused, invigilator):
    attempt = attempt_of(app, "0001")
    invigilator.post(f"/invigilate/sittings/{demo['sitting_id']}/attempts/{attempt.id}/resume")
    assert _paused_poll(paused).headers["HX-Redirect"].startswith("/test")


def test_a_pause_that_becomes_a_room_stop_is_redrawn(app, demo, paused, invigilator):
    invigilator.post(f"/invigilate/sittings/{demo['sitting_id']}/emergency", reason="fire alarm")
    assert _paused_poll(paused).headers["HX-Redirect"] == "/paused"  # drawn again: "stopped for the whole room"
    assert _paused_poll(paused, shown="stopped").status_code == 204


def test_the_paused_screen_reaches_the_route_every_30_seconds(app, paused, clock, monkeypatch):
    reached = _reaches_route(monkeypatch)
    clock.advance(seconds=29)
    assert _paused_poll(paused).status_code == 204 and reached == []
    clock.advance(seconds=2)
    assert _paused_poll(paused).status_code == 204 and reached == [1]
    assert attempt_of(app, "0001").last_contact_at == clock.now
