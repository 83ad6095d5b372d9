"""Sittings and attempts: opening, starting, saving, finishing. The service layer the web
views and the CLI call; each function runs inside the caller's write transaction.

Finishing happens in three ways, all through :func:`finish`, and every one marks the latest
saved answer of every item: the candidate submits; the invigilator ends the sitting; time
runs out. Time-outs are finished lazily when the attempt is next touched (any candidate or
invigilator request) and by ``onscreen sweep``, which a centre runs every few seconds
(``onscreen sweep --every 5``) so an attempt finishes even if nobody looks at it.
"""
from __future__ import annotations

import datetime as dt
import json
import random
import secrets
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, selectinload

from engine import models, timing
from engine import forms
from engine.assembly import AssemblyError, PoolItem
from engine.blueprint import BlueprintError
from engine.attempt_states import (
    ABSENT, ENDED, FINISHED, IN_PROGRESS, ON_BREAK, PAUSED, READY, STARTED, SUBMITTED, TIMED_OUT, VOIDED,
    WAITING, WITHDRAWN, move, outcome_for,
)
from engine.audit import record
from engine.marking import mark_attempt
from engine.db import EXTENSION_KEY
from engine.plugins import item_type, plugin_manager

#: Keycode characters: no 0/O, 1/I/L, 2/Z, 5/S or 8/B, which are confused when read aloud or typed.
KEYCODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
KEYCODE_LENGTH = 8


_FINISHED_KEY = "onscreen.finished_attempts"


class NotAccepted(RuntimeError):
    """The request cannot be honoured in the attempt's state; the message is for the person."""


def init_app(app: Flask) -> None:
    """Tell plugins about finished attempts only once the finish has committed, so a slow or
    failing plugin can never hold a lock or undo a candidate's answers."""
    factory = app.extensions[EXTENSION_KEY]

    @event.listens_for(factory, "after_commit")
    def _notify(db: Session) -> None:
        finished = db.info.pop(_FINISHED_KEY, [])
        for attempt_id, reason in finished:
            plugin_manager(app).hook.on_attempt_finished(attempt_id=attempt_id, reason=reason)

    @event.listens_for(factory, "after_rollback")
    def _forget(db: Session) -> None:
        db.info.pop(_FINISHED_KEY, None)


def new_keycode() -> str:
    return "".join(secrets.choice(KEYCODE_ALPHABET) for _ in range(KEYCODE_LENGTH))


def normalise_keycode(typed: str) -> str:
    return "".join(ch for ch in typed.upper() if ch.isalnum())


# --- opening a sitting ---------------------------------------------------------------------------


def open_sitting(db: Session, *, centre: models.Centre, specification: models.TestSpecification,
                 candidates: list[models.Candidate], title: str, actor: str,
                 staff_id: int | None, now: dt.datetime) -> models.Sitting:
    """Create a sitting and a frozen form for every entered candidate.

    Forms are made now, not at the start, so the start of the exam does no assembly work and
    a sitting the bank cannot serve is refused here, with the reason.
    """
    sitting = models.Sitting(
        centre_id=centre.id, specification_id=specification.id, title=title, keycode=new_keycode(),
        state="open", created_by_id=staff_id, created_at=now,
    )
    db.add(sitting)
    db.flush()
    pool = live_pool(db, specification)
    # One plan for the whole register: each form counts towards the exposure of the next.
    plan = form_plan(db, specification, candidates, now)
    for candidate in candidates:
        enter_candidate(db, sitting, candidate, pool, now, plan=plan, actor=actor)
    forms.record_pending(db, plan, actor, now)  # one flush for the register, then the audit records
    record(db, actor, "sitting.open", f"sitting:{sitting.id}", now,
           detail={"specification": specification.code, "candidates": len(candidates)})
    return sitting


def live_pool(db: Session, specification: models.TestSpecification) -> list[PoolItem]:
    """The live version of every live item of the specification's unit: its latest approved one
    (a newer draft of a live item waits for review: engine/authoring_workflow.py)."""
    items = db.scalars(
        select(models.Item)
        .where(models.Item.unit_id == specification.unit_id, models.Item.status == "live")
        .options(selectinload(models.Item.versions).selectinload(models.ItemVersion.criterion)
                 .selectinload(models.AssessmentCriterion.learning_outcome))
    ).all()
    from engine.authoring_workflow import live_versions
    pool = [forms.pool_item(item, version) for item, version in live_versions(db, list(items))]
    # Where enough attempts exist, the measured facility replaces the writer's estimate (issue 8).
    from flask import current_app, has_app_context
    from engine.item_statistics import with_measured_difficulty
    minimum = current_app.config.get("STATISTICS_MIN_ATTEMPTS", 0) if has_app_context() else 0
    return with_measured_difficulty(db, pool, minimum)


def form_plan(db: Session, specification: models.TestSpecification, candidates: list[models.Candidate],
              now: dt.datetime) -> forms.FormPlan:
    """The blueprint, the exposure so far in its window, and what each candidate has seen."""
    try:
        return forms.plan(db, specification, candidates, now)
    except BlueprintError as exc:
        raise NotAccepted(f"The test specification {specification.code} has malformed rules: {exc}") from exc


def enter_candidate(db: Session, sitting: models.Sitting, candidate: models.Candidate,
                    pool: list[PoolItem] | None, now: dt.datetime, *, plan: forms.FormPlan | None = None,
                    actor: str = "system") -> models.Attempt:
    """Enter the candidate and make their frozen form now (never at the start, never again).

    The form avoids items the candidate has seen in this unit, and items over the exposure
    cap, whenever the bank allows; the audit event ``attempt.assemble`` records how far it
    could (``overlap``, ``exposure_relaxed``) and every input needed to make it again. With a
    ``plan`` the caller writes those records (``forms.record_pending``) once the register is made.
    """
    spec = sitting.specification
    if pool is None:
        pool = live_pool(db, spec)
    own_plan = plan is None
    if plan is None:
        plan = form_plan(db, spec, [candidate], now)
    seed = secrets.randbits(31)
    seen = plan.seen.get(candidate.id, frozenset())
    try:
        made = forms.make_form(pool, plan.blueprint, seed, seen=seen, window=plan.window, plan=plan)
    except AssemblyError as exc:
        raise NotAccepted(f"The bank cannot serve {spec.title}: {exc}") from exc
    form = made.items
    # Loaded once per register, so no query (and no flush) per candidate: a register of
    # hundreds is written in one flush.
    versions = plan.versions(db, pool)
    try:
        extra_percent = timing.extra_time_percent(candidate.access_arrangements or {})
    except timing.ArrangementError as exc:
        raise NotAccepted(f"Candidate {candidate.candidate_number} {candidate.full_name}: {exc}. "
                          "Correct the candidate's access arrangements, or leave them off this sitting.") from exc
    entry = models.Entry(sitting=sitting, candidate=candidate)
    attempt = models.Attempt(
        entry=entry, state=READY, assembly_seed=seed,
        allowed_seconds=timing.allowed_seconds(spec.duration_minutes, extra_percent),
    )
    db.add_all([entry, attempt])
    rng = random.Random(seed)
    rows = []
    for position, chosen in enumerate(form, start=1):
        version = versions[chosen.version_id]
        state = item_type(version.type_name).start_attempt(version.definition, rng)
        rows.append({"position": position, "item_version_id": version.id, "start_state": state})
    # The form items are written with the audit record, in bulk, once the attempt has its id.
    plan.pending.append(forms.Pending(attempt, pool, seed, seen, plan.window, made, rows))
    plan.window = plan.window.plus(form)
    if own_plan:
        forms.record_pending(db, plan, actor, now)
    return attempt


# --- the clock -------------------------------------------------------------------------------------


def ledger(db: Session, attempt: models.Attempt, now: dt.datetime) -> timing.Ledger:
    events = db.execute(
        select(models.TimeEvent.kind, models.TimeEvent.at, models.TimeEvent.seconds)
        .where(models.TimeEvent.attempt_id == attempt.id).order_by(models.TimeEvent.id)
    ).all()
    return timing.compute(attempt.allowed_seconds, events, now)


def _time_event(db: Session, attempt: models.Attempt, kind: str, now: dt.datetime,
                actor: str | None = None, reason: str | None = None, seconds: int = 0) -> timing.Ledger:
    db.add(models.TimeEvent(attempt_id=attempt.id, kind=kind, at=now, actor=actor, reason=reason, seconds=seconds))
    db.flush()
    current = ledger(db, attempt, now)
    attempt.deadline_at = current.deadline
    return current


def _start(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str) -> None:
    move(attempt, IN_PROGRESS)
    attempt.started_at = now
    _time_event(db, attempt, timing.START, now, actor=actor)


def confirm_details(db: Session, attempt: models.Attempt, now: dt.datetime) -> None:
    """The candidate has confirmed who they are; if the room has started, they start now
    with their full time (a late starter)."""
    if attempt.state == READY:
        move(attempt, WAITING)
        record(db, f"candidate:{attempt.entry.candidate_id}", "attempt.confirm", f"attempt:{attempt.id}", now)
    sitting = attempt.entry.sitting
    # While the room is stopped (an emergency) a late starter waits; resuming the room starts them.
    if attempt.state == WAITING and sitting.state == "started" and sitting.stopped_at is None:
        _start(db, attempt, now, actor="late start")


def start_sitting(db: Session, sitting: models.Sitting, actor: str, now: dt.datetime) -> int:
    """Start the room: every candidate who is waiting starts now. Returns how many started."""
    if sitting.state != "open":
        raise NotAccepted(f"This sitting is {sitting.state}; only an open sitting can be started.")
    sitting.state, sitting.started_at = "started", now
    started = 0
    for entry in sitting.entries:
        if entry.attempt is not None and entry.attempt.state == WAITING:
            _start(db, entry.attempt, now, actor)
            started += 1
    record(db, actor, "sitting.start", f"sitting:{sitting.id}", now, detail={"started": started})
    return started


def pause(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str, reason: str) -> None:
    move(attempt, PAUSED)
    _time_event(db, attempt, timing.PAUSE, now, actor=actor, reason=reason)
    record(db, actor, "attempt.pause", f"attempt:{attempt.id}", now, reason=reason)


def resume(db: Session, attempt: models.Attempt, now: dt.datetime, actor: str, reason: str) -> None:
    move(attempt, IN_PROGRESS)
    _time_event(db, attempt, timing.RESUME, now, actor=actor, reason=reason)
    record(db, actor, "attempt.resume", f"attempt:{attempt.id}", now, reason=reason)


# --- saving -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    seq: int
    position: int
    recorded_at: dt.datetime
    duplicate: bool
    late: bool


def save_response(db: Session, attempt: models.Attempt, position: int, response, idempotency_key: str,
                  now: dt.datetime, grace_seconds: int) -> Receipt:
    """Record a save as a new event and make it the item's current answer.

    A retry with the same idempotency key returns the first receipt and writes nothing. A
    save is accepted while the clock runs, and within ``grace_seconds`` after the deadline
    (a save already in flight; it is marked late). The caller holds the attempt's row lock.
    """
    existing = db.scalar(select(models.ResponseEvent).where(
        models.ResponseEvent.attempt_id == attempt.id, models.ResponseEvent.idempotency_key == idempotency_key))
    if existing is not None:
        if existing.position != position:
            raise NotAccepted("This save was already used for another question; reload the page.")
        if _canonical(existing.response) != _canonical(response):
            # A key reused for a different answer must not be acknowledged as saved: the
            # candidate would see "Saved" while the newer answer is dropped.
            raise NotAccepted("This save was already used for a different answer; change the answer again to save it.")
        return Receipt(existing.seq, existing.position, existing.recorded_at, True, existing.late)
    late = False
    if attempt.state == IN_PROGRESS and attempt.deadline_at is not None and now > attempt.deadline_at:
        if now > attempt.deadline_at + dt.timedelta(seconds=grace_seconds):
            raise NotAccepted("Time is up: answers can no longer be changed.")
        late = True
    elif attempt.state != IN_PROGRESS:
        raise NotAccepted(_state_message(attempt))
    form_item = db.scalar(select(models.FormItem).where(
        models.FormItem.attempt_id == attempt.id, models.FormItem.position == position))
    if form_item is None:
        raise NotAccepted("There is no such question in this test.")
    attempt.last_seq += 1
    seq = attempt.last_seq
    db.add(models.ResponseEvent(attempt_id=attempt.id, position=position, seq=seq,
                                idempotency_key=idempotency_key, response=response, recorded_at=now, late=late))
    form_item.current_response, form_item.current_seq = response, seq
    attempt.last_contact_at = now
    return Receipt(seq, position, now, False, late)


def _canonical(response) -> str:
    """The answer as it is stored (JSON), so a retry compares equal to its first delivery."""
    return json.dumps(response, sort_keys=True, default=str)


def _state_message(attempt: models.Attempt) -> str:
    return {
        READY: "Your test has not started yet.",
        WAITING: "Your test has not started yet.",
        PAUSED: "Your test is paused by the invigilator. Your answers so far are saved.",
        ON_BREAK: "You are on a rest break. Your answers so far are saved.",
        FINISHED: "Your test has finished: answers can no longer be changed.",
    }.get(attempt.state, "Answers cannot be saved now.")


def set_flag(attempt: models.Attempt, position: int, flagged: bool) -> None:
    for form_item in attempt.form_items:
        if form_item.position == position:
            form_item.flagged = flagged
            return
    raise NotAccepted("There is no such question in this test.")


# --- finishing ----------------------------------------------------------------------------------------


def finish(db: Session, attempt: models.Attempt, reason: str, now: dt.datetime, actor: str) -> None:
    """Finish and mark the attempt with the latest saved answer of every item."""
    if attempt.state == FINISHED:
        return
    started = attempt.state in STARTED
    move(attempt, FINISHED)
    attempt.finish_reason = reason if started or reason in (WITHDRAWN, VOIDED) else ABSENT
    attempt.outcome = outcome_for(attempt.finish_reason)
    attempt.break_requested_at = None
    finished_at = now
    # Never later than the deadline: a finish in the grace for saves in flight is still on time.
    if attempt.deadline_at is not None:
        finished_at = min(now, attempt.deadline_at)
    if started:
        _time_event(db, attempt, timing.FINISH, finished_at, actor=actor, reason=reason)
    attempt.finished_at, attempt.deadline_at = finished_at, None
    db.flush()
    if started:
        mark_attempt(db, attempt, now)
        db.info.setdefault(_FINISHED_KEY, []).append((attempt.id, attempt.finish_reason))
    record(db, actor, "attempt.finish", f"attempt:{attempt.id}", now, detail={"reason": attempt.finish_reason})


def finish_if_expired(db: Session, attempt: models.Attempt, now: dt.datetime, grace_seconds: int) -> bool:
    """Lazy time-out: finish the attempt if its deadline and the grace for saves have passed."""
    if attempt.state == IN_PROGRESS and attempt.deadline_at is not None and \
            now > attempt.deadline_at + dt.timedelta(seconds=grace_seconds):
        finish(db, attempt, TIMED_OUT, now, actor="time-out")
        return True
    return False


def expired_attempt_ids(db: Session, now: dt.datetime, grace_seconds: int) -> list[int]:
    cutoff = now - dt.timedelta(seconds=grace_seconds)
    return list(db.scalars(select(models.Attempt.id).where(
        models.Attempt.state == IN_PROGRESS, models.Attempt.deadline_at < cutoff)))


def end_sitting(db: Session, sitting: models.Sitting, actor: str, now: dt.datetime, reason: str | None = None) -> int:
    """End the room: every attempt finishes with its latest saves. Returns how many finished."""
    if sitting.state == "ended":
        raise NotAccepted("This sitting has already ended.")
    finished = 0
    for entry in sitting.entries:
        if entry.attempt is not None and entry.attempt.state != FINISHED:
            finish(db, entry.attempt, ENDED, now, actor)
            finished += 1
    sitting.state, sitting.ended_at = "ended", now
    record(db, actor, "sitting.end", f"sitting:{sitting.id}", now, reason=reason, detail={"finished": finished})
    return finished


def submit(db: Session, attempt: models.Attempt, now: dt.datetime) -> None:
    if attempt.state not in (IN_PROGRESS,):
        raise NotAccepted(_state_message(attempt))
    finish(db, attempt, SUBMITTED, now, actor=f"candidate:{attempt.entry.candidate_id}")


def answered_count(db: Session, attempt_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """attempt id -> (answered, flagged, total) in one query, for the live register."""
    rows = db.execute(
        select(models.FormItem.attempt_id, func.count(),
               func.count(models.FormItem.current_response),
               func.count().filter(models.FormItem.flagged.is_(True)))
        .where(models.FormItem.attempt_id.in_(attempt_ids)).group_by(models.FormItem.attempt_id)
    ).all()
    return {attempt_id: (answered, flagged, total) for attempt_id, total, answered, flagged in rows}


#: The one way to add a time event from other modules: appends it and refreshes the deadline cache.
add_time_event = _time_event


# --- late entries ----------------------------------------------------------------------------------


def enter_late(db: Session, sitting: models.Sitting, candidate: models.Candidate, actor: str,
               now: dt.datetime) -> models.Attempt:
    """Add a candidate to a sitting that is already open or running: their form is made now,
    on entry, against the exposure of every form made so far (this sitting's included)."""
    if sitting.state == "ended":
        raise NotAccepted("This sitting has ended: no one can be entered for it now.")
    if candidate.centre_id != sitting.centre_id:
        raise NotAccepted(f"Candidate {candidate.candidate_number} belongs to another centre.")
    already = db.scalar(select(models.Entry).where(
        models.Entry.sitting_id == sitting.id, models.Entry.candidate_id == candidate.id))
    if already is not None:
        raise NotAccepted(f"Candidate {candidate.candidate_number} {candidate.full_name} is already entered; "
                          "their form stays as it is.")
    attempt = enter_candidate(db, sitting, candidate, None, now, actor=actor)
    record(db, actor, "sitting.enter", f"sitting:{sitting.id}", now,
           detail={"candidate": candidate.id, "attempt": attempt.id, "late": True})
    return attempt
