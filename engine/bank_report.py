"""Item bank coverage: what a reviewer needs to see at a glance, and whether the bank rules hold.

For each unit under a path: items and marks per learning outcome and per assessment criterion,
per item type (with its share of the marks) and per difficulty band; the amplification topics no
item touches; the criteria with too few items; and the bank rules of the item-bank issue:

* every criterion has at least ``MIN_ITEMS_PER_CRITERION`` items;
* the bank's marks are at least ``MARKS_MULTIPLE`` times the test's total;
* at least ``MIN_TYPES`` item types are used, and none carries more than ``MAX_TYPE_SHARE`` of the marks;
* every amplification topic is touched by at least one item;
* every item records its writer, a different reviewer and the review date.

Only **live** items count: drafts and retired items cannot be served, so they cannot cover anything.
Items the bank checker rejects are left out too; the report says how many problems the check found.

``build`` reads the banks; ``unit_report`` is pure (a ``UnitBank`` in, a ``UnitReport`` out); the
renderers turn a report into text, Markdown (``docs/item-banks.md``) or JSON. Marks and shares
are Decimals throughout and strings in JSON, so nothing is rounded through a float.
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

import click
from flask.cli import with_appcontext

from engine import banks

MIN_ITEMS_PER_CRITERION = 3
MARKS_MULTIPLE = 4
MIN_TYPES = 5
MAX_TYPE_SHARE = Decimal("60")  # per cent of the bank's marks
#: Difficulty bands: easy below 0.34, hard from 0.67, medium between.
EASY_BELOW = Decimal("0.34")
HARD_FROM = Decimal("0.67")
BANDS = ("easy", "medium", "hard", "not rated")
REVIEW_FIELDS = ("written_by", "reviewed_by", "reviewed_on")


@dataclass
class Row:
    """Items and marks for one learning outcome, criterion, type or difficulty band."""

    key: str
    title: str = ""
    items: int = 0
    marks: Decimal = Decimal(0)
    #: Per cent of the unit's marks, to one decimal place.
    share: Decimal = Decimal(0)
    #: Criteria only: how many of the criterion's amplification topics items touch, of how many.
    topics_touched: int | None = None
    topics_total: int | None = None


@dataclass
class TopicGap:
    criterion: str
    topic: str
    heading: str


@dataclass
class Rule:
    name: str
    ok: bool
    detail: str


@dataclass
class UnitReport:
    urn: str
    title: str
    folder: str
    tests: list[dict]
    items: int
    marks: Decimal
    not_live: int
    outcomes: list[Row]
    criteria: list[Row]
    types: list[Row]
    difficulty: list[Row]
    gaps: list[TopicGap]
    thin_criteria: list[Row]
    rules: list[Rule]

    @property
    def ok(self) -> bool:
        return all(rule.ok for rule in self.rules)


@dataclass
class BankReport:
    path: str
    units: list[UnitReport] = field(default_factory=list)
    #: Problems the bank checker found; the items they belong to are not counted.
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.units) and all(unit.ok for unit in self.units)


# --- building -------------------------------------------------------------------------------------


def build(path: Path, item_types: dict) -> BankReport:
    """Read every bank under ``path`` and report on each."""
    found, problems = banks.read_banks(Path(path), item_types)
    found = [bank for bank in found if bank.unit.get("urn")]
    return BankReport(str(path), [unit_report(bank) for bank in found], [str(p) for p in problems])


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    if not whole:
        return Decimal("0.0")
    return (part * 100 / whole).quantize(Decimal("0.1"))


def _band(difficulty: Decimal | None) -> str:
    if difficulty is None:
        return "not rated"
    if difficulty < EASY_BELOW:
        return "easy"
    return "hard" if difficulty >= HARD_FROM else "medium"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def unit_report(bank: banks.UnitBank) -> UnitReport:
    """The coverage of one unit's live items; pure."""
    unit = bank.unit
    live = [item for item in bank.items if item.status == "live"]
    total = sum((item.marks for item in live), Decimal(0))

    outcomes: dict[str, Row] = {}
    criteria: dict[str, Row] = {}
    topics: dict[str, list[dict]] = {}
    for outcome in unit.get("learning_outcomes") or []:
        if not isinstance(outcome, dict):
            continue
        number = str(outcome.get("number"))
        outcomes[number] = Row(number, str(outcome.get("title", "")))
        for criterion in outcome.get("criteria") or []:
            if isinstance(criterion, dict) and criterion.get("number"):
                c_number = str(criterion["number"])
                amplification = [t for t in criterion.get("amplification") or [] if isinstance(t, dict)]
                criteria[c_number] = Row(c_number, str(criterion.get("title", "")), topics_total=len(amplification))
                topics[c_number] = amplification

    by_type: dict[str, Row] = {}
    by_band = {band: Row(band) for band in BANDS}
    touched: dict[str, set[str]] = defaultdict(set)
    for item in live:
        rows = [criteria.get(item.criterion), outcomes.get(item.criterion.split(".")[0]),
                by_type.setdefault(item.type_name, Row(item.type_name)), by_band[_band(item.difficulty)]]
        for row in rows:
            if row is not None:
                row.items += 1
                row.marks += item.marks
        touched[item.criterion].update(item.topics)

    gaps = []
    for c_number, row in criteria.items():
        ids = [t.get("id") for t in topics[c_number]]
        row.topics_touched = sum(1 for topic_id in ids if topic_id in touched[c_number])
        gaps += [TopicGap(c_number, str(t.get("id")), str(t.get("heading", "")))
                 for t in topics[c_number] if t.get("id") not in touched[c_number]]
    for row in [*outcomes.values(), *criteria.values(), *by_type.values(), *by_band.values()]:
        row.share = _percent(row.marks, total)

    types = sorted(by_type.values(), key=lambda r: (-r.marks, r.key))
    difficulty = [by_band[band] for band in BANDS if band != "not rated" or by_band[band].items]
    thin = [row for row in criteria.values() if row.items < MIN_ITEMS_PER_CRITERION]
    tests = [{"code": spec.get("code"), "title": spec.get("title"),
              "duration_minutes": spec.get("duration_minutes"),
              "total_marks": Decimal(str(spec.get("total_marks"))), "pass_mark": Decimal(str(spec.get("pass_mark")))}
             for spec in bank.specifications]
    return UnitReport(
        urn=str(unit.get("urn")), title=str(unit.get("title", "")), folder=bank.folder.name, tests=tests,
        items=len(live), marks=total, not_live=len(bank.items) - len(live),
        outcomes=list(outcomes.values()), criteria=list(criteria.values()), types=types,
        difficulty=difficulty, gaps=gaps, thin_criteria=thin,
        rules=_rules(live, total, criteria, types, gaps, tests),
    )


def _rules(live, total: Decimal, criteria: dict[str, Row], types: list[Row], gaps: list[TopicGap],
           tests: list[dict]) -> list[Rule]:
    thin = [row for row in criteria.values() if row.items < MIN_ITEMS_PER_CRITERION]
    rules = [Rule(
        f"at least {MIN_ITEMS_PER_CRITERION} items per criterion", not thin and bool(criteria),
        f"all {len(criteria)} criteria have {MIN_ITEMS_PER_CRITERION} or more" if not thin else
        "too few: " + ", ".join(f"{row.key} ({row.items})" for row in thin),
    )]
    if tests:
        test_total = max(test["total_marks"] for test in tests)
        needed = test_total * MARKS_MULTIPLE
        rules.append(Rule(f"bank marks at least {MARKS_MULTIPLE} x the test's total", total >= needed,
                          f"{total} marks for a {test_total}-mark test (needs {needed})"))
    else:
        rules.append(Rule(f"bank marks at least {MARKS_MULTIPLE} x the test's total", False,
                          "no test specification (test.yaml) to compare with"))
    rules.append(Rule(f"at least {MIN_TYPES} item types", len(types) >= MIN_TYPES,
                      f"{_plural(len(types), 'type')}: " + (", ".join(row.key for row in types) or "none")))
    largest = types[0] if types else None
    rules.append(Rule(
        f"no type over {MAX_TYPE_SHARE} % of the marks", largest is not None and largest.share <= MAX_TYPE_SHARE,
        f"largest: {largest.key} {largest.share} %" if largest else "no items",
    ))
    topic_count = sum(row.topics_total or 0 for row in criteria.values())
    rules.append(Rule("every amplification topic touched", not gaps,
                      f"all {topic_count} topics" if not gaps else f"{len(gaps)} of {topic_count} topics not touched"))
    unreviewed = [item.key for item in live if not _reviewed(item.review)]
    rules.append(Rule(
        "every item reviewed by someone other than its writer", not unreviewed,
        f"all {_plural(len(live), 'item')}" if not unreviewed else
        f"{len(unreviewed)} without writer, a different reviewer and date: " + ", ".join(unreviewed[:10])
        + (" ..." if len(unreviewed) > 10 else ""),
    ))
    return rules


def _reviewed(review: dict) -> bool:
    values = [str(review.get(key) or "").strip() for key in REVIEW_FIELDS]
    return all(values) and values[0].casefold() != values[1].casefold()


# --- rendering ------------------------------------------------------------------------------------


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def to_json(report: BankReport) -> dict:
    """A JSON-able dict; marks and shares are decimal strings."""
    units = []
    for unit in report.units:
        data = _jsonable(asdict(unit))
        data["ok"] = unit.ok
        units.append(data)
    return {"path": report.path, "ok": report.ok, "problems": report.problems, "units": units}


def _marks(value: Decimal) -> str:
    return f"{value.normalize():f}" if value == value.to_integral() else str(value)


def _status(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def render_text(report: BankReport) -> str:
    out = []

    def table(heading: str, rows: list[Row], label, extra=lambda row: "") -> None:
        out.append(f"  {heading:<24} {'items':>5} {'marks':>6} {'share':>7}")
        for row in rows:
            out.append(f"    {label(row):<22} {row.items:>5} {_marks(row.marks):>6} {row.share:>5} %{extra(row)}")

    for unit in report.units:
        out.append(f"{unit.urn} {unit.title} ({unit.folder})")
        for test in unit.tests:
            out.append(f"  test {test['code']}: {test['duration_minutes']} minutes, {_marks(test['total_marks'])} marks")
        out.append(f"  live items: {unit.items}, marks: {_marks(unit.marks)}"
                   + (f" ({unit.not_live} not live, not counted)" if unit.not_live else ""))
        table("learning outcomes", unit.outcomes, lambda r: f"LO{r.key}", lambda r: f"  {r.title}")
        table("assessment criteria", unit.criteria, lambda r: r.key,
              lambda r: f"  topics {r.topics_touched}/{r.topics_total}"
                        + ("" if r.items >= MIN_ITEMS_PER_CRITERION else "  <- fewer than 3 items"))
        table("item types", unit.types, lambda r: r.key)
        table("difficulty", unit.difficulty, lambda r: r.key)
        out.append("  topics not touched by any item: " + ("none" if not unit.gaps else ""))
        for gap in unit.gaps:
            out.append(f"    {gap.criterion} {gap.topic} ({gap.heading})")
        out.append("  criteria with fewer than 3 items: "
                   + (", ".join(f"{r.key} ({r.items})" for r in unit.thin_criteria) or "none"))
        out.append("  rules:")
        for rule in unit.rules:
            out.append(f"    [{'ok' if rule.ok else 'FAIL'}] {rule.name}: {rule.detail}")
        out.append("")
    if report.problems:
        out.append(f"The bank check found {len(report.problems)} problem(s); their items are not counted. "
                   "Run `onscreen bank check` to see them.")
    out.append(f"Bank rules: {'all met' if report.ok else 'NOT all met'} ({len(report.units)} unit(s) in {report.path})")
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: BankReport, command: str) -> str:
    """The reviewer's page (``docs/item-banks.md``): no timestamps, so it only changes with the banks."""
    out = [
        "# Item banks: coverage at a glance",
        "",
        f"Generated by `{command}` from the bank files; do not edit by hand. Only live items that",
        "pass `onscreen bank check` are counted. Difficulty bands: easy below 0.34, medium, hard from 0.67.",
        "Pass marks are centre / awarding-body settings, not official figures.",
        "",
        "| unit | URN | test | live items | marks | rules |",
        "|---|---|---|---|---|---|",
    ]
    for unit in report.units:
        tests = "; ".join(f"{t['duration_minutes']} min, {_marks(t['total_marks'])} marks" for t in unit.tests) or "none"
        out.append(f"| {_cell(unit.title)} | {unit.urn} | {tests} | {unit.items} | {_marks(unit.marks)} | "
                   f"{'all met' if unit.ok else 'NOT all met'} |")
    if report.problems:
        out += ["", f"**The bank check found {len(report.problems)} problem(s)**; their items are not counted."]
    for unit in report.units:
        out += ["", f"## {_cell(unit.title)} ({unit.urn})", ""]
        for test in unit.tests:
            out.append(f"Test `{test['code']}`: {test['duration_minutes']} minutes, {_marks(test['total_marks'])} marks, "
                       f"pass mark {_marks(test['pass_mark'])} (a centre setting).")
        out.append(f"Live items: {unit.items}, carrying {_marks(unit.marks)} marks"
                   + (f"; {unit.not_live} more not live." if unit.not_live else "."))
        out += ["", "### Rules", "", "| rule | status | detail |", "|---|---|---|"]
        out += [f"| {_cell(r.name)} | {_status(r.ok)} | {_cell(r.detail)} |" for r in unit.rules]
        out += ["", "### Learning outcomes", "", "| LO | title | items | marks | share |", "|---|---|---|---|---|"]
        out += [f"| {r.key} | {_cell(r.title)} | {r.items} | {_marks(r.marks)} | {r.share} % |" for r in unit.outcomes]
        out += ["", "### Assessment criteria", "", "| AC | title | items | marks | topics touched |", "|---|---|---|---|---|"]
        for r in unit.criteria:
            items = f"{r.items}" if r.items >= MIN_ITEMS_PER_CRITERION else f"**{r.items}** (fewer than 3)"
            out.append(f"| {r.key} | {_cell(r.title)} | {items} | {_marks(r.marks)} | {r.topics_touched} of {r.topics_total} |")
        out += ["", "### Item types", "", "| type | items | marks | share of marks |", "|---|---|---|---|"]
        out += [f"| {r.key} | {r.items} | {_marks(r.marks)} | {r.share} % |" for r in unit.types]
        out += ["", "### Difficulty", "", "| band | items | marks | share of marks |", "|---|---|---|---|"]
        out += [f"| {r.key} | {r.items} | {_marks(r.marks)} | {r.share} % |" for r in unit.difficulty]
        out += ["", "### Amplification topics not touched by any item", ""]
        out += [f"- {g.criterion} `{g.topic}`: {_cell(g.heading)}" for g in unit.gaps] or ["None."]
    return "\n".join(out) + "\n"


# --- command --------------------------------------------------------------------------------------


@click.command("report")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (marks as decimal strings).")
@click.option("--markdown", is_flag=True, help="Markdown for docs/item-banks.md.")
@click.option("--strict", is_flag=True, help="Exit 1 if any bank rule is not met or the bank check finds problems.")
@with_appcontext
def report_command(path, as_json, markdown, strict):
    """Coverage of the bank(s) at PATH: per LO, criterion, type and difficulty, gaps and bank rules."""
    from engine.plugins import item_types

    if as_json and markdown:
        raise click.UsageError("choose one of --json and --markdown")
    report = build(path, item_types())
    if not report.units:
        click.echo(f"No unit banks found in {path}: " + "; ".join(report.problems), err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(to_json(report), indent=2))
    elif markdown:
        click.echo(render_markdown(report, f"onscreen bank report {path} --markdown"), nl=False)
    else:
        click.echo(render_text(report), nl=False)
    if strict and not report.ok:
        failed = [f"{unit.urn}: {rule.name}" for unit in report.units for rule in unit.rules if not rule.ok]
        if report.problems:
            failed.append(f"{len(report.problems)} bank check problem(s)")
        click.echo("Bank rules not met: " + "; ".join(failed), err=True)
        sys.exit(1)
