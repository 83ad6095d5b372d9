"""What the locks remember about an attempt: the browser it is bound to, the lockouts that wait
for the invigilator, and the signals the candidate's browser reported.

Every function runs in the caller's write transaction (``engine.db.writing``) and audits who,
when and why; the clock changes only through time events (``engine.attempts.pause/resume``).
"""
from __future__ import annotations

import datetime as dt
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import attempts, incidents, models
from engine.attempt_states import IN_PROGRESS, PAUSED
from engine.audit import record
from engine.models_locks import BrowserSignal, DeviceBinding, Lockout

#: The browser's device token: a cookie of its own, signed with a salt used for nothing else.
DEVICE_COOKIE = "onscreen_device"
DEVICE_SALT = "onscreen.lock.one_device"
#: A device token older than this is refused (longer than any sitting, breaks included).
DEVICE_TOKEN_MAX_AGE = 24 * 3600
#: The same signal within this many seconds adds no second incident (a flapping focus would
#: otherwise bury the log); it is still counted.
SIGNAL_QUIET_SECONDS = 60
MAX_REASON = 500

SIGNALS = {
    "fullscreen_exit": "left full screen",
    "focus_lost": "switched to another window or tab",
    "copy": "tried to copy",
    "cut": "tried to cut",
    "paste": "tried to paste",
    "print": "tried to print",
    "context_menu": "opened the right-click menu",
}


class LockRefused(attempts.NotAccepted):
    """The unlock cannot be done; ``field`` names the form field to correct."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _subject(attempt: models.Attempt) -> str:
    return f"attempt:{attempt.id}"


# --- one device --------------------------------------------------------------------------------------


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=DEVICE_SALT)


def device_token(secret_key: str, attempt_id: int, device_id: str) -> str:
    return _serializer(secret_key).dumps({"a": attempt_id, "d": device_id})


def device_of(secret_key: str, token: str | None, attempt_id: int) -> str | None:
    """The device id a token carries for this attempt; None if forged, expired or for another."""
    if not token:
        return None
    try:
        payload = _serializer(secret_key).loads(token, max_age=DEVICE_TOKEN_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("a") != attempt_id or not isinstance(payload.get("d"), str):
        return None
    return payload["d"]


def binding(db: Session, attempt_id: int) -> DeviceBinding | None:
    return db.get(DeviceBinding, attempt_id)


def bind_device(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str) -> DeviceBinding:
    """Bind the attempt to a new device id (a new one every time, so older tokens die)."""
    found = binding(db, attempt.id)
    device_id = secrets.token_urlsafe(24)
    if found is None:
        found = DeviceBinding(attempt_id=attempt.id, device_id=device_id, bound_at=now)
        db.add(found)
    else:
        found.device_id, found.bound_at = device_id, now
    record(db, actor, "attempt.device_bound", _subject(attempt), now)
    return found


def release_device(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str) -> None:
    """Forget the bound browser (the invigilator moved the candidate): the next sign-in binds."""
    found = binding(db, attempt.id)
    if found is not None:
        db.delete(found)
        record(db, actor, "attempt.device_released", _subject(attempt), now)


# --- lockouts ----------------------------------------------------------------------------------------


def open_lockouts(db: Session, attempt_ids: list[int]) -> dict[int, list[Lockout]]:
    """attempt id -> its lockouts still waiting for the invigilator, in one query."""
    found: dict[int, list[Lockout]] = {}
    if attempt_ids:
        for lockout in db.scalars(select(Lockout).where(Lockout.attempt_id.in_(attempt_ids),
                                                        Lockout.unlocked_at.is_(None)).order_by(Lockout.id)):
            found.setdefault(lockout.attempt_id, []).append(lockout)
    return found


def lock(db: Session, attempt: models.Attempt, now: dt.datetime, *, lock_name: str, reason: str,
         stop_clock: bool) -> Lockout | None:
    """Lock the attempt until the invigilator unlocks it; with ``stop_clock`` a running clock
    pauses (the candidate does not lose time waiting). None if it is already locked."""
    if open_lockouts(db, [attempt.id]).get(attempt.id):
        return None
    actor = f"system:lock:{lock_name}"
    stopped = False
    if stop_clock and attempt.state == IN_PROGRESS and not (attempt.deadline_at and now >= attempt.deadline_at):
        attempts.pause(db, attempt, now, actor, f"Locked: {reason}")
        stopped = True
    lockout = Lockout(attempt_id=attempt.id, lock_name=lock_name, reason=reason, locked_at=now, clock_stopped=stopped)
    db.add(lockout)
    attempt.locked_at = now
    record(db, actor, "attempt.locked", _subject(attempt), now, reason=reason, detail={"clock_stopped": stopped})
    return lockout


def unlock(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str, reason: str | None) -> int:
    """The invigilator lifts every lockout, with a reason; a clock the lock stopped restarts
    (unless the room is stopped, or someone paused the candidate since). Returns how many."""
    reason = (reason or "").strip()
    if not reason:
        raise LockRefused("Give a reason for unlocking: it goes in the sitting's record.", field="reason")
    if len(reason) > MAX_REASON:
        raise LockRefused(f"The reason is too long ({len(reason)} characters; at most {MAX_REASON}).", field="reason")
    lockouts = open_lockouts(db, [attempt.id]).get(attempt.id, [])
    if not lockouts:
        raise LockRefused("This candidate is not locked.")
    for lockout in lockouts:
        lockout.unlocked_at, lockout.unlocked_by, lockout.unlock_reason = now, actor, reason
    attempt.locked_at = None
    if (any(lo.clock_stopped for lo in lockouts) and attempt.state == PAUSED
            and attempt.entry.sitting.stopped_at is None and _last_pause_was_the_lock(db, attempt)):
        attempts.resume(db, attempt, now, actor, f"Unlocked: {reason}")
    record(db, actor, "attempt.unlock", _subject(attempt), now, reason=reason,
           detail={"lockouts": [lo.id for lo in lockouts]})
    return len(lockouts)


def _last_pause_was_the_lock(db: Session, attempt: models.Attempt) -> bool:
    last = db.scalar(select(models.TimeEvent).where(
        models.TimeEvent.attempt_id == attempt.id, models.TimeEvent.kind == "pause")
        .order_by(models.TimeEvent.id.desc()).limit(1))
    return last is not None and (last.actor or "").startswith("system:lock:")


# --- browser signals ---------------------------------------------------------------------------------


def report_signal(db: Session, attempt: models.Attempt, kind: str, now: dt.datetime, *, lock_name: str,
                  policy: str, stop_clock: bool) -> BrowserSignal:
    """Record what the browser reported; the policy decides: ``record`` writes an incident (one
    per kind per quiet period), ``lock`` also locks the attempt until the invigilator unlocks."""
    what = SIGNALS[kind]
    actor = f"system:lock:{lock_name}"
    signal = BrowserSignal(attempt_id=attempt.id, kind=kind, at=now, action="counted")
    if policy == "lock":
        lockout = lock(db, attempt, now, lock_name=lock_name, reason=f"You {what}.", stop_clock=stop_clock)
        if lockout is not None:
            signal.action = "locked"
            signal.incident_id = _incident(db, attempt, now, actor,
                                           f"Browser reported: {what}. The test is locked until the invigilator "
                                           f"unlocks it.").id
    else:
        quiet_since = now - dt.timedelta(seconds=SIGNAL_QUIET_SECONDS)
        recent = db.scalar(select(BrowserSignal.id).where(
            BrowserSignal.attempt_id == attempt.id, BrowserSignal.kind == kind,
            BrowserSignal.incident_id.is_not(None), BrowserSignal.at >= quiet_since).limit(1))
        if recent is None:
            signal.action = "incident"
            signal.incident_id = _incident(db, attempt, now, actor, f"Browser reported: {what}.").id
    db.add(signal)
    return signal


def _incident(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str, description: str):
    candidate = attempt.entry.candidate
    return incidents.add(db, attempt.entry.sitting, category=incidents.OTHER, actor=actor, now=now,
                         description=f"{candidate.candidate_number} {candidate.full_name}: {description}",
                         attempts=[attempt])


def signals_of(db: Session, attempt_id: int, limit: int = 50) -> list[BrowserSignal]:
    return list(db.scalars(select(BrowserSignal).where(BrowserSignal.attempt_id == attempt_id)
                           .order_by(BrowserSignal.id.desc()).limit(limit)))


def lockouts_of(db: Session, attempt_id: int) -> list[Lockout]:
    return list(db.scalars(select(Lockout).where(Lockout.attempt_id == attempt_id).order_by(Lockout.id)))


# --- a sitting's own settings -------------------------------------------------------------------------


def set_sitting_locks(db: Session, sitting: models.Sitting, config: dict | None, now: dt.datetime, actor: str) -> None:
    """Replace the sitting's lock overrides (already checked with ``locks.config_problems``);
    None goes back to the specification's. Refused once the sitting has ended."""
    if sitting.state == "ended":
        raise LockRefused("This sitting has ended; its exam conditions are part of its record.")
    sitting.locks = dict(config) if config else None
    record(db, actor, "sitting.locks", f"sitting:{sitting.id}", now, detail={"locks": sitting.locks})
