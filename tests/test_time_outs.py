"""A room's time-outs finish together (engine/time_outs.py): the first screen to find its time up
finishes every timed-out attempt of its room in one write transaction, each exactly as a finish
of its own would (marks, result, FINISH event, audit record), and leaves alone the candidates
with time left, other rooms, and anyone a rival finisher got to first."""
from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time

import pytest
from sqlalchemy import func, select

from engine import attempts, db, marking, models, sweeper, time_outs, timing
from engine.attempt_states import ENDED, IN_PROGRESS

from test_finish_cost import answer_some, assert_finished_and_marked, counted, listening, open_room, start_room

HX = {"HX-Request": "true"}


def states(app, attempt_ids) -> dict[int, str]:
    with app.app_context():
        session = db.new_session(app)
        found = dict(session.execute(select(models.Attempt.id, models.Attempt.state)
                                     .where(models.Attempt.id.in_(list(attempt_ids)))).all())
        session.close()
    return found


def finish_records(app, attempt_id: int) -> tuple[int, int]:
    """How many ``attempt.finish`` audit records and FINISH time events the attempt has."""
    with app.app_context():
        session = db.new_session(app)
        audits = session.scalar(select(func.count()).select_from(models.AuditEvent).where(
            models.AuditEvent.action == "attempt.finish", models.AuditEvent.subject == f"attempt:{attempt_id}"))
        events = session.scalar(select(func.count()).select_from(models.TimeEvent).where(
            models.TimeEvent.attempt_id == attempt_id, models.TimeEvent.kind == timing.FINISH))
        session.close()
    return audits, events


@contextlib.contextmanager
def sent(app):
    """Every SQL statement the block sends (an executemany once), its verb first."""
    statements: list[str] = []
    with listening(app, lambda statement: statements.append(statement.lstrip().split(None, 1)[0].upper() + " "
                                                              + statement)):
        yield statements


def writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith(("INSERT ", "UPDATE ", "DELETE "))]


def finish_room_of(app, attempt_id: int, now: dt.datetime) -> None:
    """What the first finishing poll of a room does, in a session of its own."""
    with app.app_context():
        session = db.new_session(app)
        try:
            attempt = attempts.load_with_context(session, attempt_id)
            time_outs.finish_room(session, attempt, now, app.config["SAVE_GRACE_SECONDS"])
            assert attempt.state != IN_PROGRESS  # the caller's copy is as the database has it
        finally:
            session.close()


def cannot_mark(attempt_id: int, monkeypatch) -> None:
    """Marking this attempt raises, as an answer its item type cannot mark would."""
    prepare = marking.prepare

    def failing(session, attempt, *args):
        if attempt.id == attempt_id:
            raise ValueError("an answer its item type cannot mark")
        return prepare(session, attempt, *args)
    monkeypatch.setattr(marking, "prepare", failing)


def timed_out_room(app, clock, size: int, tag: str) -> tuple[dict[int, dt.datetime], dt.datetime]:
    """A started room of ``size`` with some answers, then two hours on: each attempt's deadline,
    and the time now, when every one has timed out."""
    sitting_id = open_room(app, size, clock.now, tag)
    deadlines = dict(start_room(app, sitting_id, clock.now))
    answer_some(app, sitting_id, clock.advance(minutes=5))
    return deadlines, clock.advance(hours=2)


def test_the_first_poll_after_the_deadline_finishes_the_room_in_one_write(app, demo, candidate_factory, invigilator,
                                                                           clock):
    browsers = {number: candidate_factory(number) for number in ("0001", "0002", "0003", "0004", "0005", "0006")}
    for browser in browsers.values():
        browser.sign_in()
        browser.confirm()
    invigilator.start(demo["sitting_id"])
    other_room = open_room(app, 2, clock.now, "6")
    others = dict(start_room(app, other_room, clock.now))
    with app.app_context():
        session = db.new_session(app)
        room = {a.entry.candidate.candidate_number: (a.id, a.deadline_at) for a in session.scalars(
            select(models.Attempt).join(models.Entry).where(models.Entry.sitting_id == demo["sitting_id"]))}
        session.close()
    answer_some(app, demo["sitting_id"], clock.advance(minutes=5))
    # Five have 45 minutes; 0002 has 25 % extra time, so is still writing.
    clock.now = room["0001"][1] + dt.timedelta(seconds=app.config["SAVE_GRACE_SECONDS"] + 1)
    assert room["0002"][1] > clock.now
    with sent(app) as statements, counted(app, in_write_lock_only=True) as written:
        page = browsers["0001"].client.get("/test/done")
    assert page.status_code == 200 and "Time ran out" in page.get_data(as_text=True)
    if db.engine_for(app).dialect.name == "sqlite":
        assert statements.count("BEGIN BEGIN IMMEDIATE") == 1, statements  # one write transaction
    # The five attempts' rows: their FINISH events, the attempts, every form item's marks, the
    # results and the audit records, one statement each for the room.
    assert len(writes(statements)) == 5, writes(statements)
    if db.engine_for(app).dialect.name == "sqlite":
        # With the attempts read again and the result check: SQLite's write lock is held for these
        # only, the marks worked out before it. (PostgreSQL marks the claimed rows inside.)
        assert written["n"] <= 8, written["n"]
    for number in ("0001", "0003", "0004", "0005", "0006"):
        assert_finished_and_marked(app, *room[number])
        assert finish_records(app, room[number][0]) == (1, 1)
    assert states(app, [room["0002"][0]]) == {room["0002"][0]: IN_PROGRESS}  # time left: untouched
    assert set(states(app, others).values()) == {IN_PROGRESS}  # another room: its own polls finish it
    # 0003's own poll now only shows the page: nothing left to write.
    with counted(app, in_write_lock_only=True) as later:
        page = browsers["0003"].client.get("/test/done")
    assert page.status_code == 200 and "Time ran out" in page.get_data(as_text=True)
    assert later["n"] == 0, later["n"]
    assert finish_records(app, room["0003"][0]) == (1, 1)


def test_a_hall_larger_than_a_batch_finishes_in_batches_the_pollers_own_first(app, demo, clock, monkeypatch):
    monkeypatch.setattr(time_outs, "BATCH", 3)
    deadlines, now = timed_out_room(app, clock, 8, "4")
    ids = sorted(deadlines)
    finish_room_of(app, ids[-1], now)
    finished = {i for i, state in states(app, ids).items() if state != IN_PROGRESS}
    assert finished == {*ids[:3], ids[-1]}
    finish_room_of(app, ids[4], now)
    finished = {i for i, state in states(app, ids).items() if state != IN_PROGRESS}
    assert finished == {*ids[:6], ids[-1]}
    assert sweeper.sweep(app) == 1  # the last one, whoever finishes it
    for attempt_id, deadline in deadlines.items():
        assert_finished_and_marked(app, attempt_id, deadline)
        assert finish_records(app, attempt_id) == (1, 1)


def test_someone_elses_attempt_that_cannot_be_marked_does_not_hold_up_the_pollers_finish(app, demo, clock,
                                                                                          monkeypatch):
    deadlines, now = timed_out_room(app, clock, 3, "3")
    own, broken, fine = sorted(deadlines)
    cannot_mark(broken, monkeypatch)
    finish_room_of(app, own, now)
    assert states(app, deadlines) == {own: "finished", broken: IN_PROGRESS, fine: IN_PROGRESS}
    assert_finished_and_marked(app, own, deadlines[own])
    monkeypatch.undo()
    finish_room_of(app, fine, now)  # the next poll of the room finishes the rest
    for attempt_id, deadline in deadlines.items():
        assert_finished_and_marked(app, attempt_id, deadline)
        assert finish_records(app, attempt_id) == (1, 1)


def test_a_rival_that_finished_the_room_first_is_not_finished_again(app, demo, clock, monkeypatch):
    """Two server processes' polls of one room both work out the room's marks; the one whose
    write comes second finds every attempt finished and writes nothing."""
    deadlines, now = timed_out_room(app, clock, 3, "2")
    ids = sorted(deadlines)
    prepare, prepared = marking.prepare, []
    grace = app.config["SAVE_GRACE_SECONDS"]

    def then_a_rival(session, attempt, *args):
        result = prepare(session, attempt, *args)
        prepared.append(attempt.id)
        if len(prepared) == len(ids):  # this finisher has worked out every mark; its write is next
            with app.app_context():
                rival = db.new_session(app)
                try:
                    assert time_outs.finish_together(rival, ids, now, grace) == ids
                finally:
                    rival.close()
        return result
    monkeypatch.setattr(marking, "prepare", then_a_rival)
    with app.app_context():
        session = db.new_session(app)
        try:
            assert time_outs.finish_together(session, ids, now, grace) == []
        finally:
            session.close()
    monkeypatch.undo()
    for attempt_id, deadline in deadlines.items():
        assert_finished_and_marked(app, attempt_id, deadline)
        assert finish_records(app, attempt_id) == (1, 1)


def test_ending_a_room_writes_each_kind_of_row_once_for_the_room(app, demo, clock):
    small, large = open_room(app, 2, clock.now, "7"), open_room(app, 9, clock.now, "8")
    for sitting_id in (small, large):
        start_room(app, sitting_id, clock.now)
        answer_some(app, sitting_id, clock.advance(minutes=1))
    written = []
    with app.app_context():
        for sitting_id, size in ((small, 2), (large, 9)):
            session = db.new_session(app)
            with sent(app) as statements, db.writing(session):
                assert attempts.end_sitting(session, session.get(models.Sitting, sitting_id), "test",
                                            clock.advance(minutes=1)) == size
            written.append(writes(statements))
            reasons = set(session.scalars(select(models.Attempt.finish_reason).join(models.Entry)
                                          .where(models.Entry.sitting_id == sitting_id)))
            results = session.scalar(select(func.count()).select_from(models.Result).join(models.Attempt)
                                     .join(models.Entry).where(models.Entry.sitting_id == sitting_id))
            assert reasons == {ENDED} and results == size
            session.close()
    # The FINISH events, the attempts, the marks, the results and the audit records, then the
    # sitting and its own audit record: as many statements for nine candidates as for two.
    assert len(written[0]) == len(written[1]) == 7, written


def test_the_sweeper_finishes_unattended_time_outs_a_batch_to_a_write(app, demo, clock, monkeypatch):
    monkeypatch.setattr(time_outs, "BATCH", 4)
    deadlines, _ = timed_out_room(app, clock, 6, "5")  # every browser long gone: the sweeper's to finish
    with sent(app) as statements:
        assert sweeper.sweep(app) == 6
    if db.engine_for(app).dialect.name == "sqlite":
        assert statements.count("BEGIN BEGIN IMMEDIATE") == 2, statements  # 4, then 2
    # Each batch: the FINISH events, the attempts, the marks, the results, the audit records.
    assert len(writes(statements)) == 2 * 5, writes(statements)
    for attempt_id, deadline in deadlines.items():
        assert_finished_and_marked(app, attempt_id, deadline)
        assert finish_records(app, attempt_id) == (1, 1)
    assert sweeper.sweep(app) == 0


def test_one_attempt_the_sweeper_cannot_finish_holds_up_no_other(app, demo, clock, runner, monkeypatch):
    monkeypatch.setattr(time_outs, "BATCH", 3)
    deadlines, _ = timed_out_room(app, clock, 5, "6")
    broken = sorted(deadlines)[1]  # in the first batch, with others before and after it
    cannot_mark(broken, monkeypatch)
    result = runner.invoke(args=["sweep"])
    assert result.exit_code == 1, result.output
    assert f"finished 4 timed-out attempt(s); could not finish attempt {broken} (ValueError: an answer" \
        in result.output
    assert states(app, deadlines) == {i: IN_PROGRESS if i == broken else "finished" for i in deadlines}
    monkeypatch.undo()
    assert sweeper.sweep(app) == 1  # put right, the next sweep finishes it
    for attempt_id, deadline in deadlines.items():
        assert_finished_and_marked(app, attempt_id, deadline)
        assert finish_records(app, attempt_id) == (1, 1)


def test_the_register_shows_the_room_when_one_time_out_cannot_be_finished(app, demo, clock, invigilator,
                                                                          monkeypatch):
    sitting_id = open_room(app, 3, clock.now, "7")
    deadlines = dict(start_room(app, sitting_id, clock.now))
    clock.advance(hours=2)
    broken = sorted(deadlines)[0]
    cannot_mark(broken, monkeypatch)
    page = invigilator.client.get(f"/invigilate/sittings/{sitting_id}/register", headers=HX)
    assert page.status_code == 200, page.status_code
    assert states(app, deadlines) == {i: IN_PROGRESS if i == broken else "finished" for i in deadlines}


def postgresql_only(app):
    if db.engine_for(app).dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (set ONSCREEN_TEST_DATABASE_URL): SQLite's finishers take turns for one lock")


def wait_for(condition, seconds: float = 20.0) -> None:
    """Until ``condition()`` holds (another thread's work), failing after ``seconds``."""
    give_up = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < give_up, "gave up waiting"
        time.sleep(0.05)


def test_on_postgresql_a_room_finisher_leaves_the_attempts_another_finisher_holds(app, demo, clock):
    """Another server process's first poll of the room holds some of its time-outs: this one
    marks and finishes the rest, not those."""
    postgresql_only(app)
    deadlines, now = timed_out_room(app, clock, 5, "8")
    ids = sorted(deadlines)
    held, own = ids[:2], ids[3]
    prepare, marked = marking.prepare, []

    def counting(session, attempt, *args):
        marked.append(attempt.id)
        return prepare(session, attempt, *args)
    rival = db.engine_for(app).connect()
    try:
        rival.execute(select(models.Attempt.id).where(models.Attempt.id.in_(held)).with_for_update())
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(marking, "prepare", counting)
            finish_room_of(app, own, now)
        assert sorted(marked) == ids[2:]  # nothing of the held rows worked out twice
        assert states(app, ids) == {i: IN_PROGRESS if i in held else "finished" for i in ids}
    finally:
        rival.rollback()
        rival.close()
    finish_room_of(app, held[0], now)  # the rival let go: the next poll finishes the rest
    for attempt_id, deadline in deadlines.items():
        assert_finished_and_marked(app, attempt_id, deadline)
        assert finish_records(app, attempt_id) == (1, 1)


def test_on_postgresql_a_poll_whose_attempt_another_finisher_holds_waits_and_finds_it_finished(app, demo, clock):
    postgresql_only(app)
    deadlines, now = timed_out_room(app, clock, 4, "9")
    ids = sorted(deadlines)
    own, others = ids[1], [i for i in ids if i != ids[1]]
    grace = app.config["SAVE_GRACE_SECONDS"]
    failures = []

    def poll():
        try:
            finish_room_of(app, own, now)
        except Exception as error:  # reported by the main thread
            failures.append(error)
    with app.app_context():
        rival = db.new_session(app)
        try:
            with db.writing(rival):
                time_outs._finish_locked(rival, [own], now, grace)  # finished, not yet committed
                poller = threading.Thread(target=poll)
                poller.start()
                # The poll claims and finishes the rest of the room while the rival holds its own.
                wait_for(lambda: set(states(app, others).values()) == {"finished"})
                assert states(app, [own]) == {own: IN_PROGRESS}
            poller.join(timeout=20)
        finally:
            rival.close()
    assert not poller.is_alive() and not failures, failures
    for attempt_id, deadline in deadlines.items():
        assert_finished_and_marked(app, attempt_id, deadline)
        assert finish_records(app, attempt_id) == (1, 1)  # the rival's finish, not a second one
