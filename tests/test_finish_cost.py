"""The two exam-day bursts stay cheap: a room start costs the same statements for any room size,
and a time-out finish (with its marking) costs the same for a form of any length; both keep the
behaviour: deadlines by the ledger rule, marks from the latest saves, totals and breakdowns."""
from __future__ import annotations

import contextlib
import datetime as dt
import uuid

from sqlalchemy import delete, event, inspect, select, update

from engine import attempts, db, marking, models, sweeper, timing
from engine.attempt_states import IN_PROGRESS, SUBMITTED, TIMED_OUT
from engine.plugins import item_type

from conftest import csrf_from


@contextlib.contextmanager
def listening(app, handler):
    """``handler(statement)`` for every SQL statement the block sends (an executemany once)."""
    def _sent(_conn, _cursor, statement, *_args):
        handler(statement)
    engine = db.engine_for(app)
    event.listen(engine, "before_cursor_execute", _sent)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", _sent)


@contextlib.contextmanager
def counted(app, in_write_lock_only: bool = False):
    """Counts the SQL statements the block sends (or only those inside write transactions, after
    SQLite's BEGIN IMMEDIATE)."""
    count = {"n": 0}

    def _count(statement):
        if not in_write_lock_only or (db._write_intent.get() and not statement.startswith("BEGIN")):
            count["n"] += 1
    with listening(app, _count):
        yield count


def open_room(app, size: int, now: dt.datetime, tag: str) -> int:
    """A sitting of the demo centre with ``size`` new candidates, all confirmed and waiting."""
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            centre = session.scalar(select(models.Centre).where(models.Centre.number == "99001"))
            specification = session.scalar(select(models.TestSpecification).where(
                models.TestSpecification.code == "unit-2"))
            candidates = [models.Candidate(centre_id=centre.id, candidate_number=f"{tag}{n:03d}", first_name="Room",
                                           last_name=f"Candidate {n}", access_arrangements={}) for n in range(size)]
            session.add_all(candidates)
            session.flush()
            sitting = attempts.open_sitting(session, centre=centre, specification=specification, candidates=candidates,
                                            title=f"Room of {size}", actor="test", staff_id=None, now=now)
            for entry in sitting.entries:
                attempts.confirm_details(session, entry.attempt, now)
            sitting_id = sitting.id
        session.close()
    return sitting_id


def room_attempts(session, sitting_id: int) -> list[models.Attempt]:
    return list(session.scalars(select(models.Attempt).join(models.Entry)
                                .where(models.Entry.sitting_id == sitting_id).order_by(models.Entry.id)))


def start_room(app, sitting_id: int, now: dt.datetime) -> list[tuple[int, dt.datetime]]:
    """The invigilator starts the room: each attempt's id and deadline, in entry order."""
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            attempts.start_sitting(session, session.get(models.Sitting, sitting_id), "test", now)
        started = [(a.id, a.deadline_at) for a in room_attempts(session, sitting_id)]
        session.close()
    return started


def time_events(session, attempt_id: int) -> list[models.TimeEvent]:
    return list(session.scalars(select(models.TimeEvent).where(models.TimeEvent.attempt_id == attempt_id)
                                .order_by(models.TimeEvent.id)))


def test_a_room_start_costs_the_same_statements_for_3_or_12_candidates(app, demo, invigilator, clock):
    small, large = open_room(app, 3, clock.now, "7"), open_room(app, 12, clock.now, "8")
    with counted(app) as three:
        invigilator.start(small)
    with counted(app) as twelve:
        invigilator.start(large)
    assert three["n"] == twelve["n"], (three["n"], twelve["n"])
    # Nor does showing the room afterwards grow with it (the start redirects to the dashboard).
    with counted(app) as page_three:
        assert invigilator.client.get(f"/invigilate/sittings/{small}").status_code == 200
    with counted(app) as page_twelve:
        assert invigilator.client.get(f"/invigilate/sittings/{large}").status_code == 200
    assert page_three["n"] == page_twelve["n"], (page_three["n"], page_twelve["n"])


def test_a_room_start_sets_every_deadline_by_the_ledger_rule(app, demo, clock):
    start = clock.now
    sitting_id = open_room(app, 4, start, "6")
    with app.app_context():
        session = db.new_session(app)
        # One candidate already has time on the ledger (extra time granted before the start) and
        # one has extra time from access arrangements: both count from the room's start.
        earlier, arranged = room_attempts(session, sitting_id)[1:3]
        with db.writing(session):
            session.add(models.TimeEvent(attempt_id=earlier.id, kind=timing.EXTEND, at=start, seconds=600,
                                         actor="test", reason="agreed before the start"))
            arranged.allowed_seconds += 675
        now = clock.advance(minutes=2)
        with db.writing(session):
            sitting = session.get(models.Sitting, sitting_id, with_for_update=True)
            assert attempts.start_sitting(session, sitting, "test", now) == 4
        session.close()
        session = db.new_session(app)
        for attempt in room_attempts(session, sitting_id):
            assert attempt.state == IN_PROGRESS and attempt.started_at == now
            assert attempt.deadline_at == attempts.ledger(session, attempt, now).deadline
            extra = 600 if attempt.id == earlier.id else 0
            assert attempt.deadline_at == now + dt.timedelta(seconds=attempt.allowed_seconds + extra)
            starts = [(e.kind, e.at, e.actor) for e in time_events(session, attempt.id) if e.kind == timing.START]
            assert starts == [(timing.START, now, "test")]
        audit = session.scalars(select(models.AuditEvent).where(models.AuditEvent.action == "sitting.start")
                                .order_by(models.AuditEvent.id.desc())).first()
        assert audit.detail == {"started": 4} and audit.subject == f"sitting:{sitting_id}"
        session.close()


def answer_some(app, sitting_id: int, now: dt.datetime, how_many: int = 4) -> None:
    """The correct answer to the first items of every attempt in the room (then a blank to one)."""
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            for attempt in room_attempts(session, sitting_id):
                for form_item in attempt.form_items[:how_many]:
                    version = form_item.item_version
                    correct = item_type(version.type_name).correct_response(version.definition)
                    attempts.save_response(session, attempt, form_item.position, correct, uuid.uuid4().hex, now, 10)
        session.close()


def finish_timed_out(app, attempt_id: int, now: dt.datetime) -> int:
    """A time-out finish in its own write transaction, as a candidate's timer poll makes it;
    returns the statements it sent."""
    with app.app_context():
        session = db.new_session(app)
        with counted(app) as count:
            with db.writing(session):
                attempt = session.get(models.Attempt, attempt_id, with_for_update=True, populate_existing=True)
                attempts.finish(session, attempt, TIMED_OUT, now, actor="time-out")
        session.close()
    return count["n"]


def assert_finished_and_marked(app, attempt_id: int, deadline: dt.datetime) -> None:
    """Finished at the deadline with a FINISH event, every item marked on its answer, and the
    result equal to the marking rule's figures."""
    with app.app_context():
        session = db.new_session(app)
        attempt = session.get(models.Attempt, attempt_id)
        assert attempt.state == "finished" and attempt.finish_reason == TIMED_OUT
        assert attempt.finished_at == deadline and attempt.deadline_at is None
        events = time_events(session, attempt_id)
        assert [(e.kind, e.at, e.actor, e.reason) for e in events][-1] == (timing.FINISH, deadline, "time-out", TIMED_OUT)
        for form_item in attempt.form_items:
            version = form_item.item_version
            expected = item_type(version.type_name).mark(version.definition, form_item.current_response)
            assert (form_item.marks_awarded, form_item.marks_available, form_item.mark_outcome) == \
                (expected.awarded, expected.available, expected.outcome)
            assert form_item.marked_version_id == version.id
        spec = attempt.entry.sitting.specification
        figures = marking.compute(marking.unit_outcomes(spec.unit), marking.rows_for(session, attempt))
        result = attempt.result
        assert result.total == figures.total == sum(fi.marks_awarded for fi in attempt.form_items)
        assert result.available == figures.available and result.passed == (figures.total >= spec.pass_mark)
        assert result.by_outcome == [{**b, "awarded": str(b["awarded"]), "available": str(b["available"])}
                                     for b in figures.by_outcome]
        assert result.by_criterion == [{**b, "awarded": str(b["awarded"]), "available": str(b["available"])}
                                       for b in figures.by_criterion]
        assert result.total > 0
        session.close()


def test_a_finish_costs_the_same_statements_for_a_short_or_a_long_form(app, demo, clock):
    sitting_id = open_room(app, 2, clock.now, "5")
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            attempts.start_sitting(session, session.get(models.Sitting, sitting_id), "test", clock.now)
        short, long = [(a.id, a.deadline_at) for a in room_attempts(session, sitting_id)]
        long_items = len(session.get(models.Attempt, long[0]).form_items)
        with db.writing(session):
            session.execute(delete(models.FormItem).where(models.FormItem.attempt_id == short[0],
                                                          models.FormItem.position > 5))
        session.close()
    assert long_items >= 15
    answer_some(app, sitting_id, clock.advance(minutes=5))
    now = clock.advance(hours=2)
    few, many = finish_timed_out(app, short[0], now), finish_timed_out(app, long[0], now)
    # Ten or more items more cost no statement more (an open-response item may add one query).
    assert abs(many - few) <= 1, (few, many)
    assert many < 20, many
    assert_finished_and_marked(app, short[0], short[1])
    assert_finished_and_marked(app, long[0], long[1])


def test_the_sweeper_finishes_a_burst_cheaply_and_the_same_way(app, demo, clock):
    sitting_id = open_room(app, 6, clock.now, "4")
    deadlines = dict(start_room(app, sitting_id, clock.now))
    answer_some(app, sitting_id, clock.advance(minutes=5))
    clock.advance(hours=2)
    with counted(app) as count:
        assert sweeper.sweep(app) == 6
    assert count["n"] <= 10 + 14 * 6, count["n"]  # a few per sweep, then a short transaction each
    for attempt_id, deadline in deadlines.items():
        assert_finished_and_marked(app, attempt_id, deadline)
    assert sweeper.sweep(app) == 0


def test_the_login_storm_holds_the_write_lock_for_few_statements(app, candidate_factory):
    """Everyone signs in and confirms within a minute, each in a write transaction: those hold
    the write lock for the attempt's reload and its change, not for lazy loads of its entry,
    sitting and specification (7 and 4 statements before) or a clear of no failures."""
    browser = candidate_factory("0002")
    page = browser.client.get("/start").get_data(as_text=True)
    with counted(app, in_write_lock_only=True) as sign_in:
        response = browser.client.post("/start", data={"centre_number": browser.centre, "candidate_number": "0002",
                                                       "keycode": browser.keycode, "csrf_token": csrf_from(page)})
    assert response.status_code == 303
    browser.csrf = csrf_from(browser.client.get("/details", follow_redirects=True).get_data(as_text=True))
    with counted(app, in_write_lock_only=True) as confirm:
        browser.confirm()
    assert sign_in["n"] <= 2, sign_in["n"]  # the attempt read afresh, its update
    assert confirm["n"] <= 3, confirm["n"]  # the attempt read afresh, its update, the audit record


def test_a_time_out_on_the_candidates_poll_marks_before_the_write_lock(app, candidate_factory, invigilator, demo,
                                                                       clock):
    """At a deadline the whole room's polls finish their attempts at once: during the grace they
    leave the write lock alone, and after it the marking is done before the lock is taken."""
    grace = app.config["SAVE_GRACE_SECONDS"] = 10
    browser = candidate_factory("0002")
    browser.sign_in()
    browser.confirm()
    invigilator.start(demo["sitting_id"])
    with app.app_context():
        session = db.new_session(app)
        attempt = session.scalar(select(models.Attempt).join(models.Entry).join(models.Candidate).where(
            models.Candidate.candidate_number == "0002", models.Entry.sitting_id == demo["sitting_id"]))
        attempt_id, deadline = attempt.id, attempt.deadline_at
        version = attempt.form_items[0].item_version
        correct = item_type(version.type_name).correct_response(version.definition)
        with db.writing(session):
            attempts.save_response(session, attempt, 1, correct, uuid.uuid4().hex, clock.advance(minutes=1), grace)
        session.close()
    poll = {"HX-Request": "true"}
    clock.now = deadline + dt.timedelta(seconds=grace - 5)
    browser.client.get("/test/time", headers=poll)  # may record the heartbeat
    clock.advance(seconds=1)
    with counted(app, in_write_lock_only=True) as in_grace:
        assert browser.client.get("/test/time", headers=poll).headers.get("HX-Redirect") is None
    assert in_grace["n"] == 0, in_grace["n"]
    clock.now = deadline + dt.timedelta(seconds=grace + 1)
    with counted(app, in_write_lock_only=True) as finishing:
        response = browser.client.get("/test/time", headers=poll)
    assert response.headers["HX-Redirect"] == "/test/done"
    if db.engine_for(app).dialect.name == "sqlite":
        # The attempt read afresh, its update, the FINISH time event, the form, the marks (one
        # statement for every item), the result read and written, the audit record. (PostgreSQL
        # has no database-wide write lock: it marks the rows it claimed inside, engine/time_outs.py.)
        assert finishing["n"] <= 8, finishing["n"]
    assert_finished_and_marked(app, attempt_id, deadline)


def test_a_save_landing_after_the_marks_were_worked_out_is_marked_too(app, demo, clock):
    """The marks worked out before the write lock are used only if no save has landed since."""
    grace = 10
    sitting_id = open_room(app, 1, clock.now, "3")
    ((attempt_id, deadline),) = start_room(app, sitting_id, clock.now)
    answer_some(app, sitting_id, clock.advance(minutes=5), how_many=2)
    late = deadline + dt.timedelta(seconds=grace + 1)
    with app.app_context():
        session = db.new_session(app)
        prepared = attempts.prepare_time_out(session, session.get(models.Attempt, attempt_id), late, grace)
        assert prepared is not None
        # A save accepted in time, committed by another request after the marks were worked out.
        other = db.new_session(app)
        with db.writing(other):
            attempt = other.get(models.Attempt, attempt_id)
            version = attempt.form_items[2].item_version
            correct = item_type(version.type_name).correct_response(version.definition)
            attempts.save_response(other, attempt, attempt.form_items[2].position, correct, uuid.uuid4().hex,
                                   deadline - dt.timedelta(seconds=1), grace)
        other.close()
        with db.writing(session):
            attempt = attempts.reload_for_write(session, attempt_id)
            assert attempts.finish_if_expired(session, attempt, late, grace, prepared)
        session.close()
    assert_finished_and_marked(app, attempt_id, deadline)
    with app.app_context():
        session = db.new_session(app)
        third = session.get(models.Attempt, attempt_id).form_items[2]
        assert third.current_response == correct and third.marks_awarded == third.marks_available > 0
        session.close()


def test_a_finish_marks_the_form_items_a_session_already_holds(app, demo, clock):
    """Marking reads the form as rows (engine/marking.py); form items the session has loaded
    anyway show the marks written, as committed: nothing is read again or written twice."""
    grace = 10
    sitting_id = open_room(app, 1, clock.now, "3")
    ((attempt_id, deadline),) = start_room(app, sitting_id, clock.now)
    answer_some(app, sitting_id, clock.advance(minutes=5), how_many=3)
    late = deadline + dt.timedelta(seconds=grace + 1)
    with app.app_context():
        session = db.new_session(app)
        attempt = session.get(models.Attempt, attempt_id)
        held = list(attempt.form_items)
        assert all(fi.marks_awarded is None for fi in held)
        prepared = attempts.prepare_time_out(session, attempt, late, grace)
        with db.writing(session):
            attempt = attempts.reload_for_write(session, attempt_id)
            assert attempts.finish_if_expired(session, attempt, late, grace, prepared)
            assert not any(fi in session.dirty for fi in held)
        shown = [(fi.id, fi.marks_awarded, fi.marks_available, fi.mark_outcome, fi.marked_version_id) for fi in held]
        session.close()
        fresh = db.new_session(app)
        stored = [(fi.id, fi.marks_awarded, fi.marks_available, fi.mark_outcome, fi.marked_version_id)
                  for fi in fresh.get(models.Attempt, attempt_id).form_items]
        fresh.close()
    assert shown == stored
    assert sum(1 for row in stored if row[1]) == 3 and all(row[2] is not None for row in stored)
    assert_finished_and_marked(app, attempt_id, deadline)


def test_marking_again_updates_the_result_it_has_not_loaded(app, demo, clock):
    """A first finish asks for the result with a row, not the relationship; an attempt marked
    again (the marking queue, a regrade) keeps its one result, changed, not a second one."""
    sitting_id = open_room(app, 1, clock.now, "3")
    ((attempt_id, deadline),) = start_room(app, sitting_id, clock.now)
    answer_some(app, sitting_id, clock.advance(minutes=5), how_many=2)
    finish_timed_out(app, attempt_id, deadline + dt.timedelta(minutes=1))
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            session.execute(update(models.Result).where(models.Result.attempt_id == attempt_id)
                            .values(total=0, status="provisional"))
        session.close()
        session = db.new_session(app)
        with db.writing(session):
            attempt = session.get(models.Attempt, attempt_id)
            assert "result" in inspect(attempt).unloaded
            result = marking.mark_attempt(session, attempt, clock.now)
            assert attempt.result is result
        session.close()
        session = db.new_session(app)
        results = session.scalars(select(models.Result).where(models.Result.attempt_id == attempt_id)).all()
        assert len(results) == 1 and results[0].total > 0 and results[0].status == marking.CONFIRMED
        session.close()
    assert_finished_and_marked(app, attempt_id, deadline)


def test_a_finish_writes_its_rows_as_it_goes_and_leaves_the_commit_nothing_to_flush(app, demo, clock):
    """The attempt, its time event, result and audit record are written by the finish's own
    statements (engine/attempts.py, ``_write_finished``); the objects the session holds show
    what was written, as loaded, so the commit sends no statement before its COMMIT."""
    sitting_id = open_room(app, 1, clock.now, "3")
    ((attempt_id, deadline),) = start_room(app, sitting_id, clock.now)
    answer_some(app, sitting_id, clock.advance(minutes=5), how_many=3)
    late = deadline + dt.timedelta(minutes=1)
    with app.app_context():
        session = db.new_session(app)
        with counted(app) as at_commit:
            with db.writing(session):
                attempt = attempts.reload_for_write(session, attempt_id)
                attempts.finish(session, attempt, TIMED_OUT, late, actor="time-out")
                assert not session.new and not session.dirty
                at_commit["n"] = 0
        assert at_commit["n"] == 0
        held = (attempt.state, attempt.finish_reason, attempt.outcome, attempt.finished_at, attempt.deadline_at,
                attempt.result.total, attempt.result.status)
        session.close()
        fresh = db.new_session(app)
        stored = fresh.get(models.Attempt, attempt_id)
        assert held == (stored.state, stored.finish_reason, stored.outcome, stored.finished_at, stored.deadline_at,
                        stored.result.total, stored.result.status)
        assert held[:5] == ("finished", TIMED_OUT, "complete", deadline, None)
        audit = fresh.scalars(select(models.AuditEvent).where(models.AuditEvent.subject == f"attempt:{attempt_id}",
                                                              models.AuditEvent.action == "attempt.finish")).all()
        assert [(a.actor, a.at, a.detail) for a in audit] == [("time-out", late, {"reason": TIMED_OUT})]
        fresh.close()
    assert_finished_and_marked(app, attempt_id, deadline)


def test_a_submit_marked_before_its_write_marks_a_save_that_lands_in_between(app, demo, clock):
    """A submit works out its marks before the write lock too (engine/candidate.py); a save
    committed in between is in the result, and without one the marks worked out are stored."""
    sitting_id = open_room(app, 2, clock.now, "4")
    (changed, _), (unchanged, _) = start_room(app, sitting_id, clock.now)
    now = clock.advance(minutes=5)
    answer_some(app, sitting_id, now, how_many=2)
    with app.app_context():
        for attempt_id in (changed, unchanged):
            session = db.new_session(app)
            prepared = marking.prepare(session, session.get(models.Attempt, attempt_id))
            if attempt_id == changed:
                other = db.new_session(app)
                with db.writing(other):
                    attempt = other.get(models.Attempt, attempt_id)
                    version = attempt.form_items[2].item_version
                    correct = item_type(version.type_name).correct_response(version.definition)
                    attempts.save_response(other, attempt, attempt.form_items[2].position, correct,
                                           uuid.uuid4().hex, now, 10)
                other.close()
            with db.writing(session):
                attempts.submit(session, attempts.reload_for_write(session, attempt_id), now, prepared)
            session.close()
        session = db.new_session(app)
        for attempt_id, answered in ((changed, 3), (unchanged, 2)):
            attempt = session.get(models.Attempt, attempt_id)
            assert attempt.state == "finished" and attempt.finish_reason == SUBMITTED
            awarded = [fi for fi in attempt.form_items if fi.marks_awarded]
            assert [fi.position for fi in awarded] == [fi.position for fi in attempt.form_items[:answered]]
            assert all(fi.marks_awarded == fi.marks_available for fi in awarded)
            assert attempt.result.total == sum(fi.marks_awarded for fi in attempt.form_items)
        session.close()


def test_the_sweeper_leaves_a_time_out_to_an_open_browser_for_a_while(app, demo, clock):
    """At a deadline the candidates' own polls finish their attempts; the sweeper (and the
    register, by the same rule) finish at once only those whose browser is gone, so the
    attempts are not marked two or three times over by rivals racing to finish them."""
    grace = app.config["SAVE_GRACE_SECONDS"]
    sitting_id = open_room(app, 2, clock.now, "2")
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            attempts.start_sitting(session, session.get(models.Sitting, sitting_id), "test", clock.now)
        open_browser, closed_browser = room_attempts(session, sitting_id)
        deadline = open_browser.deadline_at
        with db.writing(session):
            open_browser.last_contact_at = deadline - dt.timedelta(seconds=5)  # its last save
            closed_browser.last_contact_at = deadline - dt.timedelta(minutes=20)
        session.close()

    def unattended(now):
        with app.app_context():
            session = db.new_session(app)
            found = {a.id: attempts.is_unattended(a, now, grace) for a in room_attempts(session, sitting_id)}
            session.close()
        return found
    clock.now = deadline + dt.timedelta(seconds=grace + 1)
    assert unattended(clock.now) == {open_browser.id: False, closed_browser.id: True}
    assert sweeper.sweep(app) == 1
    last_contact = deadline - dt.timedelta(seconds=5)
    clock.now = last_contact + dt.timedelta(seconds=attempts.LEFT_TO_THE_BROWSER_SECONDS - 1)
    assert sweeper.sweep(app) == 0
    clock.advance(seconds=2)  # the browser has gone quiet: it is not coming back to finish
    assert unattended(clock.now)[open_browser.id]
    assert sweeper.sweep(app) == 1
    for attempt_id in (open_browser.id, closed_browser.id):
        assert_finished_and_marked_blank(app, attempt_id, deadline)


def assert_finished_and_marked_blank(app, attempt_id: int, deadline: dt.datetime) -> None:
    with app.app_context():
        session = db.new_session(app)
        attempt = session.get(models.Attempt, attempt_id)
        assert attempt.state == "finished" and attempt.finish_reason == TIMED_OUT and attempt.finished_at == deadline
        assert attempt.result.total == 0 and all(fi.mark_outcome == "blank" for fi in attempt.form_items)
        session.close()
