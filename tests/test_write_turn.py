"""SQLite's writers take turns (engine/write_turn.py): a write waits for the one before it, in
another thread or another process, before it asks SQLite for the lock, and it never waits for
itself. The blocks below hold the turn without touching the database, so SQLite's own lock
cannot be what makes the second writer wait: only the turn can. A refused turn is a clean 503,
and the sweeper beside the server outlives a refused sweep."""
from __future__ import annotations

import fcntl
import multiprocessing
import os
import threading
import time
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import db, models, write_turn


@pytest.fixture
def sqlite_url(database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL writers do not queue for one lock")
    return database_url


def test_a_writer_waits_for_the_writer_before_it_in_another_thread(sqlite_url):
    engine = db.make_engine(sqlite_url)
    happened, first_in = [], threading.Event()

    def first():
        with db.writing(Session(engine)):
            first_in.set()
            time.sleep(0.3)
            happened.append("first leaves")

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(5)
    with db.writing(Session(engine)):
        happened.append("second enters")
    thread.join(5)
    assert happened == ["first leaves", "second enters"]
    engine.dispose()


def _hold_the_turn(url: str, entered, leave_marker: str) -> None:
    engine = db.make_engine(url)
    with db.writing(Session(engine)):
        entered.set()
        time.sleep(0.5)
        with open(leave_marker, "w") as marker:
            marker.write("left")
    engine.dispose()


def test_a_writer_waits_for_the_writer_before_it_in_another_process(sqlite_url, tmp_path):
    """gunicorn's workers and the sweeper are processes: the turn is a file lock beside the
    database, which each process opens for itself."""
    marker = tmp_path / "left"
    context = multiprocessing.get_context("spawn")
    entered = context.Event()
    other = context.Process(target=_hold_the_turn, args=(sqlite_url, entered, str(marker)))
    other.start()
    try:
        assert entered.wait(30), "the other process never took its turn"
        engine = db.make_engine(sqlite_url)
        with db.writing(Session(engine)):
            assert marker.exists(), "this write went ahead while the other process held the turn"
        engine.dispose()
    finally:
        other.join(30)
    assert other.exitcode == 0


def test_a_write_inside_a_write_does_not_wait_for_itself(sqlite_url):
    engine = db.make_engine(sqlite_url)
    done = []

    def nested():
        with db.writing(Session(engine)):
            with db.writing(Session(engine)) as inner:
                inner.execute(select(1))
            done.append(True)

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    thread.join(10)
    assert done == [True]
    engine.dispose()


def test_a_write_that_gets_no_turn_changes_nothing_and_asks_the_browser_to_send_again(
        app, demo, invigilator, candidate_factory, monkeypatch):
    """A writer stuck for longer than the wait (here 0.2 s): the save is refused with the same
    clean 503 as a database that cannot be reached, nothing is stored, and the same save sent
    again once the turn is free is stored."""
    if not app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("PostgreSQL writers do not queue for one lock")
    browser = candidate_factory("0001")
    browser.sign_in()
    browser.confirm()
    invigilator.start(demo["sitting_id"])
    monkeypatch.setattr(write_turn, "WAIT_SECONDS", 0.2)
    holding, release = threading.Event(), threading.Event()

    def stuck_writer():
        with app.app_context(), db.writing(db.new_session(app)):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=stuck_writer)
    thread.start()
    key = uuid.uuid4().hex
    try:
        assert holding.wait(5)
        refused = browser.answer(1, {"answer": "queued", "number": "1", "choice": "0"}, key=key)
        assert refused.status_code == 503, refused.get_data(as_text=True)[:300]
        assert refused.headers["Retry-After"]
    finally:
        release.set()
        thread.join(10)
    with app.app_context():
        session = db.new_session(app)
        assert session.scalar(select(models.ResponseEvent).where(models.ResponseEvent.idempotency_key == key)) is None
        session.close()
    assert browser.answer(1, {"answer": "queued", "number": "1", "choice": "0"}, key=key).status_code == 200
    with app.app_context():
        session = db.new_session(app)
        assert session.scalar(select(models.ResponseEvent).where(models.ResponseEvent.idempotency_key == key)) is not None
        session.close()


def test_the_first_writes_of_a_new_process_at_once_leave_the_turn_free(tmp_path):
    """Eight threads' first writes at the same moment (a new gunicorn worker in a login storm) set
    the process's turn up once, and once they are done the turn is free for another process. A
    race here once left a second turn file holding the flock for ever: every write refused."""
    for round_number in range(20):
        path = str(tmp_path / f"round{round_number}.db-turn")
        turn = write_turn.WriteTurn(path)
        start, failures = threading.Barrier(8), []

        def write():
            start.wait()
            try:
                with turn.taken():
                    time.sleep(0.001)
            except Exception as failure:  # noqa: BLE001 - any failure fails the test below
                failures.append(failure)

        threads = [threading.Thread(target=write, daemon=True) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert not failures and not any(thread.is_alive() for thread in threads)
        other_process = os.open(path, os.O_RDWR)  # a file description of its own, as another process has
        try:
            fcntl.flock(other_process, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if the turn was left held
        finally:
            os.close(other_process)


def test_the_sweeper_beside_the_server_outlives_a_failed_sweep(runner, monkeypatch):
    """A sweep refused (no turn within the wait, a database restart) is reported and tried
    again at the next interval, rather than ending the sweeper for the rest of the exam."""
    from engine import cli, sweeper
    outcomes = iter([write_turn.Busy("no turn to write to the database within 30 s"), 2])

    def sweep(_app):
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    class Stop(Exception):
        pass
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise Stop
    monkeypatch.setattr(sweeper, "sweep", sweep)
    monkeypatch.setattr(cli.time, "sleep", sleep)
    result = runner.invoke(args=["sweep", "--every", "5"])
    assert isinstance(result.exception, Stop), result.output
    assert "Sweep failed (Busy: no turn to write to the database within 30 s); trying again in 5 s." in result.output
    assert "Finished 2 timed-out attempt(s)." in result.output
    assert sleeps == [5, 5]


def test_a_single_sweep_that_fails_exits_non_zero(runner, monkeypatch):
    from engine import sweeper

    def sweep(_app):
        raise write_turn.Busy("no turn to write to the database within 30 s")
    monkeypatch.setattr(sweeper, "sweep", sweep)
    result = runner.invoke(args=["sweep"])
    assert result.exit_code != 0 and isinstance(result.exception, write_turn.Busy)
