"""How a request's transaction ends, and how pooled connections are checked (engine/db.py).

A request that only read ends with COMMIT: psycopg forgets every prepared statement at a
ROLLBACK, which kept PostgreSQL parsing and planning every statement afresh. A pooled
connection is pinged only when it has sat idle, not at every checkout.
"""
from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.exc import IntegrityError

from engine import db, models


def _ends(app):
    """Count the request transactions' COMMITs and ROLLBACKs from here on."""
    seen = {"commit": 0, "rollback": 0}
    engine = db.engine_for(app)
    for name in seen:
        event.listen(engine, name, lambda _conn, name=name: seen.__setitem__(name, seen[name] + 1))
    return seen


def test_a_request_that_only_read_ends_with_commit_not_rollback(app, started_candidate):
    seen = _ends(app)
    page = started_candidate.item_page(1)
    assert page.status_code == 200
    assert seen == {"commit": 1, "rollback": 0}


def test_a_save_on_postgresql_writes_in_the_transaction_of_its_reads(app, started_candidate):
    # SQLite: the reads' transaction ends so that the write lock is taken at the write's start.
    # PostgreSQL has no such lock, and COMMIT and BEGIN again were two round trips a save.
    seen = _ends(app)
    begun = []
    event.listen(db.engine_for(app), "begin", lambda _conn: begun.append(1))
    assert started_candidate.answer(1, {"text": "an answer"}).status_code == 200
    transactions = 1 if db.engine_for(app).dialect.name == "postgresql" else 2
    assert (len(begun), seen) == (transactions, {"commit": transactions, "rollback": 0})


def test_a_write_block_that_fails_stores_nothing_of_it(app, demo):
    with app.test_request_context():
        session = db.session()
        centre = session.scalar(select(models.Centre))  # a read first: its transaction is open
        centre_id, name = centre.id, centre.name
        with pytest.raises(RuntimeError):
            with db.writing(session):
                centre.name = "half-written"
                session.flush()
                raise RuntimeError("the write fails part-way")
    check = db.new_session(app)
    try:
        assert check.get(models.Centre, centre_id).name == name
    finally:
        check.close()


def test_a_write_refused_at_its_commit_leaves_the_session_usable_and_stores_nothing(app, demo):
    # The block's changes are flushed at COMMIT: a constraint refusing them there must roll back
    # (not leave the session waiting for a rollback nobody calls), as db_session.begin() does.
    with app.test_request_context():
        session = db.session()
        centre = session.scalar(select(models.Centre))
        centre_id, name = centre.id, centre.name
        with pytest.raises(IntegrityError):
            with db.writing(session):
                centre.name = None  # NOT NULL: refused when flushed, at the block's commit
        assert session.scalar(select(models.Centre.name).where(models.Centre.id == centre_id)) == name


def test_changes_made_outside_a_write_block_are_rolled_back_not_committed(app, demo):
    # onscreen writes only inside db.writing; anything else left in a request's session is a
    # mistake, and ending reads with COMMIT must not store it.
    with app.test_request_context():
        session = db.session()
        centre = session.scalar(select(models.Centre))
        centre_id, name = centre.id, centre.name
        centre.name = "flushed, never committed"
        session.flush()
    with app.test_request_context():
        centre = db.session().get(models.Centre, centre_id)
        centre.name = "changed, never flushed"
    check = db.new_session(app)
    try:
        assert check.get(models.Centre, centre_id).name == name
    finally:
        check.close()


def _postgres(app):
    if db.engine_for(app).dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (set ONSCREEN_TEST_DATABASE_URL): psycopg's prepared statements and pings")


def _connections_used(app, action):
    """The driver connections the pool handed out while ``action`` ran."""
    used = []

    def checked_out(dbapi_connection, _record, _proxy):
        used.append(dbapi_connection)
    engine = db.engine_for(app)
    event.listen(engine, "checkout", checked_out)
    try:
        action()
    finally:
        event.remove(engine, "checkout", checked_out)
    return used


def test_statements_stay_prepared_from_one_request_to_the_next(app, started_candidate):
    _postgres(app)
    used = _connections_used(app, lambda: [started_candidate.item_page(1 + n % 3) for n in range(12)])
    # psycopg prepares a statement on its fifth use; a ROLLBACK at the end of each request
    # would have deallocated them all.
    prepared = {connection.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
                for connection in set(used)}
    assert max(prepared) >= 2


def test_a_connection_in_use_is_not_pinged_and_an_idle_one_is(app, started_candidate, monkeypatch):
    _postgres(app)
    pings = []
    real_ping = db._ping
    monkeypatch.setattr(db, "_ping", lambda connection: (pings.append(connection), real_ping(connection)))
    for position in (1, 2, 3):
        assert started_candidate.item_page(position).status_code == 200
    assert pings == []
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    assert started_candidate.item_page(1).status_code == 200
    assert pings


def test_a_pooled_connection_that_died_while_idle_is_replaced_unseen(app, started_candidate, monkeypatch):
    _postgres(app)
    used = _connections_used(app, lambda: started_candidate.item_page(1))
    pids = {connection.info.backend_pid for connection in used}
    admin = create_engine(db.engine_for(app).url)  # not the app's pool, which holds those
    try:
        with admin.begin() as connection:
            for pid in pids:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()
    time.sleep(0.2)
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # as if the room had been quiet a while
    page = started_candidate.item_page(2)
    assert page.status_code == 200 and "Question 2 of" in page.get_data(as_text=True)
