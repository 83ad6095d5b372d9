"""The live register's data: one row per candidate and the alerts, in a fixed number of queries
however many candidates there are (the rows with their answer counts, the time events),
because it is polled every few seconds for rooms of 100 and more.

Its rows are plain values read with Core statements, not ORM objects: every invigilator polls
it every 5 s, and building and reading some 130 ORM objects a poll for a room of 30 was most of
its cost (docs/performance.md, session 12). Nothing here is written back; a control that
changes an attempt loads it through the ORM (``invigilation.controls``).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Row as SqlRow
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import attempts, models, sweeper, timing
from engine.attempt_states import FINISHED, IN_PROGRESS, ON_BREAK, PAUSED, READY, WAITING
from engine.web import local_time

#: No contact for longer than this while signed in shows "disconnected?" (the candidate's
#: pages send a heartbeat at most every 30 s while they are open).
STALE_SECONDS = 60

STATE_LABELS = {READY: "Not signed in", WAITING: "Waiting", IN_PROGRESS: "Working", PAUSED: "Paused",
                ON_BREAK: "On break", FINISHED: "Finished"}
OUTCOME_LABELS = {"absent": "Absent", "withdrawn": "Withdrawn", "voided": "Voided"}
FINISH_LABELS = {"submitted": "submitted", "timed_out": "time ran out", "ended_by_invigilator": "ended"}
_CONNECTED_STATES = (WAITING, IN_PROGRESS, PAUSED, ON_BREAK)


@dataclass(slots=True)
class RegisterAttempt:
    """What the register shows and checks of an attempt (the columns of ``models.Attempt``)."""
    id: int
    state: str
    outcome: str | None
    finish_reason: str | None
    allowed_seconds: int
    deadline_at: dt.datetime | None
    last_contact_at: dt.datetime | None
    break_requested_at: dt.datetime | None
    locked_at: dt.datetime | None


@dataclass(slots=True)
class RegisterCandidate:
    """What the register shows of a candidate (the columns of ``models.Candidate``)."""
    id: int
    candidate_number: str
    first_name: str
    last_name: str
    access_arrangements: dict | None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class Row:
    attempt: RegisterAttempt
    candidate: RegisterCandidate
    answered: int
    flagged: int
    total: int
    ledger: timing.Ledger
    last_contact: str
    disconnected: bool
    #: Why the clock is stopped (the reason on the pause or break), when it is.
    stop_reason: str | None

    @property
    def remaining(self) -> float:
        return self.ledger.remaining_seconds

    @property
    def clock(self) -> str:
        """The time left as minutes:seconds (the ``clock`` macro's format, without a macro call a row)."""
        seconds = int(self.remaining or 0)
        return f"{seconds // 60}:{seconds % 60:02d}"

    @property
    def state_label(self) -> str:
        attempt = self.attempt
        if attempt.state == FINISHED:
            return OUTCOME_LABELS.get(attempt.outcome or "", f"Finished ({FINISH_LABELS.get(attempt.finish_reason, '')})")
        return STATE_LABELS[attempt.state]

    @property
    def arrangements(self) -> list[str]:
        """Short tags for the register: the arrangements that change what the invigilator does."""
        found = self.candidate.access_arrangements or {}
        tags = []
        if found.get("extra_time_percent"):
            tags.append(f"+{found['extra_time_percent']}%")
        if found.get("rest_breaks"):
            tags.append("rest breaks")
        return tags


@dataclass
class Alert:
    kind: str
    message: str
    attempt: RegisterAttempt | None = None


@dataclass
class Register:
    rows: list[Row]
    alerts: list[Alert] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)


#: Built once, the ids bound at execution (polled every 5 s by every invigilator). Core rows
#: (read-only, every column by name): nothing reads the events to change them.
_TIME_EVENTS = (select(models.TimeEvent.__table__)
                .where(models.TimeEvent.attempt_id.in_(bindparam("attempt_ids", expanding=True)))
                .order_by(models.TimeEvent.id))


def time_events(db_session: Session, attempt_ids: list[int]) -> dict[int, list[SqlRow]]:
    """attempt id -> its time events (rows with the columns of ``models.TimeEvent``) in recorded
    order, for many attempts in one query."""
    found: dict[int, list[SqlRow]] = {attempt_id: [] for attempt_id in attempt_ids}
    if attempt_ids:
        for event in db_session.execute(_TIME_EVENTS, {"attempt_ids": list(attempt_ids)}):
            found[event.attempt_id].append(event)
    return found


def ledger_of(attempt, events: list, now: dt.datetime) -> timing.Ledger:
    return timing.compute(attempt.allowed_seconds, [(e.kind, e.at, e.seconds) for e in events], now)


#: The room's entries that have an attempt, with their candidates and attempts, in one statement
#: (built once). Plain joins, the objects linked below: two ``selectinload`` queries over the
#: same rows cost twice the CPU, and the register is polled by every invigilator every 5 s
#: (docs/performance.md, session 7).
_ENTRIES = (select(models.Entry, models.Candidate, models.Attempt)
            .join(models.Entry.candidate).join(models.Entry.attempt)
            .where(models.Entry.sitting_id == bindparam("sitting_id")).order_by(models.Entry.id))


def load_entries(db_session: Session, sitting: models.Sitting) -> list[models.Entry]:
    """The room's entries as ORM objects, each with its candidate and attempt (for the report)."""
    entries = []
    for entry, candidate, attempt in db_session.execute(_ENTRIES, {"sitting_id": sitting.id}):
        # Set as loaded (nothing to write), which also keeps them in the session for the request.
        set_committed_value(entry, "candidate", candidate)
        set_committed_value(entry, "attempt", attempt)
        set_committed_value(attempt, "entry", entry)
        entries.append(entry)
    return entries


_A, _C = models.Attempt, models.Candidate
_ATTEMPT_COLUMNS = (_A.id, _A.state, _A.outcome, _A.finish_reason, _A.allowed_seconds, _A.deadline_at,
                    _A.last_contact_at, _A.break_requested_at, _A.locked_at)
_CANDIDATE_COLUMNS = (_C.id, _C.candidate_number, _C.first_name, _C.last_name, _C.access_arrangements)
#: The room's candidates that have an attempt, in entry order: one statement, built once. (The
#: answer counts stay a query of their own over these ids: joined as a grouped subquery, the
#: database may count every form item of every sitting first.)
_ROWS = (select(*_ATTEMPT_COLUMNS, *_CANDIDATE_COLUMNS)
         .select_from(models.Entry).join(_C, _C.id == models.Entry.candidate_id)
         .join(_A, _A.entry_id == models.Entry.id)
         .where(models.Entry.sitting_id == bindparam("sitting_id")).order_by(models.Entry.id))
_SPLIT = len(_ATTEMPT_COLUMNS)


def load_rows(db_session: Session, sitting_id: int) -> list[tuple[RegisterAttempt, RegisterCandidate]]:
    """(attempt, candidate) for each of the room's candidates that has an attempt."""
    return [(RegisterAttempt(*row[:_SPLIT]), RegisterCandidate(*row[_SPLIT:]))
            for row in db_session.execute(_ROWS, {"sitting_id": sitting_id})]


def finish_expired(db_session: Session, found: list[RegisterAttempt], now: dt.datetime, grace: int) -> bool:
    """Lazy time-outs: the register is looked at every few seconds, so it finishes what ran out
    and no open browser is about to finish itself (``attempts.is_unattended``). True if it
    finished any (the rows read before are then out of date)."""
    expired = [attempt.id for attempt in found if attempts.is_unattended(attempt, now, grace)]
    if not expired:
        return False
    try:
        return sweeper.finish_time_outs(db_session, expired, lambda: now, grace) > 0
    except sweeper.NotFinished as incomplete:
        # The register must still show the room; the attempt left is tried again at the next poll.
        current_app.logger.error("register of a room: %s", incomplete)
        return incomplete.finished > 0


def build(db_session: Session, sitting: models.Sitting, now: dt.datetime, grace: int) -> Register:
    found = load_rows(db_session, sitting.id)
    if finish_expired(db_session, [attempt for attempt, _ in found], now, grace):
        found = load_rows(db_session, sitting.id)
    ids = [attempt.id for attempt, _ in found]
    counts = attempts.answered_count(db_session, ids)
    events = time_events(db_session, ids)
    timezone = sitting.centre.timezone
    register = Register(rows=[])
    for attempt, candidate in found:
        answered, flagged, total = counts.get(attempt.id, (0, 0, 0))
        stale = attempt.last_contact_at is None or (now - attempt.last_contact_at).total_seconds() > STALE_SECONDS
        stop_reason = None
        if attempt.state in (PAUSED, ON_BREAK):
            stops = [e for e in events[attempt.id] if e.kind in (timing.PAUSE, timing.BREAK_START)]
            stop_reason = stops[-1].reason if stops else None
        row = Row(attempt=attempt, candidate=candidate, answered=answered, flagged=flagged,
                  total=total, ledger=ledger_of(attempt, events[attempt.id], now),
                  last_contact=local_time(attempt.last_contact_at, timezone),
                  disconnected=attempt.state in _CONNECTED_STATES and stale, stop_reason=stop_reason)
        register.rows.append(row)
        register.counts[row.state_label if attempt.state == FINISHED else attempt.state] += 1
        if row.disconnected:
            register.counts["disconnected"] += 1
    register.alerts = alerts(register.rows, timezone)
    from engine import lock_web
    register.alerts += lock_web.alerts(db_session, register.rows, timezone)  # candidates locked by a lock
    return register


def alerts(rows: list[Row], timezone: str) -> list[Alert]:
    """What needs the invigilator now. Each source adds its own alerts here (exam-condition
    locks will add theirs: a candidate stopped by a lock, waiting to be unlocked)."""
    found = [Alert("break_request", f"{r.candidate.candidate_number} {r.candidate.full_name} asked for a rest break at "
                   f"{local_time(r.attempt.break_requested_at, timezone)}.", r.attempt)
             for r in rows if r.attempt.break_requested_at is not None and r.attempt.state == IN_PROGRESS]
    gone = [r for r in rows if r.disconnected and r.attempt.state in (IN_PROGRESS, PAUSED, ON_BREAK)]
    if gone:
        numbers = ", ".join(r.candidate.candidate_number for r in gone[:20]) + (" …" if len(gone) > 20 else "")
        found.append(Alert("disconnected", f"No contact for over a minute from {len(gone)} candidate(s) who have "
                                           f"started: {numbers}. Check their workstations."))
    return found
