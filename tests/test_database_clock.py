"""The request's time comes from the database's clock on PostgreSQL (engine/clock.py). A
candidate request reads it in the lock guard's own statement: asked on its own, it was a round
trip on every candidate request."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import event, text

from engine import db


def _database_now(app) -> dt.datetime:
    session = db.new_session(app)
    try:
        if session.get_bind().dialect.name == "postgresql":
            return session.scalar(text("SELECT now() AT TIME ZONE 'UTC'"))
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    finally:
        session.close()


def test_a_candidate_request_reads_the_database_time_with_the_guard(app, demo, candidate_factory, invigilator,
                                                                   clock):
    clock.now = _database_now(app)  # the attempt starts at the database's time ...
    browser = candidate_factory("0001")
    browser.sign_in()
    browser.confirm()
    invigilator.start(demo["sitting_id"])
    app.config["CLOCK"] = None  # ... and from here on the real clock decides
    seen = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    engine = db.engine_for(app)
    event.listen(engine, "before_cursor_execute", record)
    try:
        page = browser.item_page(1)
        saved = browser.answer(1, {"text": "an answer"})
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert page.status_code == 200 and "Question 1 of" in page.get_data(as_text=True)
    assert saved.status_code == 200
    asking = [statement for statement in seen if "now()" in statement.lower()]
    if engine.dialect.name == "postgresql":
        # Once per request (the page, the save), each time in the guard's statement.
        assert len(asking) == 2 and all("FROM attempts JOIN entries" in statement for statement in asking)
    else:
        assert asking == []  # SQLite's time is the app server's own
