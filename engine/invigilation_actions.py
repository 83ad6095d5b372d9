"""What an invigilator can do to a room and to one candidate, and the candidate's break request.

Each function runs in the caller's write transaction with the rows it changes locked (see
:func:`lock_attempts`), changes state only through ``engine.attempt_states``, changes time
only through time events (``engine.timing``), and audits who, when and why. A reason is
required wherever JCQ expects one to be written down (pausing, time added, moves, breaks
outside an arrangement, withdrawals, voids); a refusal is :class:`Refused`, whose message is
for the person and whose ``field`` names the form field at fault.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import attempts, incidents, lock_state, models, timing
from engine.attempt_states import (
    ABSENT, FINISHED, IN_PROGRESS, ON_BREAK, PAUSED, READY, VOIDED, WAITING, WITHDRAWN, move,
)
from engine.audit import record

MAX_REASON = 500
#: The most time one action may add; more is a typing slip, not a decision.
MAX_ADDED_MINUTES = 120


class Refused(attempts.NotAccepted):
    """The action cannot be done; ``field`` names the form field to correct, if any."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _reason(reason: str | None, what: str, *, required: bool = True) -> str | None:
    reason = (reason or "").strip()
    if not reason:
        if required:
            raise Refused(f"Give a reason for {what}: it goes in the sitting's record.", field="reason")
        return None
    if len(reason) > MAX_REASON:
        raise Refused(f"The reason is too long ({len(reason)} characters; at most {MAX_REASON}).", field="reason")
    return reason


def _subject(attempt: models.Attempt) -> str:
    return f"attempt:{attempt.id}"


def _name(attempt: models.Attempt) -> str:
    candidate = attempt.entry.candidate
    return f"{candidate.candidate_number} {candidate.full_name}"


def _time_is_up(attempt: models.Attempt, now: dt.datetime) -> bool:
    return attempt.state == IN_PROGRESS and attempt.deadline_at is not None and now >= attempt.deadline_at


def lock_attempts(db: Session, sitting: models.Sitting, attempt_ids: Iterable[int] | None = None) -> list[models.Attempt]:
    """The sitting's attempts (all, or those of ``attempt_ids``), locked for this transaction."""
    query = (select(models.Attempt).join(models.Entry, models.Attempt.entry_id == models.Entry.id)
             .where(models.Entry.sitting_id == sitting.id).order_by(models.Attempt.id)
             .with_for_update(of=models.Attempt).execution_options(populate_existing=True))
    if attempt_ids is not None:
        query = query.where(models.Attempt.id.in_(list(attempt_ids)))
    return list(db.scalars(query))


# --- pausing ---------------------------------------------------------------------------------------


def pause(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str, reason: str | None) -> None:
    """Stop one candidate's clock and hide their screen. A break in progress becomes a pause."""
    reason = _reason(reason, "pausing")
    if attempt.state not in (IN_PROGRESS, ON_BREAK):
        raise Refused(f"{_name(attempt)} is not working on the test, so there is no clock to pause.")
    if _time_is_up(attempt, now):
        raise Refused(f"{_name(attempt)}'s time is already up; the test is being finished.")
    attempts.pause(db, attempt, now, actor, reason)


def resume(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str, reason: str | None = None) -> None:
    """Restart a paused candidate's clock with exactly the time they had."""
    reason = _reason(reason, "resuming", required=False)
    if attempt.state != PAUSED:
        raise Refused(f"{_name(attempt)} is not paused.")
    attempts.resume(db, attempt, now, actor, reason or "resumed")


def pause_many(db: Session, chosen: list[models.Attempt], now: dt.datetime, actor: str,
               reason: str | None) -> tuple[list[models.Attempt], list[str]]:
    """Pause each chosen candidate who can be paused; returns (paused, why the others were not)."""
    _reason(reason, "pausing")
    done, skipped = [], []
    for attempt in chosen:
        try:
            pause(db, attempt, now, actor, reason)
            done.append(attempt)
        except Refused as refusal:
            skipped.append(str(refusal))
    return done, skipped


def resume_many(db: Session, chosen: list[models.Attempt], now: dt.datetime, actor: str,
                reason: str | None = None) -> tuple[list[models.Attempt], list[str]]:
    done, skipped = [], []
    for attempt in chosen:
        try:
            resume(db, attempt, now, actor, reason)
            done.append(attempt)
        except Refused as refusal:
            skipped.append(str(refusal))
    return done, skipped


# --- the whole room --------------------------------------------------------------------------------

EMERGENCY_DESCRIPTION = "Emergency stop: the whole room was stopped; every screen hidden and every clock stopped."


def stop_room(db: Session, sitting: models.Sitting, now: dt.datetime, actor: str, *, category: str,
              description: str | None, grace_seconds: int, pause_reason: str | None = None) -> models.Incident:
    """Stop every working candidate's clock and hide every screen; records a room-stop incident
    listing who was stopped (they are the ones :func:`resume_room` restarts)."""
    if sitting.state != "started":
        raise Refused("Only a running sitting can be stopped." if sitting.state == "open"
                      else "This sitting has ended.")
    if sitting.stopped_at is not None:
        raise Refused("The room is already stopped.")
    if category not in incidents.CATEGORIES:
        raise Refused("Choose the kind of incident that stops the room.", field="category")
    description = _reason(description, "pausing the room")
    stopped = []
    for attempt in lock_attempts(db, sitting):
        if attempt.state == IN_PROGRESS and _time_is_up(attempt, now):
            # Nothing left to protect: finish it at its deadline (or let the grace run out).
            attempts.finish_if_expired(db, attempt, now, grace_seconds)
        elif attempt.state in (IN_PROGRESS, ON_BREAK):
            attempts.pause(db, attempt, now, actor, pause_reason or f"Room paused: {description}")
            stopped.append(attempt)
    sitting.stopped_at = now
    incident = incidents.add(db, sitting, category=category, description=description, actor=actor, now=now,
                             attempts=stopped, stops_room=True)
    record(db, actor, "sitting.stop", f"sitting:{sitting.id}", now, reason=description,
           detail={"category": category, "stopped": len(stopped), "incident": incident.id})
    return incident


def emergency(db: Session, sitting: models.Sitting, now: dt.datetime, actor: str,
              grace_seconds: int) -> models.Incident:
    """One button: stop the room now, no questions asked; the incident is recorded for it."""
    return stop_room(db, sitting, now, actor, category=incidents.EMERGENCY, description=EMERGENCY_DESCRIPTION,
                     grace_seconds=grace_seconds, pause_reason="Emergency stop")


def resume_room(db: Session, sitting: models.Sitting, now: dt.datetime, actor: str, note: str | None = None) -> int:
    """Restart everyone the room stop paused (each with exactly the time they had), and start
    anyone who confirmed their details while the room was stopped. Candidates paused on their
    own before the stop stay paused. Returns how many clocks restarted."""
    if sitting.stopped_at is None:
        raise Refused("The room is not stopped.")
    note = _reason(note, "resuming", required=False)
    incident = incidents.open_room_stop(db, sitting.id)
    stopped_ids = {a.id for a in incident.attempts} if incident is not None else set()
    sitting.stopped_at = None
    restarted = 0
    for attempt in lock_attempts(db, sitting):
        if attempt.id in stopped_ids and attempt.state == PAUSED:
            attempts.resume(db, attempt, now, actor, "room resumed")
            restarted += 1
        elif attempt.state == WAITING and sitting.state == "started":
            attempts.confirm_details(db, attempt, now)
            restarted += 1
    if incident is not None:
        incident.ended_at, incident.resolution = now, note
    record(db, actor, "sitting.resume", f"sitting:{sitting.id}", now, reason=note,
           detail={"restarted": restarted, "incident": incident.id if incident else None})
    return restarted


def end_sitting(db: Session, sitting: models.Sitting, now: dt.datetime, actor: str, reason: str | None) -> int:
    """End the room (every attempt finishes with its latest saves), closing any room stop."""
    if sitting.stopped_at is not None:
        incident = incidents.open_room_stop(db, sitting.id)
        if incident is not None:
            incident.ended_at = now
            incident.resolution = incident.resolution or "The sitting was ended while the room was stopped."
        sitting.stopped_at = None
    return attempts.end_sitting(db, sitting, actor, now, reason=reason)


# --- rest breaks -----------------------------------------------------------------------------------


def has_rest_breaks(attempt: models.Attempt) -> bool:
    return bool((attempt.entry.candidate.access_arrangements or {}).get("rest_breaks"))


def request_break(db: Session, attempt: models.Attempt, now: dt.datetime) -> None:
    """The candidate asks for a supervised rest break; the invigilator sees it on the dashboard."""
    if attempt.state != IN_PROGRESS:
        raise Refused("You can ask for a rest break while your test is running.")
    if not has_rest_breaks(attempt):
        raise Refused("Rest breaks are not among your access arrangements: raise your hand to ask your invigilator.")
    if attempt.break_requested_at is None:
        attempt.break_requested_at = now
        record(db, f"candidate:{attempt.entry.candidate_id}", "attempt.break_request", _subject(attempt), now)


def cancel_break_request(db: Session, attempt: models.Attempt, now: dt.datetime) -> None:
    if attempt.break_requested_at is not None:
        attempt.break_requested_at = None
        record(db, f"candidate:{attempt.entry.candidate_id}", "attempt.break_request_cancel", _subject(attempt), now)


def start_break(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str, reason: str | None) -> None:
    """A supervised rest break: the screen is hidden and the clock stops until :func:`end_break`.

    Candidates with the rest-breaks arrangement need no reason; anyone else (e.g. taken ill)
    needs one, and the report shows the break was outside an arrangement.
    """
    reason = _reason(reason, f"a break for {_name(attempt)}, who has no rest-break arrangement",
                     required=not has_rest_breaks(attempt))
    if attempt.state != IN_PROGRESS:
        raise Refused(f"{_name(attempt)} is not working on the test, so a break cannot start.")
    if _time_is_up(attempt, now):
        raise Refused(f"{_name(attempt)}'s time is already up; the test is being finished.")
    requested = attempt.break_requested_at
    move(attempt, ON_BREAK)
    attempt.break_requested_at = None
    attempts.add_time_event(db, attempt, timing.BREAK_START, now, actor=actor, reason=reason or "rest break")
    record(db, actor, "attempt.break_start", _subject(attempt), now, reason=reason,
           detail={"arrangement": has_rest_breaks(attempt),
                   "requested_at": requested.isoformat() if requested else None})


def end_break(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str, reason: str | None = None) -> float:
    """End the break and restart the clock; returns the break's length in seconds."""
    reason = _reason(reason, "ending the break", required=False)
    if attempt.state != ON_BREAK:
        raise Refused(f"{_name(attempt)} is not on a break.")
    move(attempt, IN_PROGRESS)
    began = db.scalar(select(models.TimeEvent.at).where(
        models.TimeEvent.attempt_id == attempt.id, models.TimeEvent.kind == timing.BREAK_START)
        .order_by(models.TimeEvent.id.desc()).limit(1))
    attempts.add_time_event(db, attempt, timing.BREAK_END, now, actor=actor, reason=reason or "break over")
    length = (now - began).total_seconds() if began else 0.0
    record(db, actor, "attempt.break_end", _subject(attempt), now, reason=reason, detail={"seconds": round(length)})
    return length


# --- time ------------------------------------------------------------------------------------------

EXTRA_TIME, CREDIT = timing.EXTEND, timing.CREDIT


def parse_minutes(text: str | None) -> int:
    """Whole minutes typed by a person, 1 to MAX_ADDED_MINUTES."""
    text = (text or "").strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_ADDED_MINUTES:
        raise Refused(f"Enter the minutes to add as a whole number from 1 to {MAX_ADDED_MINUTES}.", field="minutes")
    return int(text)


def add_time(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str, *, kind: str, minutes: int,
             reason: str | None, grace_seconds: int) -> None:
    """Extra time (``extend``) or time given back (``credit``) for one candidate, with a reason."""
    if kind not in (EXTRA_TIME, CREDIT):
        raise Refused("Choose extra time or time given back.", field="kind")
    reason = _reason(reason, "adding time")
    if not 1 <= minutes <= MAX_ADDED_MINUTES:
        raise Refused(f"Add from 1 to {MAX_ADDED_MINUTES} minutes.", field="minutes")
    attempts.finish_if_expired(db, attempt, now, grace_seconds)
    if attempt.state == FINISHED:
        raise Refused(f"{_name(attempt)}'s test has finished; time can no longer be added.")
    attempts.add_time_event(db, attempt, kind, now, actor=actor, reason=reason, seconds=minutes * 60)
    record(db, actor, f"attempt.{kind}", _subject(attempt), now, reason=reason, detail={"minutes": minutes})


# --- moving workstation ------------------------------------------------------------------------------


def move_workstation(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str, *, reason: str | None,
                     category: str = incidents.TECHNICAL_FAILURE, credit_minutes: int = 0,
                     grace_seconds: int) -> models.Incident:
    """Cut off the candidate's current browser so they can sign in at another workstation.

    A running clock is paused, so no time is lost while they move; the invigilator resumes
    them on the new workstation, where the same form and every saved answer are waiting.
    Time lost before the move was noticed can be given back at once (``credit_minutes``).
    """
    reason = _reason(reason, "moving the candidate")
    if attempt.state == FINISHED:
        raise Refused(f"{_name(attempt)}'s test has finished; there is nothing to move.")
    attempt.session_generation += 1
    lock_state.release_device(db, attempt, now, actor)  # the one-device lock binds the next browser
    if attempt.state in (IN_PROGRESS, ON_BREAK) and not _time_is_up(attempt, now):
        attempts.pause(db, attempt, now, actor, f"Moving workstation: {reason}")
    if credit_minutes:
        add_time(db, attempt, now, actor, kind=CREDIT, minutes=credit_minutes,
                 reason=f"Time lost before moving workstation: {reason}", grace_seconds=grace_seconds)
    incident = incidents.add(db, attempt.entry.sitting, category=category, actor=actor, now=now,
                             description=f"Moved to another workstation: {reason}", attempts=[attempt])
    record(db, actor, "attempt.move", _subject(attempt), now, reason=reason,
           detail={"incident": incident.id, "credit_minutes": credit_minutes, "state": attempt.state})
    return incident


# --- outcomes ----------------------------------------------------------------------------------------


def mark_absent(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str, reason: str | None = None) -> None:
    """Record a candidate who has not come (never signed in) as absent."""
    reason = _reason(reason, "marking absent", required=False)
    if attempt.state != READY:
        raise Refused(f"{_name(attempt)} has signed in, so cannot be marked absent; withdraw them instead."
                      if attempt.state != FINISHED else f"{_name(attempt)}'s test is already closed.")
    attempts.finish(db, attempt, ABSENT, now, actor)
    record(db, actor, "attempt.absent", _subject(attempt), now, reason=reason)


def reinstate(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str, reason: str | None) -> None:
    """Undo "absent" for a candidate who has arrived after all (never started, sitting not ended)."""
    reason = _reason(reason, "reinstating a candidate marked absent")
    if attempt.state != FINISHED or attempt.outcome != ABSENT or attempt.started_at is not None:
        raise Refused("Only a candidate marked absent who never started can be reinstated.")
    if attempt.entry.sitting.state == "ended":
        raise Refused("This sitting has ended.")
    move(attempt, READY)
    attempt.finish_reason = attempt.outcome = attempt.finished_at = None
    record(db, actor, "attempt.reinstate", _subject(attempt), now, reason=reason)


def withdraw(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str, reason: str | None) -> None:
    """The candidate leaves the test for good (e.g. taken ill); saved answers are kept and marked."""
    reason = _reason(reason, "withdrawing a candidate")
    if attempt.state == FINISHED:
        raise Refused(f"{_name(attempt)}'s test has already finished.")
    attempts.finish(db, attempt, WITHDRAWN, now, actor)
    record(db, actor, "attempt.withdraw", _subject(attempt), now, reason=reason)


def void(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str, reason: str | None) -> models.Incident:
    """Void the attempt for malpractice: it finishes now if still running, its outcome becomes
    "voided" (results show it; marks are kept as evidence) and a malpractice incident is logged."""
    reason = _reason(reason, "voiding an attempt")
    if attempt.outcome == VOIDED:
        raise Refused(f"{_name(attempt)}'s attempt is already void.")
    if attempt.state == FINISHED:
        attempt.outcome = VOIDED
    else:
        attempts.finish(db, attempt, VOIDED, now, actor)
    incident = incidents.add(db, attempt.entry.sitting, category=incidents.MALPRACTICE, actor=actor, now=now,
                             description=f"Attempt voided: {reason}", attempts=[attempt])
    record(db, actor, "attempt.void", _subject(attempt), now, reason=reason, detail={"incident": incident.id})
    return incident


# --- keycodes ------------------------------------------------------------------------------------------


def regenerate_keycode(db: Session, sitting: models.Sitting, now: dt.datetime, actor: str,
                       reason: str | None = None) -> str:
    """Issue a new keycode (the old one stops working at once) and re-open sign-in."""
    if sitting.state == "ended":
        raise Refused("This sitting has ended.")
    sitting.keycode, sitting.keycode_active = attempts.new_keycode(), True
    record(db, actor, "sitting.keycode_regenerate", f"sitting:{sitting.id}", now,
           reason=_reason(reason, "a new keycode", required=False))
    return sitting.keycode


def revoke_keycode(db: Session, sitting: models.Sitting, now: dt.datetime, actor: str,
                   reason: str | None = None) -> None:
    """Nobody can sign in until a new keycode is issued; candidates signed in carry on."""
    if not sitting.keycode_active:
        raise Refused("The keycode is already revoked.")
    sitting.keycode_active = False
    record(db, actor, "sitting.keycode_revoke", f"sitting:{sitting.id}", now,
           reason=_reason(reason, "revoking the keycode", required=False))
