"""The waiting screen's poll: answered in front of Flask (engine/waiting_poll.py) only while the
full route would say "still waiting" and write nothing; everything else reaches the route."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select, text

from engine import db, lock_web, models, waiting_poll

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
    assert answer.headers["Cache-Control"] == "no-store" and "script-src 'self'" in answer.headers["Content-Security-Policy"]
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
    monkeypatch.setattr(waiting_poll, "_statement", lambda _dialect: broken)
    reached = []
    guard = lock_web.guard
    monkeypatch.setattr(lock_web, "guard", lambda: reached.append(1) or guard())
    assert _poll(waiting).status_code == 204
    assert reached == [1]
