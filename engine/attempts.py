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
from sqlalchemy import bindparam, event, func, insert, or_, select, update
from sqlalchemy.orm import Session, contains_eager, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from engine import clock, models, timing
from engine import forms
from engine.assembly import AssemblyError, PoolItem
from engine.blueprint import BlueprintError
from engine.attempt_states import (
    ABSENT, ENDED, FINISHED, IN_PROGRESS, ON_BREAK, PAUSED, READY, STARTED, SUBMITTED, TIMED_OUT, VOIDED,
    WAITING, WITHDRAWN, check_move, move, outcome_for,
)
from engine.audit import record, record_written_many
from engine import marking
from engine.marking import mark_attempts
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
    _append_time_event(db, attempt, kind, now, actor=actor, reason=reason, seconds=seconds)
    db.flush()
    current = ledger(db, attempt, now)
    attempt.deadline_at = current.deadline
    return current


def _append_time_event(db: Session, attempt: models.Attempt, kind: str, now: dt.datetime,
                       actor: str | None = None, reason: str | None = None, seconds: int = 0) -> None:
    """Add the event without re-reading the ledger: for a caller that sets the deadline itself."""
    db.add(models.TimeEvent(attempt_id=attempt.id, kind=kind, at=now, actor=actor, reason=reason, seconds=seconds))


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
    # The whole room in a fixed number of statements, however many candidates: one query for the
    # waiting attempts, one for any time events they already have, the start events in one insert,
    # every deadline by the ledger rule computed here (no re-read), and one update for the room.
    waiting = list(db.scalars(select(models.Attempt).join(models.Entry)
                              .where(models.Entry.sitting_id == sitting.id, models.Attempt.state == WAITING)
                              .order_by(models.Entry.id)))
    if waiting:
        earlier = _time_events_of(db, [attempt.id for attempt in waiting])
        for attempt in waiting:
            move(attempt, IN_PROGRESS)
            attempt.started_at = now
            events = [*earlier[attempt.id], (timing.START, now, 0)]
            attempt.deadline_at = timing.compute(attempt.allowed_seconds, events, now).deadline
        db.execute(insert(models.TimeEvent), [
            {"attempt_id": attempt.id, "kind": timing.START, "at": now, "actor": actor, "reason": None, "seconds": 0}
            for attempt in waiting])
    record(db, actor, "sitting.start", f"sitting:{sitting.id}", now, detail={"started": len(waiting)})
    return len(waiting)


def _time_events_of(db: Session, attempt_ids: list[int]) -> dict[int, list[tuple[str, dt.datetime, int]]]:
    """attempt id -> its (kind, at, seconds) time events in recorded order, in one query: the
    ledger's input for many attempts (usually none before the room starts)."""
    found: dict[int, list[tuple[str, dt.datetime, int]]] = {attempt_id: [] for attempt_id in attempt_ids}
    for attempt_id, kind, at, seconds in db.execute(
            select(models.TimeEvent.attempt_id, models.TimeEvent.kind, models.TimeEvent.at, models.TimeEvent.seconds)
            .where(models.TimeEvent.attempt_id.in_(attempt_ids)).order_by(models.TimeEvent.id)):
        found[attempt_id].append((kind, at, seconds))
    return found


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


def record_save(db: Session, attempt_id: int, generation: int, form_item: models.FormItem, response,
                idempotency_key: str, now: dt.datetime, grace_seconds: int) -> Receipt | None:
    """The usual save in four core statements, or None for :func:`save_response` to decide.

    The usual save (the attempt running, this browser still the attempt's, in time or within
    the grace, a new key) is most of the load on exam day, so it skips the ORM's unit of work:
    one ``UPDATE ... RETURNING`` both takes the attempt's row lock (PostgreSQL; SQLite's
    ``BEGIN IMMEDIATE`` already holds the database) and checks the state and the deadline.
    Anything else (a retry, time up, paused, moved to another workstation) returns None with
    nothing saved, and the caller takes the full path in the same transaction, which explains the refusal or finishes
    the attempt. ``form_item`` must be the attempt's own, loaded by the caller.
    """
    # The statements are built once (below) and run on the session's connection: on SQLite the
    # whole write lock is held while they run, and building them and their cache keys anew was
    # about half of the save's time inside that lock (docs/performance.md).
    connection = db.connection()
    row = connection.execute(_SAVE_CLAIM, {
        "attempt_id": attempt_id, "generation": generation, "now": now,
        "cutoff": now - dt.timedelta(seconds=grace_seconds)}).one_or_none()
    if row is None:
        return None
    seq, deadline = row
    if connection.execute(_SAVE_KEY_SEEN, {"attempt_id": attempt_id, "key": idempotency_key}).first() is not None:
        # A retry: the row lock is held, so taking the number back is safe; the full path then
        # returns the first receipt (or refuses a reused key). The key is checked after the
        # UPDATE so that on PostgreSQL a retry racing its first delivery waits for it and sees it.
        connection.execute(_SAVE_UNCLAIM, {"attempt_id": attempt_id})
        return None
    late = deadline is not None and now > deadline
    connection.execute(_SAVE_EVENT, {"attempt_id": attempt_id, "position": form_item.position, "seq": seq,
                                     "key": idempotency_key, "response": response, "now": now, "late": late})
    connection.execute(_SAVE_CURRENT, {"form_item_id": form_item.id, "response": response, "seq": seq})
    # The loaded object shows the new answer (the navigator cell) without a second UPDATE at commit.
    set_committed_value(form_item, "current_response", response)
    set_committed_value(form_item, "current_seq", seq)
    return Receipt(seq, form_item.position, now, False, late)


_attempts, _events, _form_items = models.Attempt.__table__, models.ResponseEvent.__table__, models.FormItem.__table__
_SAVE_CLAIM = (
    update(_attempts)
    .where(_attempts.c.id == bindparam("attempt_id"), _attempts.c.state == IN_PROGRESS,
           _attempts.c.session_generation == bindparam("generation"),
           or_(_attempts.c.deadline_at.is_(None), _attempts.c.deadline_at >= bindparam("cutoff")))
    .values(last_seq=_attempts.c.last_seq + 1, last_contact_at=bindparam("now", type_=_attempts.c.last_contact_at.type))
    .returning(_attempts.c.last_seq, _attempts.c.deadline_at))
_SAVE_KEY_SEEN = select(_events.c.id).where(_events.c.attempt_id == bindparam("attempt_id"),
                                            _events.c.idempotency_key == bindparam("key"))
_SAVE_UNCLAIM = update(_attempts).where(_attempts.c.id == bindparam("attempt_id")).values(
    last_seq=_attempts.c.last_seq - 1)
_SAVE_EVENT = insert(_events).values(
    attempt_id=bindparam("attempt_id"), position=bindparam("position"), seq=bindparam("seq"),
    idempotency_key=bindparam("key"), response=bindparam("response", type_=_events.c.response.type),
    recorded_at=bindparam("now", type_=_events.c.recorded_at.type), late=bindparam("late", type_=_events.c.late.type))
_SAVE_CURRENT = update(_form_items).where(_form_items.c.id == bindparam("form_item_id")).values(
    current_response=bindparam("response", type_=_form_items.c.current_response.type),
    current_seq=bindparam("seq"))


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


# --- reading an attempt to change it ----------------------------------------------------------------

_A, _E, _S, _C = models.Attempt, models.Entry, models.Sitting, models.Candidate
#: The attempt with what nearly every reader of it reads next: its entry, sitting and
#: specification (the locks, the deadline, marking) and its candidate and centre (the pages'
#: time zone), in one statement. Six plain entities joined, linked below, rather than
#: ``joinedload``, which adapts every row through aliases: a fifth more CPU for the lock guard
#: that every candidate request runs (docs/performance.md). Built once (its cache key is kept).
def with_context_where(*criteria):
    """Attempts matching ``criteria``, each row the six entities that ``linked`` links."""
    return (select(_A, _E, _S, models.TestSpecification, _C, models.Centre)
            .join(_A.entry).join(_E.sitting).join(_S.specification).join(_E.candidate).join(_C.centre)
            .where(*criteria))


_WITH_CONTEXT = with_context_where(_A.id == bindparam("attempt_id"))
#: Reloading the attempt alone (``session.get(..., populate_existing=True)``) reset its
#: relationships, so the write read its entry, sitting and specification again, a statement
#: each, while SQLite's write lock was held.
_RELOAD_FOR_WRITE = _WITH_CONTEXT.with_for_update(of=_A).execution_options(populate_existing=True)


def linked(row) -> models.Attempt | None:
    """The attempt of a ``with_context_where`` row, its relationships set to the row's objects (as
    loaded, so nothing is written), which also keeps them in the session, as it holds rows only
    weakly."""
    if row is None:
        return None
    attempt, entry, sitting, specification, candidate, centre = row
    set_committed_value(attempt, "entry", entry)
    set_committed_value(entry, "sitting", sitting)
    set_committed_value(sitting, "specification", specification)
    set_committed_value(entry, "candidate", candidate)
    set_committed_value(candidate, "centre", centre)
    return attempt


def load_with_context(db: Session, attempt_id: int) -> models.Attempt | None:
    """The attempt with its entry, sitting, specification, candidate and centre, in one statement."""
    return linked(db.execute(_WITH_CONTEXT, {"attempt_id": attempt_id}).one_or_none())


#: The same, and PostgreSQL's time (``engine.clock``): the lock guard's statement on PostgreSQL,
#: where asking the time on its own was a round trip on every candidate request.
_WITH_CONTEXT_AND_NOW = _WITH_CONTEXT.add_columns(clock.DATABASE_NOW)


def load_with_context_and_now(db: Session, attempt_id: int) -> tuple[models.Attempt | None, dt.datetime | None]:
    """``load_with_context`` and the database's time, in one statement (PostgreSQL only)."""
    row = db.execute(_WITH_CONTEXT_AND_NOW, {"attempt_id": attempt_id}).one_or_none()
    return (None, None) if row is None else (linked(row[:6]), row[6])


def reload_for_write(db: Session, attempt_id: int) -> models.Attempt | None:
    """The attempt as it is now, with its surroundings, in the caller's write transaction (and,
    on PostgreSQL, its row locked), in one statement."""
    return linked(db.execute(_RELOAD_FOR_WRITE, {"attempt_id": attempt_id}).one_or_none())


#: Several attempts as they are now (the session's copies refreshed), in id order: a room's
#: time-outs, finished together (engine/time_outs.py). The same for a write transaction, with
#: their rows locked on PostgreSQL (always in id order, so two such batches cannot deadlock).
_MANY_WITH_CONTEXT = (with_context_where(_A.id.in_(bindparam("attempt_ids", expanding=True))).order_by(_A.id)
                      .execution_options(populate_existing=True))
_RELOAD_MANY_FOR_WRITE = _MANY_WITH_CONTEXT.with_for_update(of=_A)


def load_many_with_context(db: Session, attempt_ids: list[int]) -> list[models.Attempt]:
    """These attempts as they are now, with their surroundings, in one statement, in id order."""
    return [linked(row) for row in db.execute(_MANY_WITH_CONTEXT, {"attempt_ids": list(attempt_ids)})]


def reload_many_for_write(db: Session, attempt_ids: list[int]) -> list[models.Attempt]:
    """:func:`load_many_with_context` in the caller's write transaction (their rows locked on
    PostgreSQL)."""
    return [linked(row) for row in db.execute(_RELOAD_MANY_FOR_WRITE, {"attempt_ids": list(attempt_ids)})]


# --- finishing ----------------------------------------------------------------------------------------


def finish(db: Session, attempt: models.Attempt, reason: str, now: dt.datetime, actor: str,
           prepared: marking.Prepared | None = None) -> None:
    """Finish and mark the attempt with the latest saved answer of every item (``prepared``: its
    marks worked out before this transaction, used if no save has landed since)."""
    finish_many(db, [(attempt, prepared)], reason, now, actor)


def finish_many(db: Session, finishing: list[tuple[models.Attempt, marking.Prepared | None]], reason: str,
                now: dt.datetime, actor: str) -> list[models.Attempt]:
    """Finish and mark these attempts (each with its ``prepared`` marks, or None) in the caller's
    write transaction, each kind of row in one statement for them all: a room's time-outs or the
    end of a sitting write as many statements as one finish (engine/time_outs.py). Returns the
    attempts this call finished (one already finished is left as it is)."""
    finished, marked = [], []
    time_events, attempt_rows, audit_rows = [], [], []
    for attempt, prepared in finishing:
        if attempt.state == FINISHED:
            continue
        started = attempt.state in STARTED
        check_move(attempt.state, FINISHED)
        finish_reason = reason if started or reason in (WITHDRAWN, VOIDED) else ABSENT
        # Never later than the deadline: a finish in the grace for saves in flight is still on time.
        finished_at = now if attempt.deadline_at is None else min(now, attempt.deadline_at)
        if started:
            # No ledger re-read: a finished attempt has no deadline, whatever the ledger would say.
            time_events.append({"attempt_id": attempt.id, "kind": timing.FINISH, "at": finished_at,
                                "actor": actor, "reason": reason})
            marked.append((attempt, prepared))
        values = {"state": FINISHED, "finish_reason": finish_reason, "outcome": outcome_for(finish_reason),
                  "break_requested_at": None, "finished_at": finished_at, "deadline_at": None}
        attempt_rows.append({"attempt_id": attempt.id, **{f"new_{name}": value for name, value in values.items()}})
        # Set on the loaded attempt as written, so the commit has nothing of it to flush (a
        # change the caller made to it still is).
        for name, value in values.items():
            set_committed_value(attempt, name, value)
        audit_rows.append({"at": now, "actor": actor, "action": "attempt.finish", "subject": f"attempt:{attempt.id}",
                           "reason": None, "detail": {"reason": finish_reason}})
        finished.append(attempt)
    if not finished:
        return finished
    connection = db.connection()
    if time_events:
        connection.execute(_INSERT_TIME_EVENT, time_events)
    connection.execute(_WRITE_FINISHED, attempt_rows)
    if marked:
        mark_attempts(db, marked, now)
        db.info.setdefault(_FINISHED_KEY, []).extend((attempt.id, attempt.finish_reason) for attempt, _ in marked)
    record_written_many(db, audit_rows)
    return finished


_a = models.Attempt.__table__
#: What a finish changes on the attempt. Built once. The finish's rows are written with Core
#: statements as it goes, not flushed by the unit of work at the commit: that flush (the attempt,
#: its time event, result and audit record) was a quarter of the write, inside SQLite's write
#: lock, at a deadline where a whole room finishes at once (docs/performance.md, session 17).
_FINISHED_COLUMNS = ("state", "finish_reason", "outcome", "break_requested_at", "finished_at", "deadline_at")
_WRITE_FINISHED = (update(_a).where(_a.c.id == bindparam("attempt_id"))
                   .values({name: bindparam(f"new_{name}", type_=_a.c[name].type) for name in _FINISHED_COLUMNS}))
_INSERT_TIME_EVENT = insert(models.TimeEvent.__table__)


def is_expired(attempt: models.Attempt, now: dt.datetime, grace_seconds: int) -> bool:
    """Running, and past its deadline and the grace for saves in flight: no answer can change."""
    return attempt.state == IN_PROGRESS and attempt.deadline_at is not None and \
        now > attempt.deadline_at + dt.timedelta(seconds=grace_seconds)


def finish_if_expired(db: Session, attempt: models.Attempt, now: dt.datetime, grace_seconds: int,
                      prepared: marking.Prepared | None = None) -> bool:
    """Lazy time-out: finish the attempt if its deadline and the grace for saves have passed.
    ``attempt`` must be read afresh in the caller's write transaction."""
    if is_expired(attempt, now, grace_seconds):
        finish(db, attempt, TIMED_OUT, now, actor="time-out", prepared=prepared)
        return True
    return False


def prepare_time_out(db: Session, attempt: models.Attempt, now: dt.datetime, grace_seconds: int) -> marking.Prepared | None:
    """Before the write transaction of a time-out finish: its marks, worked out outside SQLite's
    write lock (None when the attempt is not expired, so there is nothing to finish)."""
    return marking.prepare(db, attempt) if is_expired(attempt, now, grace_seconds) else None


def expired_attempt_ids(db: Session, now: dt.datetime, grace_seconds: int) -> list[int]:
    return list(db.scalars(select(models.Attempt.id).where(*_expired(now, grace_seconds))))


def unattended_time_outs(db: Session, now: dt.datetime, grace_seconds: int) -> list[int]:
    """The ids of the expired attempts no browser is about to finish (:func:`is_unattended`),
    in id order, for a sweep to finish a batch at a time (engine/sweeper.py)."""
    left_to_browser = now - dt.timedelta(seconds=LEFT_TO_THE_BROWSER_SECONDS)
    return list(db.scalars(select(models.Attempt.id).where(
        *_expired(now, grace_seconds),
        or_(models.Attempt.last_contact_at.is_(None), models.Attempt.last_contact_at < left_to_browser,
            models.Attempt.deadline_at < left_to_browser - dt.timedelta(seconds=grace_seconds)),
    ).order_by(models.Attempt.id)))


#: A browser in contact this recently finishes its own timed-out attempt on its next timer poll
#: (every few seconds). The sweeper and the register leave the attempt to it for this long: at a
#: deadline they would otherwise race a room's polls, and every rival marks the attempt (before
#: the write lock) although only one finish counts. A closed browser's attempt is not waited for.
LEFT_TO_THE_BROWSER_SECONDS = 60


def is_unattended(attempt: models.Attempt, now: dt.datetime, grace_seconds: int) -> bool:
    """Expired, and no browser is about to finish it: none in contact for a while, or the browser
    has had its chance (the query in :func:`unattended_time_outs` says the same)."""
    left_to_browser = now - dt.timedelta(seconds=LEFT_TO_THE_BROWSER_SECONDS)
    return is_expired(attempt, now, grace_seconds) and (
        attempt.last_contact_at is None or attempt.last_contact_at < left_to_browser
        or attempt.deadline_at < left_to_browser - dt.timedelta(seconds=grace_seconds))


def _expired(now: dt.datetime, grace_seconds: int) -> tuple:
    """Running, and past the deadline and the grace for saves in flight."""
    cutoff = now - dt.timedelta(seconds=grace_seconds)
    return models.Attempt.state == IN_PROGRESS, models.Attempt.deadline_at < cutoff


def end_sitting(db: Session, sitting: models.Sitting, actor: str, now: dt.datetime, reason: str | None = None) -> int:
    """End the room: every attempt finishes with its latest saves. Returns how many finished."""
    if sitting.state == "ended":
        raise NotAccepted("This sitting has already ended.")
    # The room's attempts with their entries, forms and results in three queries, not several
    # lazy loads per candidate; marking then reads only the settings and versions not yet read,
    # and each kind of row is written in one statement for the room.
    room = db.scalars(select(models.Attempt).join(models.Entry).where(models.Entry.sitting_id == sitting.id)
                      .order_by(models.Entry.id)
                      .options(contains_eager(models.Attempt.entry), selectinload(models.Attempt.form_items),
                               selectinload(models.Attempt.result))).all()
    finished = len(finish_many(db, [(attempt, None) for attempt in room], ENDED, now, actor))
    sitting.state, sitting.ended_at = "ended", now
    record(db, actor, "sitting.end", f"sitting:{sitting.id}", now, reason=reason, detail={"finished": finished})
    return finished


def submit(db: Session, attempt: models.Attempt, now: dt.datetime, prepared: marking.Prepared | None = None) -> None:
    """The candidate hands in (``prepared``: marks worked out before the write, as for :func:`finish`)."""
    if attempt.state not in (IN_PROGRESS,):
        raise NotAccepted(_state_message(attempt))
    finish(db, attempt, SUBMITTED, now, actor=f"candidate:{attempt.entry.candidate_id}", prepared=prepared)


#: Built once, with the ids bound at execution: the register runs it on every poll, and a
#: statement built per call cost its construction and its cache key each time.
_ANSWERED_COUNT = (select(models.FormItem.attempt_id, func.count(), func.count(models.FormItem.current_response),
                          func.count().filter(models.FormItem.flagged.is_(True)))
                   .where(models.FormItem.attempt_id.in_(bindparam("attempt_ids", expanding=True)))
                   .group_by(models.FormItem.attempt_id))


def answered_count(db: Session, attempt_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """attempt id -> (answered, flagged, total) in one query, for the live register."""
    if not attempt_ids:
        return {}
    rows = db.execute(_ANSWERED_COUNT, {"attempt_ids": list(attempt_ids)}).all()
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
