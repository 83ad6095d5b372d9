"""Item bank files: read, check and load.

A bank is a folder per unit under ``item_banks/``::

    unit.yaml        the unit: URN, title, level, learning outcomes, criteria, amplification
    test.yaml        a test specification (duration, marks, pass mark as configuration, rules)
    items/*.yaml     items: a top-level ``items:`` list

``check`` reports every problem with file, line and field. ``load`` runs ``check`` first and
writes nothing unless the whole bank is clean, in one transaction.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import blueprint as blueprints
from engine import models
from engine.assets import bank_image_problems, load_bank_images
from engine.authoring_workflow import unchanged_under_draft
from engine.item_types import marks_of
from engine.yaml_lines import YamlError, line_of, read_yaml, split_field

# \Z, not $: "$" also matches before a trailing newline, which a YAML block scalar adds.
URN_PATTERN = re.compile(r"^[A-Z]/\d{3}/\d{4}\Z", re.ASCII)
ITEM_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.\-_]{0,79}\Z")
TOPIC_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9\-]{0,79}\Z")
ITEM_STATUSES = ("draft", "in_review", "live", "retired")
#: Keys of an item that belong to the bank; everything else is the item type's definition.
ITEM_METADATA_KEYS = ("id", "type", "criterion", "topics", "difficulty", "status", "enemies", "review")
#: The rules a test.yaml may set: the blueprint (engine/blueprint.py says what each one means).
SPEC_RULES = set(blueprints.RULES)


@dataclass(frozen=True)
class BankProblem:
    file: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


@dataclass
class ItemRecord:
    key: str
    type_name: str
    criterion: str
    topics: list[str]
    marks: Decimal
    difficulty: Decimal | None
    status: str
    enemies: list[str]
    review: dict
    definition: dict
    file: Path
    line: int
    #: Position in its file's ``items:`` list, so later checks can name ``items[3].enemies[0]``.
    index: int = -1


@dataclass
class UnitBank:
    folder: Path
    unit: dict = field(default_factory=dict)
    specifications: list[dict] = field(default_factory=list)
    items: list[ItemRecord] = field(default_factory=list)


class BankError(ValueError):
    def __init__(self, problems: list[BankProblem]):
        super().__init__(f"{len(problems)} problem(s) in the item bank")
        self.problems = problems


def unit_folders(path: Path) -> list[Path]:
    """``path`` is one unit folder (has unit.yaml) or a folder of them."""
    path = Path(path)
    if (path / "unit.yaml").is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_dir() and (p / "unit.yaml").is_file()) if path.is_dir() else []


def read_banks(path: Path, item_types: dict) -> tuple[list[UnitBank], list[BankProblem]]:
    """Read and check every bank under ``path``; returns the banks and every problem found."""
    path = Path(path)
    folders = unit_folders(path)
    if not folders:
        return [], [BankProblem(path, None, "", "no unit.yaml here or in any sub-folder")]
    banks, problems = [], []
    for folder in folders:
        bank, found = _read_unit_bank(folder, item_types)
        banks.append(bank)
        problems += found
    urns = {}
    for bank in banks:
        urn = bank.unit.get("urn")
        if urn in urns:
            problems.append(BankProblem(bank.folder / "unit.yaml", 1, "urn", f"{urn} is also the unit in {urns[urn]}"))
        urns[urn] = bank.folder
    return banks, problems


class _Reporter:
    def __init__(self, file: Path, lines: dict):
        self.file, self.lines, self.problems = file, lines, []

    def __call__(self, path: tuple, message: str) -> None:
        field_name = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        self.problems.append(BankProblem(self.file, line_of(self.lines, path), field_name, message))


def _read(file: Path, problems: list[BankProblem]) -> tuple[Any, dict] | None:
    try:
        return read_yaml(file)
    except YamlError as exc:
        problems.append(BankProblem(file, exc.line, "", exc.message))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(BankProblem(file, None, "", f"cannot be read: {exc}"))
    return None


def _read_unit_bank(folder: Path, item_types: dict) -> tuple[UnitBank, list[BankProblem]]:
    bank, problems = UnitBank(folder), []
    parsed = _read(folder / "unit.yaml", problems)
    criteria: dict[str, set[str]] = {}
    if parsed:
        report = _Reporter(folder / "unit.yaml", parsed[1])
        bank.unit = parsed[0] if isinstance(parsed[0], dict) else {}
        criteria = _check_unit(parsed[0], report)
        problems += report.problems
    spec_lines: list[dict] = []
    for spec_file in [folder / "test.yaml"] if (folder / "test.yaml").exists() else []:
        parsed = _read(spec_file, problems)
        if parsed:
            report = _Reporter(spec_file, parsed[1])
            _check_specification(parsed[0], bank.unit.get("urn"), report)
            problems += report.problems
            if not report.problems:
                bank.specifications.append(parsed[0])
                spec_lines.append(parsed[1])
    seen: dict[str, Path] = {}
    lines_by_file: dict[Path, dict] = {}
    item_files = sorted((folder / "items").glob("*.yaml")) if (folder / "items").is_dir() else []
    if not item_files:
        problems.append(BankProblem(folder / "items", None, "", "no item files (items/*.yaml)"))
    for item_file in item_files:
        parsed = _read(item_file, problems)
        if not parsed:
            continue
        report = _Reporter(item_file, parsed[1])
        lines_by_file[item_file] = parsed[1]
        bank.items += _check_items(parsed[0], criteria, item_types, seen, item_file, report)
        problems += report.problems
    known = {item.key for item in bank.items} | set(seen)
    for item in bank.items:
        for e, enemy in enumerate(item.enemies):
            if enemy not in known:
                at = ("items", item.index, "enemies", e)
                problems.append(BankProblem(item.file, line_of(lines_by_file[item.file], at),
                                            f"items[{item.index}].enemies[{e}]", f"{enemy!r} is not an item in this bank"))
    for spec, lines in zip(bank.specifications, spec_lines):
        problems += _check_feasible(spec, bank, folder / "test.yaml", lines)
        if not problems:  # a trial form only makes sense once everything else is sound
            problems += _check_blueprint(spec, bank, folder / "test.yaml", lines, item_types)
    return bank, problems


def _check_unit(unit: Any, report: _Reporter) -> dict[str, set[str]]:
    """Check unit.yaml; return criterion number -> its amplification topic ids."""
    if not isinstance(unit, dict):
        report((), "must be a mapping with urn, title, level and learning_outcomes")
        return {}
    if not isinstance(unit.get("urn"), str) or not URN_PATTERN.match(unit["urn"]):
        report(("urn",), f"must be a unit reference number like Y/506/2152, not {unit.get('urn')!r}")
    if not isinstance(unit.get("title"), str) or not unit["title"].strip():
        report(("title",), "is required")
    if not isinstance(unit.get("level"), int) or not 1 <= unit["level"] <= 8:
        report(("level",), "must be a whole number from 1 to 8")
    outcomes = unit.get("learning_outcomes")
    if not isinstance(outcomes, list) or not outcomes:
        report(("learning_outcomes",), "must list the unit's learning outcomes")
        return {}
    criteria: dict[str, set[str]] = {}
    topic_ids: set[str] = set()
    outcome_numbers: set[str] = set()
    for i, outcome in enumerate(outcomes):
        at = ("learning_outcomes", i)
        if not isinstance(outcome, dict):
            report(at, "must be a mapping with number, title and criteria")
            continue
        number = outcome.get("number")
        if not isinstance(number, str) or not number.isdigit():
            report(at + ("number",), f"must be a quoted number like \"1\", not {number!r}")
        elif number in outcome_numbers:
            report(at + ("number",), f"learning outcome {number} appears twice")
        outcome_numbers.add(str(number))
        if not isinstance(outcome.get("title"), str) or not outcome["title"].strip():
            report(at + ("title",), "is required")
        acs = outcome.get("criteria")
        if not isinstance(acs, list) or not acs:
            report(at + ("criteria",), "must list the outcome's assessment criteria")
            continue
        for j, criterion in enumerate(acs):
            at_c = at + ("criteria", j)
            if not isinstance(criterion, dict):
                report(at_c, "must be a mapping with number, title and amplification")
                continue
            c_number = criterion.get("number")
            if not isinstance(c_number, str) or not re.match(rf"^{re.escape(str(number))}\.\d+$", c_number):
                report(at_c + ("number",), f"must be a quoted number under outcome {number}, like \"{number}.1\"")
                continue
            if c_number in criteria:
                report(at_c + ("number",), f"criterion {c_number} appears twice")
            if not isinstance(criterion.get("title"), str) or not criterion["title"].strip():
                report(at_c + ("title",), "is required")
            criteria[c_number] = set()
            topics = criterion.get("amplification")
            if not isinstance(topics, list) or not topics:
                report(at_c + ("amplification",), "must list the amplification topics")
                continue
            for k, topic in enumerate(topics):
                at_t = at_c + ("amplification", k)
                if not isinstance(topic, dict):
                    report(at_t, "must be a mapping with id, heading and text")
                    continue
                topic_id = topic.get("id")
                if not isinstance(topic_id, str) or not TOPIC_ID_PATTERN.match(topic_id):
                    report(at_t + ("id",), "must be a lower-case id with letters, digits and hyphens")
                elif topic_id in topic_ids:
                    report(at_t + ("id",), f"topic id {topic_id!r} is used twice in this unit")
                else:
                    topic_ids.add(topic_id)
                    criteria[c_number].add(topic_id)
                for key in ("heading", "text"):
                    if not isinstance(topic.get(key), str) or not topic[key].strip():
                        report(at_t + (key,), "is required")
    return criteria


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and not isinstance(value, bool) else None


def _check_specification(spec: Any, urn: str | None, report: _Reporter) -> None:
    if not isinstance(spec, dict):
        report((), "must be a mapping with code, title, unit, duration_minutes, total_marks and pass_mark")
        return
    if not isinstance(spec.get("code"), str) or not ITEM_ID_PATTERN.match(spec["code"]):
        report(("code",), "must be a short lower-case identifier")
    if not isinstance(spec.get("title"), str) or not spec["title"].strip():
        report(("title",), "is required")
    if spec.get("unit") != urn:
        report(("unit",), f"must be this folder's unit {urn}, not {spec.get('unit')!r}")
    duration = spec.get("duration_minutes")
    if not isinstance(duration, int) or isinstance(duration, bool) or not 1 <= duration <= 600:
        report(("duration_minutes",), "must be a whole number of minutes from 1 to 600")
    total = _decimal(spec.get("total_marks"))
    if total is None or total <= 0:
        report(("total_marks",), "must be a positive number")
    pass_mark = _decimal(spec.get("pass_mark"))
    if pass_mark is None or pass_mark < 0 or (total is not None and pass_mark > total):
        report(("pass_mark",), "must be a number from 0 to total_marks")
    for path, message in blueprints.rule_problems(spec.get("rules", {})):
        report(("rules",) + path, message)
    from engine import locks  # exam-condition locks (issue 7): each lock checks its own settings
    for path, message in locks.config_problems(spec.get("locks")):
        report(("locks",) + path, message)


def _check_items(data: Any, criteria: dict[str, set[str]], item_types: dict, seen: dict[str, Path],
                 file: Path, report: _Reporter) -> list[ItemRecord]:
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        report((), "must have a top-level 'items:' list")
        return []
    records = []
    for index, item in enumerate(data["items"]):
        at = ("items", index)
        before = len(report.problems)
        if not isinstance(item, dict):
            report(at, "must be a mapping")
            continue
        key = item.get("id")
        if not isinstance(key, str) or not ITEM_ID_PATTERN.match(key):
            report(at + ("id",), "must be a lower-case id (letters, digits, '.', '-', '_')")
        elif key in seen:
            report(at + ("id",), f"{key!r} is already used in {seen[key].name}")
        else:
            seen[key] = file
        type_name = item.get("type")
        item_type = item_types.get(type_name)
        if item_type is None:
            report(at + ("type",), f"unknown item type {type_name!r}; known: {', '.join(sorted(item_types))}")
        criterion = item.get("criterion")
        if criterion not in criteria:
            report(at + ("criterion",), f"{criterion!r} is not an assessment criterion of this unit")
        topics = item.get("topics", [])
        if not isinstance(topics, list) or not topics:
            report(at + ("topics",), "must list at least one amplification topic of the criterion")
        elif criterion in criteria:
            for t, topic in enumerate(topics):
                if topic not in criteria[criterion]:
                    report(at + ("topics", t), f"{topic!r} is not a topic of criterion {criterion}")
        difficulty = item.get("difficulty")
        if difficulty is not None and (_decimal(difficulty) is None or not 0 <= _decimal(difficulty) <= 1):
            report(at + ("difficulty",), "must be a number from 0 (easy) to 1 (hard)")
        status = item.get("status", "live")
        if status not in ITEM_STATUSES:
            report(at + ("status",), f"must be one of {', '.join(ITEM_STATUSES)}")
        enemies = item.get("enemies", [])
        if not isinstance(enemies, list) or not all(isinstance(e, str) for e in enemies):
            report(at + ("enemies",), "must be a list of item ids")
            enemies = []
        review = item.get("review", {})
        if not isinstance(review, dict):
            report(at + ("review",), "must be a mapping (written_by, reviewed_by, reviewed_on)")
            review = {}
        definition = {k: v for k, v in item.items() if k not in ITEM_METADATA_KEYS}
        if item_type is not None:
            for problem in item_type.validate_definition(definition):
                report(at + split_field(problem.path), problem.message)
        for image_field, message in bank_image_problems(definition, file.parent.parent):  # engine/assets.py
            report(at + split_field(image_field), message)
        if len(report.problems) == before:
            records.append(ItemRecord(
                key=key, type_name=type_name, criterion=criterion, topics=list(topics),
                marks=marks_of(definition), difficulty=_decimal(difficulty) if difficulty is not None else None,
                status=status, enemies=list(enemies), review=review, definition=definition,
                file=file, line=line_of(report.lines, at) or 0, index=index,
            ))
    return records


def _check_feasible(spec: dict, bank: UnitBank, file: Path, lines: dict) -> list[BankProblem]:
    """Problems that make a specification impossible to serve from the live items."""
    problems = []
    live = [item for item in bank.items if item.status == "live"]
    total = _decimal(spec.get("total_marks")) or Decimal(0)
    if sum((i.marks for i in live), Decimal(0)) < total:
        problems.append(BankProblem(file, line_of(lines, ("total_marks",)), "total_marks",
                                    f"the bank's live items carry fewer than {total} marks"))
    if spec.get("rules", {}).get("every_learning_outcome", False):
        covered = {item.criterion.split(".")[0] for item in live}
        rule_line = line_of(lines, ("rules", "every_learning_outcome"))
        for outcome in bank.unit.get("learning_outcomes", []):
            if isinstance(outcome, dict) and str(outcome.get("number")) not in covered:
                problems.append(BankProblem(file, rule_line, "rules.every_learning_outcome",
                                            f"learning outcome {outcome.get('number')} has no live items"))
    return problems


def _check_blueprint(spec: dict, bank: UnitBank, file: Path, lines: dict, item_types: dict) -> list[BankProblem]:
    """Blueprint rules that need the unit and the items: outcomes and item types that exist,
    ranges that can add up to the total, and one trial form from the live items."""
    from engine.assembly import AssemblyError, assemble
    from engine.forms import pool_from_bank

    outcomes = [(lo["number"], [c["number"] for c in lo["criteria"]]) for lo in bank.unit["learning_outcomes"]]
    rules = spec.get("rules") or {}
    found = [BankProblem(file, line_of(lines, ("rules",) + path), ".".join(["rules", *map(str, path)]), message)
             for path, message in blueprints.unit_problems(rules, outcomes, _decimal(spec["total_marks"]), item_types)]
    if found:
        return found
    try:
        assemble(pool_from_bank(bank), blueprints.for_bank(spec, bank.unit), seed=0)
    except AssemblyError as exc:
        path = tuple(exc.rule.split(".")) if exc.rule.startswith("rules.") or exc.rule == "total_marks" else ("rules",)
        return [BankProblem(file, line_of(lines, path), exc.rule, f"the live items cannot meet it: {exc.detail}")]
    return []


def check(path: Path, item_types: dict) -> list[BankProblem]:
    return read_banks(path, item_types)[1]


# --- loading ------------------------------------------------------------------------------------


def content_hash(record: ItemRecord, definition: dict) -> str:
    canonical = json.dumps(
        {"type": record.type_name, "criterion": record.criterion, "topics": record.topics,
         "difficulty": str(record.difficulty), "enemies": record.enemies, "definition": definition},
        sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class LoadSummary:
    units: int = 0
    specifications: int = 0
    items_added: int = 0
    versions_added: int = 0
    unchanged: int = 0


def load(db: Session, path: Path, item_types: dict, now: dt.datetime) -> LoadSummary:
    """Check the banks under ``path`` and, if clean, write them in the caller's transaction.

    Raises :class:`BankError` with every problem, having written nothing.
    """
    banks, problems = read_banks(path, item_types)
    if problems:
        raise BankError(problems)
    summary = LoadSummary()
    for bank in banks:
        unit = _upsert_unit(db, bank.unit)
        summary.units += 1
        criteria = {c.number: c for lo in unit.learning_outcomes for c in lo.criteria}
        for record in bank.items:
            _upsert_item(db, unit, criteria[record.criterion], record, item_types, now, summary)
        for spec in bank.specifications:
            _upsert_specification(db, unit, spec)
            summary.specifications += 1
    db.flush()
    return summary


def _upsert_unit(db: Session, data: dict) -> models.Unit:
    unit = db.scalar(select(models.Unit).where(models.Unit.urn == data["urn"]))
    if unit is None:
        unit = models.Unit(urn=data["urn"], title=data["title"], level=data["level"])
        db.add(unit)
    unit.title, unit.level = data["title"], data["level"]
    db.flush()
    outcomes = {lo.number: lo for lo in unit.learning_outcomes}
    for position, lo_data in enumerate(data["learning_outcomes"]):
        outcome = outcomes.get(lo_data["number"])
        if outcome is None:
            outcome = models.LearningOutcome(unit=unit, number=lo_data["number"], title=lo_data["title"])
            db.add(outcome)
        outcome.title, outcome.position = lo_data["title"], position
        existing = {c.number: c for c in outcome.criteria}
        for c_position, c_data in enumerate(lo_data["criteria"]):
            criterion = existing.get(c_data["number"])
            if criterion is None:
                criterion = models.AssessmentCriterion(learning_outcome=outcome, number=c_data["number"], title=c_data["title"])
                db.add(criterion)
            criterion.title, criterion.position = c_data["title"], c_position
            criterion.amplification = [
                {"id": t["id"], "heading": t["heading"], "text": t["text"]} for t in c_data["amplification"]
            ]
    db.flush()
    db.refresh(unit)
    return unit


def _upsert_item(db, unit, criterion, record: ItemRecord, item_types, now, summary: LoadSummary) -> None:
    definition = item_types[record.type_name].sanitise_definition(record.definition)
    # Images beside the bank are stored by content hash; the hash below covers their addresses.
    definition = load_bank_images(db, definition, record.file.parent.parent, now)
    digest = content_hash(record, definition)
    item = db.scalar(select(models.Item).where(models.Item.unit_id == unit.id, models.Item.key == record.key))
    if item is None:
        item = models.Item(unit_id=unit.id, key=record.key, status=record.status)
        db.add(item)
        summary.items_added += 1
    item.status = record.status
    latest = item.versions[-1] if item.versions else None
    if latest is not None and (latest.content_hash == digest or unchanged_under_draft(db, item, digest)):
        summary.unchanged += 1
        return
    db.add(models.ItemVersion(
        item=item, version=(latest.version + 1) if latest else 1, type_name=record.type_name,
        marks=record.marks, criterion_id=criterion.id, topics=record.topics, difficulty=record.difficulty,
        enemies=record.enemies, definition=definition, content_hash=digest,
        provenance={"file": record.file.name, "line": record.line, "review": _jsonable(record.review)},
        created_at=now,
    ))
    summary.versions_added += 1


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _upsert_specification(db: Session, unit: models.Unit, data: dict) -> None:
    spec = db.scalar(select(models.TestSpecification).where(models.TestSpecification.code == data["code"]))
    if spec is None:
        spec = models.TestSpecification(code=data["code"])
        db.add(spec)
    spec.unit_id = unit.id
    spec.title = data["title"]
    spec.duration_minutes = data["duration_minutes"]
    spec.total_marks = Decimal(str(data["total_marks"]))
    spec.pass_mark = Decimal(str(data["pass_mark"]))
    spec.rules = dict(data.get("rules", {}))
    spec.locks = _jsonable(dict(data.get("locks") or {}))
