"""Marking: every response through its item type's pure ``mark``; a result per attempt.

Idempotent: marking an attempt again recomputes the same marks from the same answers.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session

from engine import models
from engine.plugins import item_type


def mark_attempt(db: Session, attempt: models.Attempt, now: dt.datetime) -> models.Result:
    spec = attempt.entry.sitting.specification
    by_outcome: dict[str, dict] = {
        lo.number: {"number": lo.number, "title": lo.title, "awarded": Decimal(0), "available": Decimal(0)}
        for lo in spec.unit.learning_outcomes
    }
    total = available = Decimal(0)
    for form_item in attempt.form_items:
        version = form_item.item_version
        mark = item_type(version.type_name).mark(version.definition, form_item.current_response)
        form_item.marks_awarded, form_item.marks_available = mark.awarded, mark.available
        total += mark.awarded
        available += mark.available
        outcome = by_outcome[version.criterion.learning_outcome.number]
        outcome["awarded"] += mark.awarded
        outcome["available"] += mark.available
    result = attempt.result or models.Result(attempt_id=attempt.id)
    result.total, result.available, result.pass_mark = total, available, spec.pass_mark
    result.passed = total >= spec.pass_mark
    result.by_outcome = [
        {**o, "awarded": str(o["awarded"]), "available": str(o["available"])} for o in by_outcome.values()
    ]
    result.marked_at = now
    if attempt.result is None:
        db.add(result)
        attempt.result = result
    return result
