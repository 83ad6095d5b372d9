"""Marking: every response through its item type's pure ``mark``; a result per attempt.

The one place the marking rule lives:

* an auto-marked item is marked by its type, with the item version the marks are stored against
  (the form's own, or the corrected version a regrade chose: ``FormItem.marked_version_id``);
* an open response (a type with ``auto_marked = False``) counts the marker's mark in force
  (:func:`mark_in_force`); until there is one the result is **provisional**;
* the result is the sum of the item marks, broken down per learning outcome and per assessment
  criterion, with pass/fail against the specification's configured pass mark.

Idempotent and order-independent: marking an attempt again recomputes the same marks from the
same answers, whatever the order of its items (Decimal sums, breakdowns in the unit's order).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import bindparam, insert, inspect, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key
from sqlalchemy.orm.attributes import set_committed_value

from engine import item_versions, models
from engine.item_types import Mark, clamp
from engine.models_marking import ManualMark, MarkingSettings
from engine.plugins import item_type

PROVISIONAL, CONFIRMED = "provisional", "confirmed"
FIRST, SECOND, MODERATION = "first", "second", "moderation"
STAGES = (FIRST, SECOND, MODERATION)


# --- the marker's mark in force -----------------------------------------------------------------


@dataclass(frozen=True)
class InForce:
    #: The mark that counts, or None while a marker or moderator still has to act.
    awarded: Decimal | None
    #: The stage still to be done (first, second or moderation), or None.
    waiting_for: str | None


def settings_for(db: Session, specification_id: int) -> MarkingSettings:
    """The specification's marking settings (the defaults when none are stored)."""
    found = db.get(MarkingSettings, specification_id)
    return found or MarkingSettings(specification_id=specification_id, second_marking=False, tolerance=Decimal(0))


def mark_in_force(marks: Iterable[Any], second_marking: bool, tolerance: Decimal) -> InForce:
    """Which manual mark counts. ``marks`` are a form item's marks in the order given (the latest
    of a stage replaces earlier ones). A moderator's mark always decides; without second marking
    the first mark stands; with it, two marks within ``tolerance`` agree and the first stands,
    further apart they wait for a moderator."""
    latest: dict[str, Decimal] = {}
    for mark in marks:
        latest[mark.stage] = Decimal(mark.awarded)
    if MODERATION in latest:
        return InForce(latest[MODERATION], None)
    if FIRST not in latest:
        return InForce(None, FIRST)
    if not second_marking:
        return InForce(latest[FIRST], None)
    if SECOND not in latest:
        return InForce(None, SECOND)
    if abs(latest[FIRST] - latest[SECOND]) <= tolerance:
        return InForce(latest[FIRST], None)
    return InForce(None, MODERATION)


# --- one item, and the sum ----------------------------------------------------------------------


@dataclass(frozen=True)
class ItemRow:
    """One form item as marking sees it."""

    type_name: str
    definition: dict
    outcome: str
    criterion: str
    response: Any
    #: The manual mark in force (open responses only).
    manual: InForce | None = None


def mark_item(row: ItemRow) -> Mark:
    plugin = item_type(row.type_name)
    mark = plugin.mark(row.definition, row.response)
    if plugin.auto_marked or mark.outcome == "blank" or row.manual is None or row.manual.awarded is None:
        return mark
    awarded = clamp(row.manual.awarded, mark.available)
    outcome = "correct" if awarded == mark.available else "incorrect" if awarded == 0 else "partial"
    return Mark(awarded, mark.available, outcome)


@dataclass
class Figures:
    total: Decimal
    available: Decimal
    by_outcome: list[dict]
    by_criterion: list[dict]
    provisional: bool
    marks: list[Mark]


def compute(outcomes: list[tuple[str, str, list[tuple[str, str]]]], rows: list[ItemRow]) -> Figures:
    """The result of ``rows``. ``outcomes`` is the unit's order: (LO number, title, [(AC number,
    title)]); breakdowns follow it, so the order of ``rows`` changes nothing."""
    lo = {n: {"number": n, "title": t, "awarded": Decimal(0), "available": Decimal(0)} for n, t, _ in outcomes}
    ac = {c: {"number": c, "outcome": n, "title": t, "awarded": Decimal(0), "available": Decimal(0)}
          for n, _t, criteria in outcomes for c, t in criteria}
    marks, provisional = [], False
    for row in rows:
        mark = mark_item(row)
        marks.append(mark)
        provisional |= mark.outcome == "needs_marking"
        for bucket in (lo[row.outcome], ac[row.criterion]):
            bucket["awarded"] += mark.awarded
            bucket["available"] += mark.available
    total = sum((m.awarded for m in marks), Decimal(0))
    available = sum((m.available for m in marks), Decimal(0))
    return Figures(total, available, list(lo.values()), [c for c in ac.values() if c["available"] > 0],
                   provisional, marks)


def _as_text(buckets: list[dict]) -> list[dict]:
    return [{**b, "awarded": str(b["awarded"]), "available": str(b["available"])} for b in buckets]


def unit_outcomes(unit: models.Unit) -> list[tuple[str, str, list[tuple[str, str]]]]:
    return [(lo.number, lo.title, [(c.number, c.title) for c in lo.criteria]) for lo in unit.learning_outcomes]


_lo, _ac = models.LearningOutcome.__table__, models.AssessmentCriterion.__table__
#: Built once (its cache key is remembered). Rows, not ORM objects: a unit's outcomes and
#: criteria as objects were a fifth of marking's CPU under load (docs/performance.md).
_OUTCOMES = (select(_lo.c.number, _lo.c.title, _ac.c.number.label("criterion"), _ac.c.title.label("criterion_title"))
             .select_from(_lo.outerjoin(_ac, _ac.c.learning_outcome_id == _lo.c.id))
             .where(_lo.c.unit_id == bindparam("unit_id"))
             .order_by(_lo.c.position, _lo.c.id, _ac.c.position, _ac.c.id))


def outcomes_of(db: Session, unit_id: int) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """The unit's outcomes in its order, as :func:`compute` takes them, in one statement. Read
    each time rather than cached: a bank reload may retitle them, from another process."""
    outcomes: dict[str, tuple[str, str, list[tuple[str, str]]]] = {}
    for row in db.execute(_OUTCOMES, {"unit_id": unit_id}):
        criteria = outcomes.setdefault(row.number, (row.number, row.title, []))[2]
        if row.criterion is not None:
            criteria.append((row.criterion, row.criterion_title))
    return list(outcomes.values())


# --- an attempt ---------------------------------------------------------------------------------


def manual_marks(db: Session, form_item_ids: list[int]) -> dict[int, list[ManualMark]]:
    found: dict[int, list[ManualMark]] = {i: [] for i in form_item_ids}
    if form_item_ids:
        for mark in db.scalars(select(ManualMark).where(ManualMark.form_item_id.in_(form_item_ids))
                               .order_by(ManualMark.id)):
            found[mark.form_item_id].append(mark)
    return found


def version_marked(form_item: models.FormItem) -> models.ItemVersion:
    """The item version the form item's marks come from."""
    return form_item.marked_version or form_item.item_version


def marked_version_id(form_item: models.FormItem) -> int:
    """:func:`version_marked`'s id, without loading the version (a regrade sets the id too)."""
    return form_item.marked_version_id or form_item.item_version_id


_FI = models.FormItem
#: Built once. What marking reads of a form, as rows: its thirty form items as ORM objects were
#: a third of a time-out finish's CPU, and at a deadline a whole room finishes at once
#: (docs/performance.md, session 16). ORM columns, not the table's: the session flushes first,
#: so a change not yet written (a regrade's choice of version) is what is marked.
_MARKING_CELLS = (select(_FI.id, _FI.item_version_id, _FI.marked_version_id, _FI.current_response)
                  .where(_FI.attempt_id == bindparam("attempt_id")).order_by(_FI.position))


def marking_cells(db: Session, attempt_id: int) -> tuple:
    """The attempt's form items in position order, as rows with what marking reads of them
    (``id``, ``item_version_id``, ``marked_version_id``, ``current_response``), in one statement."""
    return tuple(db.execute(_MARKING_CELLS, {"attempt_id": attempt_id}))


_MARKING_CELLS_MANY = (select(_FI.attempt_id, _FI.id, _FI.item_version_id, _FI.marked_version_id, _FI.current_response)
                       .where(_FI.attempt_id.in_(bindparam("attempt_ids", expanding=True)))
                       .order_by(_FI.attempt_id, _FI.position))


def marking_cells_many(db: Session, attempt_ids: list[int]) -> dict[int, tuple]:
    """:func:`marking_cells` of several attempts (attempt id -> its cells), in one statement: a
    room's time-outs are marked together (engine/time_outs.py)."""
    cells: dict[int, list] = {attempt_id: [] for attempt_id in attempt_ids}
    for row in db.execute(_MARKING_CELLS_MANY, {"attempt_ids": list(attempt_ids)}):
        cells[row.attempt_id].append(row)
    return {attempt_id: tuple(rows) for attempt_id, rows in cells.items()}


def rows_for(db: Session, attempt: models.Attempt, versions: dict[int, models.ItemVersion] | None = None,
             form_items=None) -> list[ItemRow]:
    """The attempt's items as marking sees them; ``versions`` (form item id -> version) marks some
    items against other versions without changing anything (a regrade's preview). ``form_items``:
    the attempt's form items already read (ORM objects or :func:`marking_cells`), in position order.

    The versions come from the app's cache of them (engine/item_versions.py: one statement for
    those it lacks), not as ORM rows with their criteria and outcomes."""
    chosen = {form_item_id: item_versions.view_of(version) for form_item_id, version in (versions or {}).items()}
    form_items = attempt.form_items if form_items is None else form_items
    cached = item_versions.get_many(db, [marked_version_id(fi) for fi in form_items if fi.id not in chosen])

    def version_of(form_item):
        return chosen.get(form_item.id) or cached[marked_version_id(form_item)]
    open_items = [fi.id for fi in form_items if not item_type(version_of(fi).type_name).auto_marked]
    by_item = manual_marks(db, open_items)
    # Only items marked by hand have marks to weigh: an automatically marked form reads no settings.
    settings = settings_for(db, attempt.entry.sitting.specification_id) if by_item else None
    rows = []
    for form_item in form_items:
        version = version_of(form_item)
        manual = None
        if form_item.id in by_item:
            manual = mark_in_force(by_item[form_item.id], settings.second_marking, Decimal(settings.tolerance))
        rows.append(ItemRow(version.type_name, version.definition, version.outcome_number,
                            version.criterion_number, form_item.current_response, manual))
    return rows


@dataclass(frozen=True)
class Prepared:
    """An attempt's marks worked out before its write transaction, and what they came from."""

    #: The attempt's save counter when the answers were read: every save raises it.
    last_seq: int
    figures: Figures
    #: The form items marked (:func:`marking_cells`), in the order of ``figures.marks``.
    form_items: tuple


def prepare(db: Session, attempt: models.Attempt,
            outcomes: list[tuple[str, str, list[tuple[str, str]]]] | None = None,
            form_items: tuple | None = None) -> Prepared:
    """Mark the attempt without writing anything, for :func:`mark_attempt` to store later.

    A time-out finish marks answers that can no longer change (saves are refused once the
    deadline and the grace have passed), so the reading and the marking, most of a finish's
    work, can be done before the write lock instead of inside it, where on SQLite every other
    writer of the centre waits (docs/performance.md). ``outcomes`` (the unit's) and ``form_items``
    (:func:`marking_cells`): read already, for a room's attempts together."""
    if form_items is None:
        form_items = marking_cells(db, attempt.id)
    if outcomes is None:
        outcomes = outcomes_of(db, attempt.entry.sitting.specification.unit_id)
    figures = compute(outcomes, rows_for(db, attempt, form_items=form_items))
    return Prepared(attempt.last_seq, figures, form_items)


_fi = models.FormItem.__table__
#: Built once. Every form item's marks in one executemany: through the unit of work, thirty
#: dirty objects cost about 2 ms of CPU inside the write lock, where at a deadline every other
#: finishing poll of the centre waits (docs/performance.md, session 10).
_STORE_ITEM_MARKS = (update(_fi).where(_fi.c.id == bindparam("form_item_id"))
                     .values(marks_awarded=bindparam("awarded"), marks_available=bindparam("available"),
                             mark_outcome=bindparam("outcome"), marked_version_id=bindparam("version_id")))
_MARK_COLUMNS = ("marks_awarded", "marks_available", "mark_outcome", "marked_version_id")


def _item_mark_rows(form_items: tuple, marks: list[Mark]) -> list[dict]:
    """The rows :func:`_store_item_marks` writes: ``form_items`` (rows or objects with ``id`` and
    the versions) in the order of ``marks``."""
    return [{"form_item_id": fi.id, "awarded": mark.awarded, "available": mark.available, "outcome": mark.outcome,
             "version_id": marked_version_id(fi)} for fi, mark in zip(form_items, marks, strict=True)]


def _store_item_marks(db: Session, rows: list[dict]) -> None:
    """Write each form item's mark (in the caller's transaction) and set any of them the session
    has loaded to the same values, as committed, so it neither reads them again nor writes them
    twice."""
    if not rows:
        return
    db.connection().execute(_STORE_ITEM_MARKS, rows)
    for row in rows:
        loaded = db.identity_map.get(identity_key(models.FormItem, row["form_item_id"]))
        if loaded is None:
            continue
        for column, value in zip(_MARK_COLUMNS, (row["awarded"], row["available"], row["outcome"], row["version_id"])):
            set_committed_value(loaded, column, value)


_r = models.Result.__table__
#: Built once. Which of some attempts have a result, as rows: the relationship's lazy load cost
#: three times as much, inside the write lock of every finish (docs/performance.md, session 16).
_RESULT_IDS = select(_r.c.attempt_id).where(_r.c.attempt_id.in_(bindparam("attempt_ids", expanding=True)))
_INSERT_RESULT = insert(_r)


def _results_of(db: Session, attempts: list[models.Attempt]) -> dict[int, models.Result]:
    """The results these attempts already have. A first finish (nearly every one) has none, and
    one statement for them all says so; an attempt whose result is loaded answers itself."""
    unloaded = [attempt.id for attempt in attempts if "result" in inspect(attempt).unloaded]
    having = set(db.scalars(_RESULT_IDS, {"attempt_ids": unloaded})) if unloaded else set()
    return {attempt.id: attempt.result for attempt in attempts
            if ("result" not in inspect(attempt).unloaded or attempt.id in having) and attempt.result is not None}


def mark_attempt(db: Session, attempt: models.Attempt, now: dt.datetime,
                 prepared: Prepared | None = None) -> models.Result:
    """Mark every form item and write the attempt's result (in the caller's transaction).

    ``prepared`` (from :func:`prepare`) is used when no save has landed since it was made; the
    attempt must have been read afresh in this transaction for that check to mean anything."""
    return mark_attempts(db, [(attempt, prepared)], now)[0]


def mark_attempts(db: Session, marking: list[tuple[models.Attempt, Prepared | None]],
                  now: dt.datetime) -> list[models.Result]:
    """:func:`mark_attempt` for several attempts, each kind of row written in one statement for
    them all (a room's time-outs finish together: engine/time_outs.py). Returns their results,
    in order."""
    with db.no_autoflush:  # what is pending is flushed once, at the commit
        existing = _results_of(db, [attempt for attempt, _ in marking])
    mark_rows, new_results, results = [], [], []
    for attempt, prepared in marking:
        spec = attempt.entry.sitting.specification
        if prepared is not None and prepared.last_seq == attempt.last_seq:
            # No save since: the answers marked are the ones stored.
            figures, form_items = prepared.figures, prepared.form_items
        else:
            # Not prepared, or a save landed in between: read the answers as they are now.
            form_items = marking_cells(db, attempt.id)
            figures = compute(outcomes_of(db, spec.unit_id), rows_for(db, attempt, form_items=form_items))
        mark_rows.extend(_item_mark_rows(form_items, figures.marks))
        values = {"total": figures.total, "available": figures.available, "pass_mark": spec.pass_mark,
                  "passed": figures.total >= spec.pass_mark, "by_outcome": _as_text(figures.by_outcome),
                  "by_criterion": _as_text(figures.by_criterion),
                  "status": PROVISIONAL if figures.provisional else CONFIRMED, "marked_at": now}
        result = existing.get(attempt.id)
        if result is not None:  # marked again (a regrade, a hand mark): the session writes the change
            for name, value in values.items():
                setattr(result, name, value)
        else:
            # A first result (every finish): written below, as the rest of the finish is, and held
            # by the session as loaded, so the commit has nothing to flush (docs/performance.md,
            # session 17).
            values.update(attempt_id=attempt.id, released_at=None)
            new_results.append(values)
            result = models.Result(**values)
            make_transient_to_detached(result)
            db.add(result)
            set_committed_value(attempt, "result", result)
        results.append(result)
    _store_item_marks(db, mark_rows)
    if new_results:
        db.connection().execute(_INSERT_RESULT, new_results)
    return results


def outcome_label(attempt: models.Attempt) -> str:
    """What the attempt counts as in results: Absent, Withdrawn, Voided, Provisional, Pass or Fail."""
    if attempt.outcome in ("absent", "withdrawn", "voided"):
        return attempt.outcome.capitalize()
    result = attempt.result
    if result is None:
        return "Not finished" if attempt.state != "finished" else "No result"
    if result.status == PROVISIONAL:
        return "Provisional"
    return "Pass" if result.passed else "Fail"
