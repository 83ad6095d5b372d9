"""Manual marking: the queue of open responses per sitting, marks and comments, second marking
and moderation, and the release of results.

The rule of which mark counts is :func:`engine.marking.mark_in_force`; this module records marks
and re-marks the attempt, so the result stays "provisional" until every open response has a
mark in force. Markers see scripts by number only ("Script 3"), never the candidate's name or
number, and a second marker does not see the first mark (blind double marking); a moderator sees
both. One person never marks the same response at two stages.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine import audit, marking, models
from engine.attempt_states import FINISHED
from engine.models_marking import ManualMark, ResultRelease
from engine.plugins import item_type

#: Who may release results (an administrator holds every role).
RELEASE_ROLES = ("exams_officer",)
MAX_COMMENT = 2000


class MarkingError(ValueError):
    """A mark or a release that cannot be accepted; the message names the field or the reason."""


@dataclass
class Script:
    """One open response in the queue."""

    number: int
    form_item: models.FormItem
    version: models.ItemVersion
    marks: list[ManualMark]
    in_force: marking.InForce

    @property
    def answered(self) -> bool:
        return self.form_item.answered


def markable_attempts(sitting: models.Sitting) -> list[models.Attempt]:
    """Finished attempts whose marks count: outcome complete (withdrawn and voided attempts keep
    their automatic marks as evidence but are not marked further)."""
    return [e.attempt for e in sorted(sitting.entries, key=lambda e: e.attempt.id if e.attempt else 0)
            if e.attempt is not None and e.attempt.state == FINISHED and e.attempt.outcome == "complete"]


def script_numbers(sitting: models.Sitting) -> dict[int, int]:
    """attempt id -> the anonymous script number markers see (stable: by attempt id)."""
    ids = sorted(e.attempt.id for e in sitting.entries if e.attempt is not None)
    return {attempt_id: number for number, attempt_id in enumerate(ids, start=1)}


def queue(db: Session, sitting: models.Sitting) -> list[Script]:
    """Every answered open response of the sitting, with its marks and what it waits for."""
    settings = marking.settings_for(db, sitting.specification_id)
    numbers = script_numbers(sitting)
    found = []
    for attempt in markable_attempts(sitting):
        for form_item in attempt.form_items:
            version = marking.version_marked(form_item)
            if item_type(version.type_name).auto_marked or not form_item.answered:
                continue
            found.append((numbers[attempt.id], form_item, version))
    by_item = marking.manual_marks(db, [fi.id for _n, fi, _v in found])
    return [Script(number, fi, version, by_item[fi.id],
                   marking.mark_in_force(by_item[fi.id], settings.second_marking, Decimal(settings.tolerance)))
            for number, fi, version in found]


def find_script(db: Session, sitting: models.Sitting, form_item_id: int) -> Script | None:
    return next((s for s in queue(db, sitting) if s.form_item.id == form_item_id), None)


def parse_mark(raw: str, available: Decimal) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except (InvalidOperation, AttributeError):
        raise MarkingError(f"mark: enter a number of marks from 0 to {available.normalize():f}") from None
    if not value.is_finite() or value < 0 or value > available or value != value.quantize(Decimal("0.01")):
        raise MarkingError(f"mark: must be from 0 to {available.normalize():f} (at most two decimal places), "
                           f"not {raw.strip()!r}")
    return value.quantize(Decimal("0.01"))


def record_mark(db: Session, sitting: models.Sitting, script: Script, staff: models.StaffUser,
                raw_mark: str, comment: str, now: dt.datetime) -> ManualMark:
    """Record ``staff``'s mark at the stage the script waits for, then re-mark the attempt."""
    attempt = script.form_item.attempt
    if attempt.result is not None and attempt.result.released_at is not None:
        raise MarkingError("This result has been released; a change now goes through a regrade.")
    stage = script.in_force.waiting_for
    if stage is None:
        raise MarkingError("This response is already marked; nothing waits for a mark.")
    if any(m.staff_id == staff.id for m in script.marks if m.stage != stage):
        raise MarkingError("You have marked this response already: another marker must do this stage.")
    available = Decimal(script.version.marks)
    awarded = parse_mark(raw_mark, available)
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise MarkingError(f"comment: at most {MAX_COMMENT} characters, not {len(comment)}")
    mark = ManualMark(form_item_id=script.form_item.id, stage=stage, staff_id=staff.id, awarded=awarded,
                      comment=comment, marked_at=now, item_version_id=script.version.id)
    db.add(mark)
    db.flush()
    before = attempt.result.total if attempt.result else None
    result = marking.mark_attempt(db, attempt, now)
    audit.record(db, f"staff:{staff.username}", "marking.mark", f"attempt:{attempt.id}", now, detail={
        "form_item": script.form_item.id, "stage": stage, "awarded": str(awarded),
        "total_before": None if before is None else str(before), "total_after": str(result.total),
        "status": result.status})
    return mark


# --- release ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseStatus:
    #: "none" (no result), "provisional", "confirmed" (marked, not released) or "released".
    state: str
    #: The candidate may see a result slip: released, and the specification allows it.
    candidate_may_see: bool


def results_to_candidates(sitting: models.Sitting) -> bool:
    """The specification (or the sitting) releases results to candidates: the
    ``read_only_after_submit`` lock's ``release_results`` setting (docs/locks.md), off by default."""
    from engine import locks
    config = locks.effective_config(sitting.specification, sitting, locks.registry())
    return bool(config.get("read_only_after_submit", {}).get("release_results", False))


def release_status(db: Session, attempt: models.Attempt) -> ReleaseStatus:
    """Where the attempt's result stands, and whether the candidate may see it (released, and
    the specification releases results to candidates)."""
    result = attempt.result
    if result is None:
        return ReleaseStatus("none", False)
    if result.released_at is not None:
        return ReleaseStatus("released", results_to_candidates(attempt.entry.sitting))
    return ReleaseStatus(result.status, False)


def release_problems(sitting: models.Sitting) -> list[str]:
    """Why the sitting's results cannot be released yet (empty: they can)."""
    problems = []
    unfinished = [e for e in sitting.entries if e.attempt is not None and e.attempt.state != FINISHED]
    if unfinished:
        problems.append(f"{len(unfinished)} attempt(s) have not finished.")
    provisional = [e for e in sitting.entries if e.attempt is not None and e.attempt.result is not None
                   and e.attempt.result.status == marking.PROVISIONAL and e.attempt.outcome == "complete"]
    if provisional:
        problems.append(f"{len(provisional)} result(s) are provisional: open responses await a marker or moderator.")
    return problems


def release(db: Session, sitting: models.Sitting, actor: str, now: dt.datetime) -> int:
    """Release every unreleased result of the sitting; refuses while any is provisional."""
    problems = release_problems(sitting)
    if problems:
        raise MarkingError("Results cannot be released yet: " + " ".join(problems))
    released = 0
    for entry in sitting.entries:
        result = entry.attempt.result if entry.attempt is not None else None
        if result is not None and result.released_at is None:
            result.released_at = now
            released += 1
    db.add(ResultRelease(sitting_id=sitting.id, released_at=now, released_by=actor, attempts=released))
    audit.record(db, actor, "results.release", f"sitting:{sitting.id}", now, detail={"released": released})
    return released


def load_for_marking(db: Session, sitting_id: int) -> models.Sitting | None:
    return db.scalar(select(models.Sitting).where(models.Sitting.id == sitting_id).options(
        selectinload(models.Sitting.entries).selectinload(models.Entry.attempt)
        .selectinload(models.Attempt.form_items)))
