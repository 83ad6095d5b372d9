"""The sweeper: finishes attempts whose time ran out while nobody was looking.

Lazy finishing (on the candidate's next request) covers most cases; the sweeper covers a
closed browser in an unwatched room, and a browser that has not come back within
``attempts.LEFT_TO_THE_BROWSER_SECONDS``. It finishes them as a room's first finishing poll does
(engine/time_outs.py): up to ``time_outs.BATCH`` in one write transaction, their marks worked out
before it. A batch that cannot be finished (an answer its item type cannot mark, say) is
finished again one attempt at a time, so one bad attempt holds up no other; it is left for the
next sweep and named in the error raised once the rest are finished.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from flask import Flask
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from engine import attempts, clock, db, time_outs


class NotFinished(Exception):
    """Some timed-out attempts could not be finished; the others were."""

    def __init__(self, failures: dict[int, Exception], finished: int):
        self.failures = failures
        self.finished = finished
        named = ", ".join(f"attempt {attempt_id} ({error.__class__.__name__}: {error})"
                          for attempt_id, error in failures.items())
        super().__init__(f"finished {finished} timed-out attempt(s); could not finish {named}")


def sweep(app: Flask) -> int:
    grace = app.config["SAVE_GRACE_SECONDS"]
    # In this app's context, so the clock is this app's (a test's controlled clock too), not the
    # caller's or the host's.
    with app.app_context():
        session = db.new_session(app)
        try:
            expired = attempts.unattended_time_outs(session, clock.now(session), grace)
            return finish_time_outs(session, expired, lambda: clock.now(session), grace)
        finally:
            session.close()


def finish_time_outs(session: Session, attempt_ids: Iterable[int], now: Callable[[], dt.datetime],
                     grace: int) -> int:
    """Finish each of these attempts that has timed out, ``time_outs.BATCH`` to a write
    transaction. Returns how many this call finished; raises :class:`NotFinished` after finishing
    the rest if any could not be (a lost database connection is raised at once)."""
    ids = sorted(set(attempt_ids))
    finished = 0
    failures: dict[int, Exception] = {}
    for start in range(0, len(ids), time_outs.BATCH):
        batch = ids[start:start + time_outs.BATCH]
        try:
            finished += len(time_outs.finish_together(session, batch, now(), grace))
            continue
        except DBAPIError:
            raise  # the database is away: the next sweep (or register poll) tries again
        except Exception as error:
            session.rollback()
            if len(batch) == 1:
                failures[batch[0]] = error
                continue
        for attempt_id in batch:  # find the one that fails; finish the others
            try:
                finished += len(time_outs.finish_together(session, [attempt_id], now(), grace))
            except DBAPIError:
                raise
            except Exception as error:
                session.rollback()
                failures[attempt_id] = error
    if failures:
        raise NotFinished(failures, finished)
    return finished
