"""Scheduling on-demand sittings: a window in the centre's time zone, a room, a register, and
no candidate booked into two sittings at once.

A scheduled sitting is an ordinary sitting opened through ``attempts.open_sitting`` (so every
candidate's form is made now, and a bank that cannot serve the test is refused now), with its
window and room recorded. Windows are stored in UTC and shown in the centre's time zone; a
local time that does not exist or happens twice (the clock change) is refused, not guessed.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import attempts, audit, models, timing
from engine.access_arrangements import Problem
from engine.attempts import NotAccepted

MAX_ROOM = 100


@dataclass(frozen=True)
class Window:
    """A scheduled window, naive UTC."""

    start: dt.datetime
    end: dt.datetime

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        return self.start < end and start < self.end

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def to_local(moment: dt.datetime, timezone: str) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone))


def describe(start: dt.datetime | None, end: dt.datetime | None, timezone: str) -> str:
    """e.g. "Mon 23 Nov 2026, 09:00 to 10:30"; the centre's local time."""
    if start is None or end is None:
        return "not scheduled"
    first, last = to_local(start, timezone), to_local(end, timezone)
    day = first.strftime("%a %d %b %Y")
    if first.date() == last.date():
        return f"{day}, {first:%H:%M} to {last:%H:%M}"
    return f"{day} {first:%H:%M} to {last.strftime('%a %d %b %Y')} {last:%H:%M}"


def _local_to_utc(day: dt.date, time: dt.time, zone: ZoneInfo, field: str) -> tuple[dt.datetime | None, Problem | None]:
    naive = dt.datetime.combine(day, time)
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    as_utc = first.astimezone(dt.UTC)
    if as_utc.astimezone(zone).replace(tzinfo=None) != naive:
        return None, Problem(field, f"{time:%H:%M} on {day.isoformat()} does not exist in {zone.key} "
                                    "(the clocks go forward): choose another time.")
    if first.utcoffset() != second.utcoffset():
        return None, Problem(field, f"{time:%H:%M} on {day.isoformat()} happens twice in {zone.key} "
                                    "(the clocks go back): choose another time.")
    return as_utc.replace(tzinfo=None), None


def parse_window(date_text: str, start_text: str, end_text: str, timezone: str) -> tuple[Window | None, list[Problem]]:
    """A window from the form's local date and times ("2026-11-23", "09:00", "10:30")."""
    problems: list[Problem] = []
    day = start = end = None
    try:
        day = dt.date.fromisoformat(date_text.strip())
    except ValueError:
        problems.append(Problem("date", f"{date_text!r} is not a date written as YYYY-MM-DD."))
    for field, text in (("start_time", start_text), ("end_time", end_text)):
        try:
            value = dt.time.fromisoformat(text.strip())
        except ValueError:
            problems.append(Problem(field, f"{text!r} is not a time written as HH:MM, e.g. 09:30."))
            continue
        if field == "start_time":
            start = value
        else:
            end = value
    if problems:
        return None, problems
    zone = ZoneInfo(timezone)
    start_utc, problem = _local_to_utc(day, start, zone, "start_time")
    problems += [problem] if problem else []
    end_utc, problem = _local_to_utc(day, end, zone, "end_time")
    problems += [problem] if problem else []
    if problems:
        return None, problems
    if end_utc <= start_utc:
        return None, [Problem("end_time", f"the window must end after it starts ({start:%H:%M}).")]
    return Window(start_utc, end_utc), []


def clashes(db: Session, candidate_ids: list[int], window: Window,
            exclude_sitting_id: int | None = None) -> list[tuple[models.Candidate, models.Sitting]]:
    """Each (candidate, sitting) where the candidate is already in a sitting, not yet ended, whose
    scheduled window overlaps ``window``."""
    query = (
        select(models.Candidate, models.Sitting)
        .join(models.Entry, models.Entry.candidate_id == models.Candidate.id)
        .join(models.Sitting, models.Entry.sitting_id == models.Sitting.id)
        .where(models.Candidate.id.in_(candidate_ids), models.Sitting.state != "ended",
               models.Sitting.scheduled_start < window.end, models.Sitting.scheduled_end > window.start)
        .order_by(models.Candidate.candidate_number, models.Sitting.scheduled_start)
    )
    if exclude_sitting_id is not None:
        query = query.where(models.Sitting.id != exclude_sitting_id)
    return [(candidate, sitting) for candidate, sitting in db.execute(query).all()]


def schedule_sitting(db: Session, *, centre: models.Centre, specification: models.TestSpecification,
                     candidate_ids: list[int], window: Window, room: str, title: str, actor: str,
                     staff_id: int | None, now: dt.datetime) -> models.Sitting:
    """Check the booking and open the sitting, in the caller's write transaction.

    :raises NotAccepted: with a message for the exams officer (a clash names both sittings).
    """
    room = " ".join(room.split())
    if not room:
        raise NotAccepted("Enter the room the sitting is in.")
    if len(room) > MAX_ROOM:
        raise NotAccepted(f"The room's name is too long (at most {MAX_ROOM} characters).")
    if not candidate_ids:
        raise NotAccepted("Enter at least one candidate for the sitting.")
    if window.end <= now:
        raise NotAccepted("That window is already over: choose a date and time from now on.")
    # Locked, so two officers booking the same candidate at once cannot both pass the clash check.
    candidates = db.scalars(select(models.Candidate).where(
        models.Candidate.id.in_(candidate_ids), models.Candidate.centre_id == centre.id)
        .order_by(models.Candidate.candidate_number).with_for_update()).all()
    if len(candidates) != len(set(candidate_ids)):
        raise NotAccepted("Some of the chosen candidates are not at this centre; reload the page and choose again.")
    title = " ".join(title.split()) or specification.title
    here = describe(window.start, window.end, centre.timezone)
    for candidate in candidates:
        needed = timing.allowed_seconds(specification.duration_minutes, candidate.extra_time_percent)
        if needed > window.seconds:
            raise NotAccepted(
                f"The window ({here}) is {window.seconds // 60} minutes, shorter than the "
                f"{-(-needed // 60)} minutes {candidate.candidate_number} {candidate.full_name} needs for "
                f"{specification.title}" + (f" with {candidate.extra_time_percent}% extra time." if candidate.extra_time_percent else "."))
    found = clashes(db, [c.id for c in candidates], window)
    if found:
        lines = [f"{candidate.candidate_number} {candidate.full_name} is already in sitting {sitting.id} "
                 f"\u201c{sitting.title}\u201d ({describe(sitting.scheduled_start, sitting.scheduled_end, centre.timezone)}"
                 f"{', ' + sitting.room if sitting.room else ''})"
                 for candidate, sitting in found]
        raise NotAccepted(f"Clash: the new sitting \u201c{title}\u201d ({here}, {room}) overlaps: "
                          + "; ".join(lines) + ". Choose another time or take them off one register.")
    sitting = attempts.open_sitting(db, centre=centre, specification=specification, candidates=list(candidates),
                                    title=title, actor=actor, staff_id=staff_id, now=now)
    sitting.scheduled_start, sitting.scheduled_end, sitting.room = window.start, window.end, room
    audit.record(db, actor, "sitting.schedule", f"sitting:{sitting.id}", now, detail={
        "window_utc": [window.start.isoformat(), window.end.isoformat()], "room": room,
        "candidates": [c.candidate_number for c in candidates]})
    return sitting
