"""The incident log: what happened in a sitting, when, and to whom (JCQ style).

Incidents are written by the invigilator (any category, linked to candidates) and by the
system for actions that are incidents in themselves: an emergency or room pause, a move to
another workstation (technical failure), a void (malpractice suspicion). The log exports as
CSV (formula-injection escaped) and prints as part of the sitting report.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine import models
from engine.audit import record

EMERGENCY, ILLNESS, TECHNICAL_FAILURE = "emergency", "illness", "technical_failure"
DISTURBANCE, MALPRACTICE, LATE_ARRIVAL, OTHER = "disturbance", "malpractice_suspicion", "late_arrival", "other"
#: category -> label, in the order the form offers them.
CATEGORIES = {
    EMERGENCY: "Emergency (e.g. fire alarm, evacuation)",
    ILLNESS: "Illness",
    TECHNICAL_FAILURE: "Technical failure",
    DISTURBANCE: "Disturbance",
    MALPRACTICE: "Suspected malpractice",
    LATE_ARRIVAL: "Late arrival",
    OTHER: "Other",
}
MAX_DESCRIPTION = 2000

#: A spreadsheet treats a cell starting with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS = ("incident", "sitting", "category", "happened_at", "ended_at", "candidates", "description",
               "resolution", "recorded_by", "recorded_at")


class IncidentProblem(ValueError):
    """What is wrong with an incident the invigilator entered; names the field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def add(db: Session, sitting: models.Sitting, *, category: str, description: str, actor: str, now: dt.datetime,
        happened_at: dt.datetime | None = None, attempts: Iterable[models.Attempt] = (),
        stops_room: bool = False) -> models.Incident:
    """Record an incident in the caller's transaction, and audit it."""
    description = (description or "").strip()
    if category not in CATEGORIES:
        raise IncidentProblem("category", "Choose the kind of incident.")
    if not description:
        raise IncidentProblem("description", "Describe what happened.")
    if len(description) > MAX_DESCRIPTION:
        raise IncidentProblem("description", f"The description is too long ({len(description)} characters; "
                                             f"at most {MAX_DESCRIPTION}).")
    happened_at = happened_at or now
    if happened_at > now:
        raise IncidentProblem("happened_at", "The time of the incident cannot be in the future.")
    linked = list(attempts)
    if any(a.entry.sitting_id != sitting.id for a in linked):
        raise IncidentProblem("candidates", "Only candidates in this sitting can be linked to its incidents.")
    incident = models.Incident(
        sitting_id=sitting.id, category=category, happened_at=happened_at, recorded_at=now, recorded_by=actor,
        description=description, stops_room=stops_room, attempts=linked,
    )
    db.add(incident)
    db.flush()
    record(db, actor, "incident.add", f"sitting:{sitting.id}", now, reason=description,
           detail={"incident": incident.id, "category": category, "attempts": [a.id for a in linked]})
    return incident


def for_sitting(db: Session, sitting_id: int) -> list[models.Incident]:
    """The sitting's incidents in the order they happened, with their candidates loaded."""
    return list(db.scalars(
        select(models.Incident).where(models.Incident.sitting_id == sitting_id)
        .options(selectinload(models.Incident.attempts).selectinload(models.Attempt.entry)
                 .selectinload(models.Entry.candidate))
        .order_by(models.Incident.happened_at, models.Incident.id)
    ))


def open_room_stop(db: Session, sitting_id: int) -> models.Incident | None:
    """The incident of the room stop in force, if the room is stopped."""
    return db.scalar(select(models.Incident).where(
        models.Incident.sitting_id == sitting_id, models.Incident.stops_room.is_(True),
        models.Incident.ended_at.is_(None)).order_by(models.Incident.id.desc()).limit(1))


def escape_cell(value) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def candidates_text(incident: models.Incident) -> str:
    return "; ".join(f"{a.entry.candidate.candidate_number} {a.entry.candidate.full_name}" for a in incident.attempts)


def to_csv(incidents: list[models.Incident], local: callable) -> str:
    """The log as CSV with stable columns; ``local`` turns a naive-UTC time into ISO local text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for incident in incidents:
        writer.writerow([escape_cell(v) for v in (
            incident.id, incident.sitting_id, incident.category, local(incident.happened_at),
            local(incident.ended_at), candidates_text(incident), incident.description, incident.resolution,
            incident.recorded_by, local(incident.recorded_at),
        )])
    return out.getvalue()
