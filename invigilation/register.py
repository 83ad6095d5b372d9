"""The live register's data: one row per candidate and the alerts, in a fixed number of queries
however many candidates there are (entries, candidates, attempts, answer counts, time events),
because it is polled every few seconds for rooms of 100 and more.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select
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


@dataclass
class Row:
    entry: models.Entry
    attempt: models.Attempt
    candidate: models.Candidate
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
    attempt: models.Attempt | None = None


@dataclass
class Register:
    rows: list[Row]
    alerts: list[Alert] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)


#: Built once, the ids bound at execution (polled every 5 s by every invigilator).
_TIME_EVENTS = (select(models.TimeEvent).where(models.TimeEvent.attempt_id.in_(bindparam("attempt_ids", expanding=True)))
                .order_by(models.TimeEvent.id))


def time_events(db_session: Session, attempt_ids: list[int]) -> dict[int, list[models.TimeEvent]]:
    """attempt id -> its time events in recorded order, for many attempts in one query."""
    found: dict[int, list[models.TimeEvent]] = {attempt_id: [] for attempt_id in attempt_ids}
    if attempt_ids:
        for event in db_session.scalars(_TIME_EVENTS, {"attempt_ids": list(attempt_ids)}):
            found[event.attempt_id].append(event)
    return found


def ledger_of(attempt: models.Attempt, events: list[models.TimeEvent], now: dt.datetime) -> timing.Ledger:
    return timing.compute(attempt.allowed_seconds, [(e.kind, e.at, e.seconds) for e in events], now)


#: The room's entries that have an attempt, with their candidates and attempts, in one statement
#: (built once). Plain joins, the objects linked below: two ``selectinload`` queries over the
#: same rows cost twice the CPU, and the register is polled by every invigilator every 5 s
#: (docs/performance.md, session 7).
_ENTRIES = (select(models.Entry, models.Candidate, models.Attempt)
            .join(models.Entry.candidate).join(models.Entry.attempt)
            .where(models.Entry.sitting_id == bindparam("sitting_id")).order_by(models.Entry.id))


def load_entries(db_session: Session, sitting: models.Sitting) -> list[models.Entry]:
    entries = []
    for entry, candidate, attempt in db_session.execute(_ENTRIES, {"sitting_id": sitting.id}):
        # Set as loaded (nothing to write), which also keeps them in the session for the request.
        set_committed_value(entry, "candidate", candidate)
        set_committed_value(entry, "attempt", attempt)
        set_committed_value(attempt, "entry", entry)
        entries.append(entry)
    return entries


def finish_expired(db_session: Session, entries: list[models.Entry], now: dt.datetime, grace: int) -> None:
    """Lazy time-outs: the register is looked at every few seconds, so it finishes what ran out
    and no open browser is about to finish itself (``attempts.is_unattended``)."""
    expired = [e.attempt.id for e in entries if attempts.is_unattended(e.attempt, now, grace)]
    if expired:
        sweeper.finish_time_outs(db_session, expired, lambda: now, grace)


def build(db_session: Session, sitting: models.Sitting, now: dt.datetime, grace: int) -> Register:
    entries = load_entries(db_session, sitting)
    finish_expired(db_session, entries, now, grace)
    ids = [e.attempt.id for e in entries]
    counts = attempts.answered_count(db_session, ids)
    events = time_events(db_session, ids)
    timezone = sitting.centre.timezone
    register = Register(rows=[])
    for entry in entries:
        attempt = entry.attempt
        answered, flagged, total = counts.get(attempt.id, (0, 0, 0))
        stale = attempt.last_contact_at is None or (now - attempt.last_contact_at).total_seconds() > STALE_SECONDS
        stop_reason = None
        if attempt.state in (PAUSED, ON_BREAK):
            stops = [e for e in events[attempt.id] if e.kind in (timing.PAUSE, timing.BREAK_START)]
            stop_reason = stops[-1].reason if stops else None
        row = Row(entry=entry, attempt=attempt, candidate=entry.candidate, answered=answered, flagged=flagged,
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
