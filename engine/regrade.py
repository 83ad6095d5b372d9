"""Regrade: re-mark chosen attempts against an item's corrected version.

Correcting a key never edits a version in place: it makes a new item version (the bank loader or
the author form do that). A regrade then points the chosen attempts' form items for that item at
its live version (``FormItem.marked_version_id``; the form itself, what the candidate saw, never
changes) and re-marks them. :func:`preview` shows before and after without writing anything;
:func:`apply` writes the same change with one audit entry per attempt holding the before/after
figures and the reason. Nothing else is touched: other items keep their marks, and an attempt
whose marks would not change is still listed, with "no change".
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.orm import Session

from engine import audit, marking, models


class RegradeError(ValueError):
    """The regrade cannot be done; the message says why."""


@dataclass
class ItemChange:
    position: int
    from_version: int
    to_version: int
    before: Decimal
    after: Decimal


@dataclass
class AttemptChange:
    attempt_id: int
    candidate_number: str
    before_total: Decimal
    after_total: Decimal
    before_outcome: str
    after_outcome: str
    items: list[ItemChange] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.before_total != self.after_total or any(i.before != i.after for i in self.items)

    def as_json(self) -> dict:
        return {"attempt": self.attempt_id, "before_total": _text(self.before_total),
                "after_total": _text(self.after_total), "before_outcome": self.before_outcome,
                "after_outcome": self.after_outcome,
                "items": [{"position": i.position, "from_version": i.from_version, "to_version": i.to_version,
                           "before": _text(i.before), "after": _text(i.after)} for i in self.items]}


def _text(marks: Decimal) -> str:
    """Marks as stored (hundredths), so audit records compare as text."""
    return str(Decimal(marks).quantize(Decimal("0.01")))


def target_version(db: Session, item: models.Item) -> models.ItemVersion:
    """The version a regrade marks against: the item's live (approved) version, so a corrected key
    still waiting for review is not used; the newest version where there is no workflow record."""
    from engine.authoring_workflow import live_versions
    found = live_versions(db, [item])
    return found[0][1] if found else item.latest


def affected(db: Session, sitting: models.Sitting, item: models.Item) -> list[models.Attempt]:
    """Finished attempts of the sitting whose form holds the item, marked against another version."""
    latest = target_version(db, item)
    return [e.attempt for e in sitting.entries
            if e.attempt is not None and e.attempt.result is not None
            and any(fi.item_version.item_id == item.id and marking.version_marked(fi).id != latest.id
                    for fi in e.attempt.form_items)]


def _plan(db: Session, attempt: models.Attempt, item: models.Item) -> tuple[AttemptChange, dict]:
    latest = target_version(db, item)
    versions = {fi.id: latest for fi in attempt.form_items if fi.item_version.item_id == item.id}
    spec = attempt.entry.sitting.specification
    figures = marking.compute(marking.outcomes_of(db, spec.unit_id), marking.rows_for(db, attempt, versions))
    result = attempt.result
    after_label = "Provisional" if figures.provisional else ("Pass" if figures.total >= spec.pass_mark else "Fail")
    change = AttemptChange(attempt.id, attempt.entry.candidate.candidate_number, Decimal(result.total),
                           figures.total, marking.outcome_label(attempt), after_label)
    if attempt.outcome in ("absent", "withdrawn", "voided"):
        change.after_outcome = change.before_outcome
    for form_item, mark in zip(attempt.form_items, figures.marks):
        if form_item.id in versions:
            change.items.append(ItemChange(form_item.position, marking.version_marked(form_item).version,
                                           latest.version, Decimal(form_item.marks_awarded or 0), mark.awarded))
    return change, versions


def _chosen(db: Session, sitting: models.Sitting, item: models.Item,
            attempt_ids: list[int] | None) -> list[models.Attempt]:
    candidates = affected(db, sitting, item)
    if attempt_ids is None:
        return candidates
    by_id = {a.id: a for a in candidates}
    unknown = [i for i in attempt_ids if i not in by_id]
    if unknown:
        raise RegradeError(f"attempts: {', '.join(map(str, unknown))} did not use an older version of {item.key} "
                           "in this sitting")
    return [by_id[i] for i in attempt_ids]


def preview(db: Session, sitting: models.Sitting, item: models.Item,
            attempt_ids: list[int] | None = None) -> list[AttemptChange]:
    """Before and after for each chosen attempt; writes nothing."""
    return [_plan(db, attempt, item)[0] for attempt in _chosen(db, sitting, item, attempt_ids)]


def apply(db: Session, sitting: models.Sitting, item: models.Item, attempt_ids: list[int] | None,
          actor: str, reason: str, now: dt.datetime) -> list[AttemptChange]:
    """Re-mark the chosen attempts against the item's live version, audited (caller's transaction)."""
    reason = (reason or "").strip()
    if not reason:
        raise RegradeError("reason: say why the attempts are regraded (e.g. the key was wrong)")
    changes = []
    for attempt in _chosen(db, sitting, item, attempt_ids):
        change, versions = _plan(db, attempt, item)
        for form_item in attempt.form_items:
            if form_item.id in versions:
                # Both: marking reads the id (engine/marking.py), pages the relationship.
                form_item.marked_version = versions[form_item.id]
                form_item.marked_version_id = versions[form_item.id].id
        marking.mark_attempt(db, attempt, now)
        audit.record(db, actor, "results.regrade", f"attempt:{attempt.id}", now, reason=reason,
                     detail={"item": item.key, **change.as_json()})
        changes.append(change)
    return changes
