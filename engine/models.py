"""The data model, in typed SQLAlchemy 2.

History that matters is append-only: item versions, response events, time events and audit
events are added, never changed. The "current answer" on a form item and the deadline on an
attempt are caches, updated in the same transaction as the event that changes them.
Times are naive UTC throughout.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

MARKS = Numeric(7, 2)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class ImmutableRowError(RuntimeError):
    """Raised when code tries to change or delete a row that history depends on."""


# --- centres and people -------------------------------------------------------------------


class Centre(Base):
    __tablename__ = "centres"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    #: The centre's networks as CIDR strings (e.g. "10.20.0.0/16"); empty means not recorded.
    network_ranges: Mapped[list[Any]] = mapped_column(default=list)
    #: Made by ``onscreen loadtest prepare``: its scripted answers are not evidence about items
    #: (item statistics and measured difficulty leave them out).
    load_test: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class StaffUser(Base):
    __tablename__ = "staff_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("centres.id"))
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    #: Comma-separated subset of ``ROLES``.
    roles: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    centre: Mapped[Centre | None] = relationship()

    ROLES = ("invigilator", "item_writer", "reviewer", "admin", "exams_officer", "marker")

    @property
    def role_set(self) -> set[str]:
        return {r for r in self.roles.split(",") if r}

    def has_role(self, *roles: str) -> bool:
        mine = self.role_set
        return "admin" in mine or any(r in mine for r in roles)


class Candidate(Base):
    __tablename__ = "candidates"
    __table_args__ = (UniqueConstraint("centre_id", "candidate_number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    candidate_number: Mapped[str] = mapped_column(String(16))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    uln: Mapped[str | None] = mapped_column(String(10))
    uci: Mapped[str | None] = mapped_column(String(13))
    #: Access arrangements, e.g. {"extra_time_percent": 25, "rest_breaks": true}.
    access_arrangements: Mapped[dict[str, Any]] = mapped_column(default=dict)

    centre: Mapped[Centre] = relationship()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def extra_time_percent(self) -> int:
        return int(self.access_arrangements.get("extra_time_percent", 0) or 0)

    date_of_birth: Mapped[dt.date | None] = mapped_column(default=None)


# --- units and items -------------------------------------------------------------------------


class Unit(Base):
    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    urn: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    level: Mapped[int] = mapped_column(Integer)

    learning_outcomes: Mapped[list[LearningOutcome]] = relationship(
        back_populates="unit", order_by="LearningOutcome.position"
    )


class LearningOutcome(Base):
    __tablename__ = "learning_outcomes"
    __table_args__ = (UniqueConstraint("unit_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    number: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)

    unit: Mapped[Unit] = relationship(back_populates="learning_outcomes")
    criteria: Mapped[list[AssessmentCriterion]] = relationship(
        back_populates="learning_outcome", order_by="AssessmentCriterion.position"
    )


class AssessmentCriterion(Base):
    __tablename__ = "assessment_criteria"
    __table_args__ = (UniqueConstraint("learning_outcome_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    learning_outcome_id: Mapped[int] = mapped_column(ForeignKey("learning_outcomes.id"))
    number: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    #: The unit amplification as structured topics: [{"id", "heading", "text"}].
    amplification: Mapped[list[Any]] = mapped_column(default=list)

    learning_outcome: Mapped[LearningOutcome] = relationship(back_populates="criteria")


class Item(Base):
    """An item's identity in its bank; its content lives in immutable versions."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("unit_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    #: The item's id in the bank files, stable across versions (e.g. "u2-1.1-01").
    key: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default="live")

    versions: Mapped[list[ItemVersion]] = relationship(back_populates="item", order_by="ItemVersion.version")

    @property
    def latest(self) -> ItemVersion:
        return self.versions[-1]


class ItemVersion(Base):
    """One immutable version of an item: what a form points at, so a sitting never changes."""

    __tablename__ = "item_versions"
    __table_args__ = (UniqueConstraint("item_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    version: Mapped[int] = mapped_column(Integer)
    type_name: Mapped[str] = mapped_column(String(64))
    marks: Mapped[Decimal] = mapped_column(MARKS)
    criterion_id: Mapped[int] = mapped_column(ForeignKey("assessment_criteria.id"))
    topics: Mapped[list[Any]] = mapped_column(default=list)
    difficulty: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    enemies: Mapped[list[Any]] = mapped_column(default=list)
    #: The item type's own definition (stem, options, key, scoring rules).
    definition: Mapped[dict[str, Any]] = mapped_column()
    content_hash: Mapped[str] = mapped_column(String(64))
    #: Where the version came from and who reviewed it, e.g. {"file": ..., "reviewed_by": ...}.
    provenance: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)

    item: Mapped[Item] = relationship(back_populates="versions")
    criterion: Mapped[AssessmentCriterion] = relationship()


class TestSpecification(Base):
    __tablename__ = "test_specifications"
    __test__ = False  # not a pytest class
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    title: Mapped[str] = mapped_column(String(300))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    total_marks: Mapped[Decimal] = mapped_column(MARKS)
    #: A centre / awarding-body setting, never an official figure from the specification.
    pass_mark: Mapped[Decimal] = mapped_column(MARKS)
    #: The blueprint's rules, as in test.yaml (engine/blueprint.py), e.g. {"every_learning_outcome": true}.
    rules: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Exam-condition locks (issue 7), as in test.yaml: lock name -> settings (engine/locks.py).
    locks: Mapped[dict[str, Any]] = mapped_column(default=dict)

    unit: Mapped[Unit] = relationship()


# --- sittings and attempts -----------------------------------------------------------------


class Sitting(Base):
    __tablename__ = "sittings"
    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    specification_id: Mapped[int] = mapped_column(ForeignKey("test_specifications.id"))
    title: Mapped[str] = mapped_column(String(300))
    keycode: Mapped[str] = mapped_column(String(16))
    #: open -> started -> ended
    state: Mapped[str] = mapped_column(String(16), default="open")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    centre: Mapped[Centre] = relationship()
    specification: Mapped[TestSpecification] = relationship()
    entries: Mapped[list[Entry]] = relationship(back_populates="sitting", order_by="Entry.id")

    #: The scheduled window (naive UTC; shown in the centre's time zone) and room, when an exams
    #: officer scheduled the sitting; NULL for a sitting opened on the spot.
    scheduled_start: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None, index=True)
    scheduled_end: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    room: Mapped[str | None] = mapped_column(String(100), default=None)

    # Invigilation (issue 6).
    #: False once the invigilator revokes the keycode: nobody signs in until a new one is issued.
    keycode_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: When the whole room was stopped (an emergency or a room pause); NULL while it runs.
    stopped_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    #: Locks (issue 7) for this sitting, replacing the specification's per lock; NULL: as specified.
    locks: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)


class Entry(Base):
    """A candidate entered for a sitting."""

    __tablename__ = "entries"
    __table_args__ = (UniqueConstraint("sitting_id", "candidate_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sittings.id"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"))

    sitting: Mapped[Sitting] = relationship(back_populates="entries")
    candidate: Mapped[Candidate] = relationship()
    attempt: Mapped[Attempt | None] = relationship(back_populates="entry", uselist=False)


class Attempt(Base):
    """One candidate's test in a sitting; its states are governed by ``engine.attempt_states``."""

    __tablename__ = "attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="ready")
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    #: The time allowed, arrangements included, fixed when the form is made.
    allowed_seconds: Mapped[int] = mapped_column(Integer)
    assembly_seed: Mapped[int] = mapped_column(Integer)
    #: Cache of the time ledger: when time runs out while running; NULL when not running.
    deadline_at: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_contact_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: Bumped on every sign-in, so an older browser session of the same attempt is cut off.
    session_generation: Mapped[int] = mapped_column(Integer, default=0)
    #: The sequence number of the last acknowledged save (the next save gets one more).
    last_seq: Mapped[int] = mapped_column(Integer, default=0)

    entry: Mapped[Entry] = relationship(back_populates="attempt")
    form_items: Mapped[list[FormItem]] = relationship(back_populates="attempt", order_by="FormItem.position")
    result: Mapped[Result | None] = relationship(back_populates="attempt", uselist=False)

    # Invigilation (issue 6).
    #: What a finished attempt counts as: complete, absent, withdrawn or voided (see
    #: ``engine.attempt_states``); NULL until it finishes.
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    #: The candidate asked for a supervised rest break and is waiting for the invigilator.
    break_requested_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    #: The candidate chose to hide the timer; kept on the attempt so a new workstation remembers it.
    timer_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Exam-condition locks (issue 7): when a lock locked the attempt, until the invigilator
    #: unlocks it; a cache of the open ``Lockout`` rows, kept in the same transaction.
    locked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)


class FormItem(Base):
    """One item of an attempt's frozen form, with the cache of its current answer."""

    __tablename__ = "form_items"
    __table_args__ = (UniqueConstraint("attempt_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"))
    position: Mapped[int] = mapped_column(Integer)
    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"))
    #: The item type's start state (e.g. option order), made once and never remade.
    start_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    current_response: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
    current_seq: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    marks_awarded: Mapped[Decimal | None] = mapped_column(MARKS)
    marks_available: Mapped[Decimal | None] = mapped_column(MARKS)
    # Marking (issue 8).
    #: The item version the marks came from: the form's own, or a corrected one after a regrade.
    marked_version_id: Mapped[int | None] = mapped_column(ForeignKey("item_versions.id"), default=None)
    #: The item type's outcome: correct, partial, incorrect, blank or needs_marking (or "marked").
    mark_outcome: Mapped[str | None] = mapped_column(String(16), default=None)

    attempt: Mapped[Attempt] = relationship(back_populates="form_items")
    item_version: Mapped[ItemVersion] = relationship(foreign_keys=[item_version_id])
    marked_version: Mapped[ItemVersion | None] = relationship(foreign_keys=[marked_version_id])

    @property
    def answered(self) -> bool:
        return self.current_response not in (None, "", [], {})


class ResponseEvent(Base):
    """An acknowledged save: append-only; the idempotency key makes a retry harmless."""

    __tablename__ = "response_events"
    __table_args__ = (
        UniqueConstraint("attempt_id", "idempotency_key"),
        UniqueConstraint("attempt_id", "seq"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"))
    position: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    response: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime)
    #: True when the save arrived after the deadline but within the grace for saves in flight.
    late: Mapped[bool] = mapped_column(Boolean, default=False)


class TimeEvent(Base):
    """An entry in an attempt's time ledger; the kinds are in ``engine.timing.KINDS``."""

    __tablename__ = "time_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    #: Seconds added by an "extend" or "credit" event.
    seconds: Mapped[int] = mapped_column(Integer, default=0)
    actor: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(Text)


class Result(Base):
    __tablename__ = "results"
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), primary_key=True)
    total: Mapped[Decimal] = mapped_column(MARKS)
    available: Mapped[Decimal] = mapped_column(MARKS)
    pass_mark: Mapped[Decimal] = mapped_column(MARKS)
    passed: Mapped[bool] = mapped_column(Boolean)
    #: [{"number", "title", "awarded", "available"}] per learning outcome.
    by_outcome: Mapped[list[Any]] = mapped_column(default=list)
    marked_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # Marking (issue 8).
    #: [{"number", "title", "outcome", "awarded", "available"}] per assessment criterion.
    by_criterion: Mapped[list[Any]] = mapped_column(default=list)
    #: "provisional" while an open response awaits a marker or a moderator, then "confirmed".
    status: Mapped[str] = mapped_column(String(16), default="confirmed", server_default="confirmed")
    #: When the result was released (``engine.marking_queue.release``); NULL until then.
    released_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)

    attempt: Mapped[Attempt] = relationship(back_populates="result")


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SignInFailure(Base):
    """A failed sign-in, counted per address and per claimed identity to stop guessing."""

    __tablename__ = "sign_in_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


APPEND_ONLY = (ItemVersion, ResponseEvent, TimeEvent, AuditEvent)


def _refuse_change(_mapper, _connection, target):
    raise ImmutableRowError(f"{type(target).__name__} rows are append-only; add a new one instead")


for _model in APPEND_ONLY:
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)


# --- invigilation: the incident log (issue 6) ----------------------------------------------


class Incident(Base):
    """An entry in a sitting's incident log (JCQ style): what happened, when, to whom.

    Categories are in ``engine.incidents.CATEGORIES``. A room stop (an emergency or a room
    pause) is an incident with ``stops_room`` set, and ``ended_at`` when the room resumed.
    """

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sittings.id"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    happened_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime)
    recorded_by: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    #: What was done about it (e.g. added when the room resumes after an emergency).
    resolution: Mapped[str | None] = mapped_column(Text, default=None)
    stops_room: Mapped[bool] = mapped_column(Boolean, default=False)

    sitting: Mapped[Sitting] = relationship()
    attempts: Mapped[list[Attempt]] = relationship(secondary="incident_attempts", order_by="Attempt.id")


class IncidentAttempt(Base):
    """Links an incident to the candidates (attempts) it concerns."""

    __tablename__ = "incident_attempts"
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), primary_key=True, index=True)


# Models of later capabilities live in their own modules; importing them here puts every
# table in one metadata (migrations, tests and create_all see the whole schema).
from engine import models_authoring, models_locks, models_marking, models_staff  # noqa: E402,F401
