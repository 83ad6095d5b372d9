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
            for attempt_id in attempts.expired_attempt_ids(session, clock.now(session), grace):
                with db.writing(session):
                    attempt = session.get(models.Attempt, attempt_id, with_for_update=True, populate_existing=True)
                    if attempts.finish_if_expired(session, attempt, clock.now(session), grace):
                        finished += 1
        finally:
            session.close()
    return finished
