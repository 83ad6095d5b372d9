"""Forms and the database: what the assembler needs from history, and the record of each form.

* :func:`usage` counts, for the exposure rule, how many forms in the window (sittings of the
  unit opened in the last ``exposure.window_days``) used each item.
* :func:`seen_items` finds the items a candidate has met on earlier forms of the unit (the same
  candidate record, or another with the same ULN or UCI, e.g. after moving centre).
* :func:`make_form` assembles one attempt's form; :func:`record_pending` writes the register's form
  items in bulk and, in each form's ``attempt.assemble`` audit event, every input the assembler
  used, so :func:`reproduce` can rebuild the same form later.

A form that was never started and will not be (the attempt finished without a start: absent,
withdrawn before starting) exposed nothing and counts for neither exposure nor resits.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.orm import Session, selectinload

from engine import blueprint as blueprints
from engine import models
from engine.assembly import Assembler, Assembly, PoolItem, Usage
from engine.attempt_states import FINISHED
from engine.audit import record

ASSEMBLE_ACTION = "attempt.assemble"


def pool_item(item: models.Item, version: models.ItemVersion) -> PoolItem:
    """An item version as the assembler sees it."""
    criterion = version.criterion
    outcome = criterion.learning_outcome
    return PoolItem(
        version_id=version.id, key=item.key, outcome=outcome.number,
        criterion_position=(outcome.position, criterion.position), marks=version.marks,
        enemies=frozenset(version.enemies or ()), criterion=criterion.number, type_name=version.type_name,
        difficulty=version.difficulty,
    )


def pool_from_bank(bank) -> list[PoolItem]:
    """The live items of a bank read from files (``banks.UnitBank``), as the assembler sees them.

    Nothing is in a database yet, so ``version_id`` is the item's place in the bank (1, 2, ...).
    """
    positions = {}
    for lo_position, outcome in enumerate(bank.unit["learning_outcomes"]):
        for c_position, criterion in enumerate(outcome["criteria"]):
            positions[criterion["number"]] = (outcome["number"], (lo_position, c_position))
    pool = []
    for number, item in enumerate(bank.items, start=1):
        if item.status != "live":
            continue
        outcome, position = positions[item.criterion]
        pool.append(PoolItem(
            version_id=number, key=item.key, outcome=outcome, criterion_position=position, marks=item.marks,
            enemies=frozenset(item.enemies), criterion=item.criterion, type_name=item.type_name,
            difficulty=item.difficulty,
        ))
    return pool


def specification_blueprint(spec: models.TestSpecification) -> blueprints.Blueprint:
    return blueprints.for_specification(spec)


def _exposed():
    """Attempts whose form was (or will be) in front of a candidate."""
    return or_(models.Attempt.started_at.is_not(None), models.Attempt.state != FINISHED)


def usage(db: Session, unit_id: int, now: dt.datetime, window_days: int) -> Usage:
    """Forms of this unit in the window and how many of them used each item (by key)."""
    since = now - dt.timedelta(days=window_days)
    # A load test's sittings (``Centre.load_test``) show items to no one: counted, a few thousand
    # load-test forms made every item look over-exposed and crowded real sittings out of the bank.
    load_test_centres = select(models.Centre.id).where(models.Centre.load_test.is_(True))
    in_window = and_(models.Sitting.created_at >= since, _exposed(), models.Sitting.centre_id.not_in(load_test_centres))
    forms = db.scalar(
        select(func.count(models.Attempt.id))
        .join(models.Entry, models.Attempt.entry_id == models.Entry.id)
        .join(models.Sitting, models.Entry.sitting_id == models.Sitting.id)
        .join(models.TestSpecification, models.Sitting.specification_id == models.TestSpecification.id)
        .where(models.TestSpecification.unit_id == unit_id, in_window)
    ) or 0
    rows = db.execute(
        select(models.Item.key, func.count(models.FormItem.id))
        .join(models.ItemVersion, models.FormItem.item_version_id == models.ItemVersion.id)
        .join(models.Item, models.ItemVersion.item_id == models.Item.id)
        .join(models.Attempt, models.FormItem.attempt_id == models.Attempt.id)
        .join(models.Entry, models.Attempt.entry_id == models.Entry.id)
        .join(models.Sitting, models.Entry.sitting_id == models.Sitting.id)
        .where(models.Item.unit_id == unit_id, in_window)
        .group_by(models.Item.key)
    ).all()
    return Usage({key: int(count) for key, count in rows}, int(forms))


def seen_items(db: Session, unit_id: int, candidates: list[models.Candidate]) -> dict[int, frozenset[str]]:
    """Candidate id -> keys of the unit's items on any earlier form of theirs."""
    if not candidates:
        return {}
    ids = {c.id for c in candidates}
    ulns = {c.uln for c in candidates if c.uln}
    ucis = {c.uci for c in candidates if c.uci}
    same_person = [models.Candidate.id.in_(ids)]
    if ulns:
        same_person.append(models.Candidate.uln.in_(ulns))
    if ucis:
        same_person.append(models.Candidate.uci.in_(ucis))
    rows = db.execute(
        select(models.Candidate.id, models.Candidate.uln, models.Candidate.uci, models.Item.key)
        .join(models.Entry, models.Entry.candidate_id == models.Candidate.id)
        .join(models.Attempt, models.Attempt.entry_id == models.Entry.id)
        .join(models.FormItem, models.FormItem.attempt_id == models.Attempt.id)
        .join(models.ItemVersion, models.FormItem.item_version_id == models.ItemVersion.id)
        .join(models.Item, models.ItemVersion.item_id == models.Item.id)
        .where(models.Item.unit_id == unit_id, or_(*same_person), _exposed())
    ).all()
    seen: dict[int, set[str]] = {c.id: set() for c in candidates}
    for candidate in candidates:
        for row_id, uln, uci, key in rows:
            if row_id == candidate.id or (candidate.uln and uln == candidate.uln) or \
                    (candidate.uci and uci == candidate.uci):
                seen[candidate.id].add(key)
    return {cid: frozenset(keys) for cid, keys in seen.items()}


@dataclass
class FormPlan:
    """What every form of one register is made against; ``window`` grows as each form is made,
    so the register's forms spread over the bank instead of repeating its favourites."""

    blueprint: blueprints.Blueprint
    window: Usage
    seen: dict[int, frozenset[str]] = field(default_factory=dict)
    #: Prepared once for the whole register, by pool: the assembler and the item versions.
    assemblers: dict = field(default_factory=dict)
    loaded_versions: dict = field(default_factory=dict)
    #: Forms made but not yet recorded (their attempts have no id before the flush).
    pending: list["Pending"] = field(default_factory=list)

    def versions(self, db: Session, pool: list[PoolItem]) -> dict[int, models.ItemVersion]:
        """The pool's item versions by id, loaded once per register (and held, so the session
        does not drop and reload them)."""
        key = tuple(p.version_id for p in pool)
        if key not in self.loaded_versions:
            self.loaded_versions[key] = {v.id: v for v in db.scalars(
                select(models.ItemVersion).where(models.ItemVersion.id.in_(key)))}
        return self.loaded_versions[key]

    def assembler(self, pool: list[PoolItem]) -> Assembler:
        key = tuple(p.version_id for p in pool)
        if key not in self.assemblers:
            self.assemblers[key] = Assembler(pool, self.blueprint)
        return self.assemblers[key]


def plan(db: Session, spec: models.TestSpecification, candidates: list[models.Candidate],
         now: dt.datetime) -> FormPlan:
    """Raises ``BlueprintError`` if the specification's rules are malformed."""
    blueprint = specification_blueprint(spec)
    return FormPlan(blueprint, usage(db, spec.unit_id, now, blueprint.exposure_window_days),
                    seen_items(db, spec.unit_id, candidates))


def make_form(pool: list[PoolItem], blueprint: blueprints.Blueprint, seed: int, *,
              seen: frozenset[str], window: Usage, plan: FormPlan | None = None) -> Assembly:
    """Assemble one form (raises ``AssemblyError``); with a plan, reuse its prepared pool."""
    assembler = plan.assembler(pool) if plan is not None else Assembler(pool, blueprint)
    return assembler.assemble(seed, seen=seen, usage=window)


@dataclass(frozen=True)
class Pending:
    attempt: models.Attempt
    pool: list[PoolItem]
    seed: int
    seen: frozenset[str]
    window: Usage
    made: Assembly
    #: The form items to insert: position, item_version_id, start_state.
    form_items: list[dict]


def record_pending(db: Session, plan: FormPlan, actor: str, now: dt.datetime) -> None:
    """Write the form items and the ``attempt.assemble`` record of every form the plan has made
    since the last call: one flush for the attempts, then one bulk insert for the items (a
    register of 500 has some 12,000 of them; ORM objects one by one would take most of the time)."""
    if not plan.pending:
        return
    db.flush()
    rows = [{"attempt_id": p.attempt.id, **row} for p in plan.pending for row in p.form_items]
    db.execute(insert(models.FormItem), rows)
    for p in plan.pending:
        record_form(db, p.attempt, p.pool, plan.blueprint, p.seed, p.seen, p.window, p.made, actor, now)
    plan.pending.clear()


def record_form(db: Session, attempt: models.Attempt, pool: list[PoolItem], blueprint: blueprints.Blueprint,
                seed: int, seen: frozenset[str], window: Usage, made: Assembly, actor: str,
                now: dt.datetime) -> None:
    """Audit the form with every input needed to make it again (see :func:`reproduce`)."""
    ordered = sorted(pool, key=lambda p: p.key)
    uses = [int(window.uses.get(p.key, 0)) for p in ordered]
    record(db, actor, ASSEMBLE_ACTION, f"attempt:{attempt.id}", now, detail={
        "seed": seed,
        "overlap": made.overlap,
        "seen": sorted(seen & {p.key for p in pool}),
        "over_cap": made.over_cap,
        "exposure_relaxed": made.exposure_relaxed,
        "resit_overlap_forced": made.resit_overlap_forced,
        "forms_in_window": window.forms,
        "pool": [p.version_id for p in ordered],
        "uses": uses if any(uses) else [],
        "blueprint": blueprint.as_json(),
        # Measured difficulties (issue 8) change with every attempt: keep the ones this form used.
        **({"measured_difficulty": {str(p.version_id): str(p.difficulty) for p in ordered if p.measured}}
           if any(p.measured for p in ordered) else {}),
    })


def reproduce(db: Session, attempt: models.Attempt) -> list[int]:
    """Make the attempt's form again from its audit record: the item version ids in order.

    An auditor compares this with the attempt's form items; the two must be equal.
    """
    event = db.scalar(select(models.AuditEvent).where(
        models.AuditEvent.action == ASSEMBLE_ACTION, models.AuditEvent.subject == f"attempt:{attempt.id}"
    ).order_by(models.AuditEvent.id))
    if event is None:
        raise LookupError(f"attempt {attempt.id} has no assembly record")
    detail = event.detail
    versions = db.scalars(
        select(models.ItemVersion).where(models.ItemVersion.id.in_(detail["pool"]))
        .options(selectinload(models.ItemVersion.item),
                 selectinload(models.ItemVersion.criterion).selectinload(models.AssessmentCriterion.learning_outcome))
    ).all()
    pool = [pool_item(v.item, v) for v in versions]
    measured = detail.get("measured_difficulty") or {}
    pool = [dataclasses.replace(p, difficulty=Decimal(measured[str(p.version_id)]), measured=True)
            if str(p.version_id) in measured else p for p in pool]
    ordered = sorted(pool, key=lambda p: p.key)
    uses = detail.get("uses") or [0] * len(ordered)
    window = Usage({p.key: u for p, u in zip(ordered, uses) if u}, int(detail["forms_in_window"]))
    blueprint = blueprints.from_json(detail["blueprint"])
    made = make_form(pool, blueprint, int(detail["seed"]), seen=frozenset(detail["seen"]), window=window)
    return [p.version_id for p in made.items]
