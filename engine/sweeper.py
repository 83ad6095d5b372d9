"""The sweeper: finishes attempts whose time ran out while nobody was looking.

Lazy finishing (on the candidate's next request) covers most cases; the sweeper covers a
closed browser in an unwatched room, and a browser that has not come back within
``attempts.LEFT_TO_THE_BROWSER_SECONDS``. Each attempt finishes in its own short
transaction, so one bad attempt cannot hold up the rest.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from flask import Flask
from sqlalchemy.orm import Session

from engine import attempts, clock, db, models


def sweep(app: Flask) -> int:
    grace = app.config["SAVE_GRACE_SECONDS"]
    # In this app's context, so the clock is this app's (a test's controlled clock too), not the
    # caller's or the host's.
    with app.app_context():
        session = db.new_session(app)
        try:
            # One read for the whole burst: the entries, sittings and specifications (and the unit
            # marking loads through them) stay in the session while ``entries`` holds them, so each
            # finish below reads only its attempt, its form and the versions not yet read.
            expired = attempts.unattended_time_outs(session, clock.now(session), grace)
            entries = {attempt.id: attempt.entry for attempt in expired}
            return finish_time_outs(session, list(entries), lambda: clock.now(session), grace)
        finally:
            session.close()


def finish_time_outs(session: Session, attempt_ids: Iterable[int], now: Callable[[], dt.datetime],
                     grace: int) -> int:
    """Finish each of these attempts that has timed out, each in its own short write transaction,
    with its marks worked out before it (outside SQLite's write lock: at a deadline a whole
    room finishes at once, while the candidates' polls race to do the same). Returns how many
    this call finished."""
    finished = 0
    for attempt_id in attempt_ids:
        attempt = session.get(models.Attempt, attempt_id, populate_existing=True)
        prepared = attempts.prepare_time_out(session, attempt, now(), grace) if attempt is not None else None
        if prepared is None:
            continue  # finished meanwhile (by a poll or the register), or given more time
        with db.writing(session):
            # Read again under the lock: a save or a finish may have landed since.
            attempt = attempts.reload_for_write(session, attempt_id)
            if attempts.finish_if_expired(session, attempt, now(), grace, prepared):
                finished += 1
    return finished
