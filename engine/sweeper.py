"""The sweeper: finishes attempts whose time ran out while nobody was looking.

Lazy finishing (on the next candidate or invigilator request) covers most cases; the sweeper
covers a closed browser in an unwatched room. Each attempt finishes in its own short
transaction, so one bad attempt cannot hold up the rest.
"""
from __future__ import annotations

from flask import Flask

from engine import attempts, clock, db, models


def sweep(app: Flask) -> int:
    grace = app.config["SAVE_GRACE_SECONDS"]
    # In this app's context, so the clock is this app's (a test's controlled clock too), not the
    # caller's or the host's.
    with app.app_context():
        session = db.new_session(app)
        finished = 0
        try:
            # One read for the whole burst: the entries, sittings and specifications (and the unit
            # marking loads through them) stay in the session while ``entries`` holds them, so each
            # write transaction below reads only its attempt, its form and the versions not yet read.
            expired = attempts.expired_attempts(session, clock.now(session), grace)
            entries = {attempt.id: attempt.entry for attempt in expired}
            for attempt_id in entries:
                with db.writing(session):
                    # Read again under the lock: a save or a finish may have landed since.
                    attempt = session.get(models.Attempt, attempt_id, with_for_update=True, populate_existing=True)
                    if attempts.finish_if_expired(session, attempt, clock.now(session), grace):
                        finished += 1
        finally:
            session.close()
    return finished
