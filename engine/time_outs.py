"""Timed-out attempts finished a room at a time.

At a deadline a whole room's time runs out at once, and within a few seconds every screen's
timer poll is sent to the done page, which finishes its attempt (engine/quiet_polls.py,
engine/candidate.py). Finished one by one, each finish was a write transaction of its own: on
SQLite the centre's writers take turns, so a room of thirty queued thirty times for the write
lock, each time to write the same few rows, and at 3,000 candidates the deadline burst was made
of that queue (docs/performance.md, session 19). So the first screen of a room to find its time
up finishes every attempt of the room whose time and grace are over, together:

* their marks are worked out before the write lock (as a single finish's are), the unit's
  outcomes read once;
* one write transaction reads them again (locking their rows on PostgreSQL), finishes those
  still timed out, using the marks worked out unless a save landed in between, and writes each
  kind of row in one statement for them all (``attempts.finish_many``).

The other screens of the room then find their attempt finished and only show the done page.
Within one server process the room's screens wait for the first instead of doing the same work
beside it. On SQLite a screen in another process may do it too, and under the lock finds the
attempts finished and leaves them; on PostgreSQL (many processes, many app servers) each first
screen claims the rows no other holds and marks only those, inside its write transaction
(``_claim_room``). If the room's batch fails (an answer another candidate gave that the
item type cannot mark, say), the screen's own attempt is finished alone, as before, so nobody's
finish waits on someone else's.
"""
from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from engine import attempts, db, marking, models
from engine.attempt_states import IN_PROGRESS, TIMED_OUT

#: At most this many attempts in one write transaction: a hall of several hundred finishes in
#: a few batches, so no other writer waits long behind one.
BATCH = 50

_A, _E = models.Attempt.__table__, models.Entry.__table__
#: Built once. The room's attempts whose time and grace are over, in id order.
_ROOM_TIME_OUTS = (select(_A.c.id).select_from(_A.join(_E, _E.c.id == _A.c.entry_id))
                   .where(_E.c.sitting_id == bindparam("sitting_id"), _A.c.state == IN_PROGRESS,
                          _A.c.deadline_at < bindparam("cutoff"))
                   .order_by(_A.c.id).limit(bindparam("batch")))

_rooms_guard = threading.Lock()
#: sitting id -> [the lock its finishers in this process take turns with, how many hold or want it]
_rooms: dict[int, list] = {}


def finish_room(db_session: Session, attempt: models.Attempt, now: dt.datetime, grace_seconds: int) -> None:
    """``attempt`` has timed out (:func:`attempts.is_expired`): finish it, and with it the other
    timed-out attempts of its room. Afterwards ``attempt`` is as the database has it (finished,
    by this call or another)."""
    sitting_id = attempt.entry.sitting_id
    with _room_turn(sitting_id):
        # A fresh look (SQLite reads from the snapshot its read transaction began with): another
        # request may have finished the room while this one waited its turn.
        db.end_read(db_session)
        if not db.is_sqlite(db_session):
            _claim_room(db_session, attempt.id, sitting_id, now, grace_seconds)
            return
        cutoff = now - dt.timedelta(seconds=grace_seconds)
        room = list(db_session.scalars(_ROOM_TIME_OUTS, {"sitting_id": sitting_id, "cutoff": cutoff, "batch": BATCH}))
        ids = sorted(set(room) | {attempt.id})  # its own too: the write below reads it again
        try:
            finish_together(db_session, ids, now, grace_seconds)
        except DBAPIError:
            raise  # the database is away: the page says so, and the poll tries again
        except Exception:
            if ids == [attempt.id]:
                raise
            # Someone else's attempt could not be finished: this candidate's must not wait on it.
            db_session.rollback()
            finish_together(db_session, [attempt.id], now, grace_seconds)


def _claim_room(db_session: Session, own_id: int, sitting_id: int, now: dt.datetime, grace_seconds: int) -> None:
    """PostgreSQL: claim the room's time-outs that no other finisher holds, then mark and finish them.

    Every server process (and every app server) has a first poll of the room; each worked out the
    marks of the whole room before its write, and all but one threw them away when the write found
    the attempts finished. Here each claims the rows first (``FOR UPDATE SKIP LOCKED``) and marks
    only those, with their rows locked: PostgreSQL has no database-wide write lock for that to
    hold up, only the claimed attempts' saves, whose time and grace are over. A poll whose own
    attempt another finisher holds then waits for that finisher, holding nothing itself, and
    finds its attempt finished; neither step waits while holding a lock another waits for, so two
    finishers cannot deadlock."""
    cutoff = now - dt.timedelta(seconds=grace_seconds)
    claimed: list[int] = []
    try:
        with db.writing(db_session):
            claimed = list(db_session.scalars(_CLAIM_ROOM_TIME_OUTS,
                                               {"sitting_id": sitting_id, "cutoff": cutoff, "batch": BATCH}))
            if claimed:
                _finish_locked(db_session, claimed, now, grace_seconds)
    except DBAPIError:
        raise  # the database is away: the page says so, and the poll tries again
    except Exception:
        if claimed == [own_id]:
            raise
        claimed = []  # someone else's attempt could not be finished: this candidate's must not wait on it
    if own_id not in claimed:
        with db.writing(db_session):
            _finish_locked(db_session, [own_id], now, grace_seconds)  # waits for the finisher holding it


#: The same, each row locked for this finisher, rows another finisher holds left to it.
_CLAIM_ROOM_TIME_OUTS = _ROOM_TIME_OUTS.with_for_update(of=_A, skip_locked=True)


def _finish_locked(db_session: Session, attempt_ids: list[int], now: dt.datetime, grace_seconds: int) -> None:
    """In the caller's write transaction: lock these attempts (PostgreSQL; in id order), then mark
    and finish those still timed out."""
    current = attempts.reload_many_for_write(db_session, attempt_ids)
    expired = [attempt for attempt in current if attempts.is_expired(attempt, now, grace_seconds)]
    prepared = _marks(db_session, expired)
    attempts.finish_many(db_session, [(attempt, prepared[attempt.id]) for attempt in expired], TIMED_OUT, now,
                         actor="time-out")


def finish_together(db_session: Session, attempt_ids: Iterable[int], now: dt.datetime, grace_seconds: int) -> list[int]:
    """Finish those of these attempts that have timed out, in one write transaction, their marks
    worked out before it. Returns the ids this call finished (none already finished or given
    more time since)."""
    ids = sorted(set(attempt_ids))
    if not ids:
        return []
    expired = [attempt for attempt in attempts.load_many_with_context(db_session, ids)
               if attempts.is_expired(attempt, now, grace_seconds)]
    if not expired:
        return []
    prepared = _marks(db_session, expired)
    with db.writing(db_session):
        # Read again under the lock: a save, a finish or extra time may have landed since.
        current = attempts.reload_many_for_write(db_session, ids)
        finishing = [(attempt, prepared.get(attempt.id)) for attempt in current
                     if attempts.is_expired(attempt, now, grace_seconds)]
        finished = attempts.finish_many(db_session, finishing, TIMED_OUT, now, actor="time-out")
    return [attempt.id for attempt in finished]


def _marks(db_session: Session, expired: list[models.Attempt]) -> dict[int, marking.Prepared]:
    """Each attempt's marks: their forms in one statement and each unit's outcomes once."""
    cells = marking.marking_cells_many(db_session, [attempt.id for attempt in expired])
    outcomes: dict[int, list] = {}
    prepared: dict[int, marking.Prepared] = {}
    for attempt in expired:
        unit_id = attempt.entry.sitting.specification.unit_id
        if unit_id not in outcomes:
            outcomes[unit_id] = marking.outcomes_of(db_session, unit_id)
        prepared[attempt.id] = marking.prepare(db_session, attempt, outcomes[unit_id], cells[attempt.id])
    return prepared


class _room_turn:
    """The room's finishers in this process one at a time; the lock is dropped when none wants it."""

    def __init__(self, sitting_id: int):
        self.sitting_id = sitting_id

    def __enter__(self):
        with _rooms_guard:
            entry = _rooms.setdefault(self.sitting_id, [threading.Lock(), 0])
            entry[1] += 1
        entry[0].acquire()
        self.entry = entry

    def __exit__(self, *_exc):
        self.entry[0].release()
        with _rooms_guard:
            self.entry[1] -= 1
            if self.entry[1] == 0:
                _rooms.pop(self.sitting_id, None)
