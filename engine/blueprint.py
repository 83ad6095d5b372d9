"""The blueprint: every rule a test form must meet, read from a test specification.

A specification (``item_banks/<unit>/test.yaml``, stored as ``TestSpecification``) gives the
exact ``total_marks`` and ``duration_minutes``; its ``rules`` mapping gives the rest. Each key of
``rules`` is one rule, and its name is what the assembler, the bank checker and the forms report
say when the rule cannot be met::

    rules:
      every_learning_outcome: true        # every LO has at least one item on every form
      outcome_marks:                      # marks per LO
        tolerance: 2                      #   derived: total x the LO's share of the unit's ACs, +/- 2
        ranges:                           #   or given, per LO, replacing the derived range
          "4": {min: 3, max: 6}
      criterion_limits:                   # per assessment criterion
        max_marks: 4                      #   so one AC cannot dominate a form
        min_items: 0                      #   items every AC must have on every form
      item_types:                         # item-type mix: largest share of the form's marks
        multiple_response: {max_share: 0.5}
        "*": {max_share: 0.6}             #   "*": every type not named
      difficulty: {min: 0.3, max: 0.5}    # mean item difficulty of the form (no difficulty = 0.5)
      exposure: {max_rate: 0.4, window_days: 365}

Not given: ``outcome_marks`` is derived with a tolerance of 10 % of the total; the other rules do
not apply, except ``exposure`` (``max_rate`` 1.0: no cap, least-used items are still preferred;
``window_days`` 365). The pool is always the live items of the specification's unit.

This module only describes and checks; :mod:`engine.assembly` builds forms that meet it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Iterable, Protocol

#: The rule names a specification's ``rules`` may use, in the order they are reported.
RULES = ("every_learning_outcome", "outcome_marks", "criterion_limits", "item_types", "difficulty", "exposure")

DEFAULT_TOLERANCE_SHARE = Decimal("0.10")
DEFAULT_WINDOW_DAYS = 365
#: In ``item_types``, the limit for every type not named.
ANY_TYPE = "*"
#: Difficulty assumed for an item without an estimate: the middle of the scale.
DEFAULT_DIFFICULTY = Decimal("0.5")


@dataclass(frozen=True)
class Band:
    """An inclusive range ``[min, max]``."""

    min: Decimal
    max: Decimal

    def __contains__(self, value: Decimal) -> bool:
        return self.min <= value <= self.max

    def __str__(self) -> str:
        return f"{_fmt(self.min)}-{_fmt(self.max)}"


@dataclass(frozen=True)
class OutcomeRange(Band):
    #: True when the range was derived from the unit, not given in the specification.
    derived: bool = False


@dataclass(frozen=True)
class Blueprint:
    total_marks: Decimal
    duration_minutes: int
    #: The unit's learning outcomes in order, each with its assessment criteria in order.
    outcomes: tuple[tuple[str, tuple[str, ...]], ...]
    every_outcome: bool
    outcome_marks: dict[str, OutcomeRange]
    criterion_max_marks: Decimal | None
    criterion_min_items: int
    type_max_share: dict[str, Decimal]
    difficulty: Band | None
    exposure_max_rate: Decimal
    exposure_window_days: int

    @property
    def outcome_numbers(self) -> list[str]:
        return [number for number, _ in self.outcomes]

    @property
    def criterion_numbers(self) -> list[str]:
        return [c for _, criteria in self.outcomes for c in criteria]

    def type_share_limit(self, type_name: str) -> Decimal | None:
        """The largest share of the marks items of this type may carry (None: no limit)."""
        return self.type_max_share.get(type_name, self.type_max_share.get(ANY_TYPE))

    def exposure_cap(self, forms_before: int) -> int | None:
        """Most forms (of the window, this one included) an item may appear on; None: no cap.

        A count, not a bare rate, so the first forms of a window are not all over the cap:
        with ``max_rate`` 0.4, an item may be on 1 of the first 2 forms, 2 of the first 5, 40 of 100.
        """
        if self.exposure_max_rate >= 1:
            return None
        return int((self.exposure_max_rate * (forms_before + 1)).to_integral_value(rounding=ROUND_CEILING))

    def as_json(self) -> dict:
        """The resolved blueprint, for audit records and reports."""
        return {
            "total_marks": str(self.total_marks), "duration_minutes": self.duration_minutes,
            "outcomes": [[n, list(c)] for n, c in self.outcomes],
            "every_learning_outcome": self.every_outcome,
            "outcome_marks": {n: {"min": str(r.min), "max": str(r.max), "derived": r.derived}
                              for n, r in self.outcome_marks.items()},
            "criterion_limits": {"max_marks": None if self.criterion_max_marks is None else str(self.criterion_max_marks),
                                 "min_items": self.criterion_min_items},
            "item_types": {t: {"max_share": str(s)} for t, s in sorted(self.type_max_share.items())},
            "difficulty": None if self.difficulty is None else {"min": str(self.difficulty.min),
                                                                "max": str(self.difficulty.max)},
            "exposure": {"max_rate": str(self.exposure_max_rate), "window_days": self.exposure_window_days},
        }

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.as_json(), sort_keys=True).encode()).hexdigest()[:16]

    def describe(self) -> list[str]:
        """One line per rule, as people read them."""
        lines = [f"total_marks: exactly {_fmt(self.total_marks)}; duration_minutes: {self.duration_minutes}"]
        if self.every_outcome:
            lines.append("every_learning_outcome: every LO has at least one item")
        ranges = ", ".join(f"LO{n} {r}" + ("" if r.derived else " (given)") for n, r in self.outcome_marks.items())
        lines.append(f"outcome_marks: {ranges}")
        limits = []
        if self.criterion_max_marks is not None:
            limits.append(f"at most {_fmt(self.criterion_max_marks)} mark{'' if self.criterion_max_marks == 1 else 's'} per AC")
        if self.criterion_min_items:
            limits.append(f"at least {self.criterion_min_items} item(s) per AC")
        if limits:
            lines.append("criterion_limits: " + "; ".join(limits))
        if self.type_max_share:
            lines.append("item_types: " + ", ".join(
                f"{'any other type' if t == ANY_TYPE else t} at most {_pct(s)} of the marks"
                for t, s in sorted(self.type_max_share.items(), key=lambda kv: (kv[0] == ANY_TYPE, kv[0]))))
        if self.difficulty is not None:
            lines.append(f"difficulty: mean item difficulty {self.difficulty}")
        cap = "no cap" if self.exposure_max_rate >= 1 else f"no item on more than {_pct(self.exposure_max_rate)} of forms"
        lines.append(f"exposure: {cap} within {self.exposure_window_days} days; least-used items preferred")
        return lines


class BlueprintError(ValueError):
    """The rules are malformed; ``problems`` are ``(path under rules, message)`` pairs."""

    def __init__(self, problems: list[tuple[tuple, str]]):
        super().__init__("; ".join(f"rules.{'.'.join(map(str, p))}: {m}" for p, m in problems))
        self.problems = problems


# --- reading and checking ----------------------------------------------------------------------


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def rule_problems(rules: Any) -> list[tuple[tuple, str]]:
    """Problems with the shape of ``rules`` alone, as ``(path under rules, message)``."""
    if not isinstance(rules, dict):
        return [((), "must be a mapping")]
    problems: list[tuple[tuple, str]] = []

    def mapping(name: str, allowed: tuple[str, ...]) -> dict:
        value = rules[name]
        if not isinstance(value, dict):
            problems.append(((name,), f"must be a mapping with {', '.join(allowed)}"))
            return {}
        for key in value:
            if key not in allowed:
                problems.append(((name, key), f"unknown setting; known: {', '.join(allowed)}"))
        return value

    def bounded(path: tuple, value: Any, low: Decimal, high: Decimal | None, what: str) -> Decimal | None:
        number = _number(value)
        if number is None or number < low or (high is not None and number > high):
            span = f"from {low} to {high}" if high is not None else f"of at least {low}"
            problems.append((path, f"must be {what} {span}, not {value!r}"))
            return None
        return number

    for name in rules:
        if name not in RULES:
            problems.append(((name,), f"unknown rule; known rules: {', '.join(RULES)}"))
    if "every_learning_outcome" in rules and not isinstance(rules["every_learning_outcome"], bool):
        problems.append((("every_learning_outcome",), "must be true or false"))
    if "outcome_marks" in rules:
        om = mapping("outcome_marks", ("tolerance", "ranges"))
        if "tolerance" in om:
            bounded(("outcome_marks", "tolerance"), om["tolerance"], Decimal(0), None, "a number of marks")
        ranges = om.get("ranges", {})
        if not isinstance(ranges, dict):
            problems.append((("outcome_marks", "ranges"), 'must map a learning outcome number ("1") to {min, max}'))
        else:
            for number, rng in ranges.items():
                at = ("outcome_marks", "ranges", number)
                if not isinstance(rng, dict) or set(rng) != {"min", "max"}:
                    problems.append((at, "must be a mapping with min and max marks"))
                    continue
                low = bounded(at + ("min",), rng["min"], Decimal(0), None, "a number of marks")
                high = bounded(at + ("max",), rng["max"], Decimal(0), None, "a number of marks")
                if low is not None and high is not None and low > high:
                    problems.append((at, f"min {low} is more than max {high}"))
    if "criterion_limits" in rules:
        cl = mapping("criterion_limits", ("max_marks", "min_items"))
        if "max_marks" in cl:
            value = bounded(("criterion_limits", "max_marks"), cl["max_marks"], Decimal(0), None, "a number of marks")
            if value == 0:
                problems.append((("criterion_limits", "max_marks"), "must be more than 0"))
        if "min_items" in cl and (not isinstance(cl["min_items"], int) or isinstance(cl["min_items"], bool)
                                  or cl["min_items"] < 0):
            problems.append((("criterion_limits", "min_items"), "must be a whole number of items, 0 or more"))
    if "item_types" in rules:
        types = rules["item_types"]
        if not isinstance(types, dict):
            problems.append((("item_types",), "must map an item type to {max_share: 0..1}"))
        else:
            for type_name, limit in types.items():
                at = ("item_types", type_name)
                if not isinstance(limit, dict) or set(limit) != {"max_share"}:
                    problems.append((at, "must be a mapping with max_share (a share of the marks, 0 to 1)"))
                    continue
                bounded(at + ("max_share",), limit["max_share"], Decimal(0), Decimal(1), "a share")
    if "difficulty" in rules:
        band = mapping("difficulty", ("min", "max"))
        if band and set(band) != {"min", "max"}:
            problems.append((("difficulty",), "must give both min and max (0 easy to 1 hard)"))
        low = bounded(("difficulty", "min"), band["min"], Decimal(0), Decimal(1), "a difficulty") if "min" in band else None
        high = bounded(("difficulty", "max"), band["max"], Decimal(0), Decimal(1), "a difficulty") if "max" in band else None
        if low is not None and high is not None and low > high:
            problems.append((("difficulty",), f"min {low} is more than max {high}"))
    if "exposure" in rules:
        ex = mapping("exposure", ("max_rate", "window_days"))
        if "max_rate" in ex:
            rate = bounded(("exposure", "max_rate"), ex["max_rate"], Decimal(0), Decimal(1), "a share of forms")
            if rate == 0:
                problems.append((("exposure", "max_rate"), "must be more than 0"))
        if "window_days" in ex and (not isinstance(ex["window_days"], int) or isinstance(ex["window_days"], bool)
                                    or ex["window_days"] < 1):
            problems.append((("exposure", "window_days"), "must be a whole number of days, 1 or more"))
    return problems


def unit_problems(rules: dict, outcomes: Iterable[tuple[str, Iterable[str]]], total: Decimal,
                  known_types: Iterable[str] | None = None) -> list[tuple[tuple, str]]:
    """Problems that need the unit: unknown outcomes or item types, ranges that cannot add up."""
    outcomes = [(n, tuple(c)) for n, c in outcomes]
    problems: list[tuple[tuple, str]] = []
    numbers = [n for n, _ in outcomes]
    ranges = (rules.get("outcome_marks") or {}).get("ranges") or {}
    for number in ranges:
        if str(number) not in numbers:
            problems.append((("outcome_marks", "ranges", number),
                             f"{number!r} is not a learning outcome of this unit ({', '.join(numbers)})"))
    if known_types is not None:
        known = set(known_types)
        for type_name in rules.get("item_types") or {}:
            if type_name != ANY_TYPE and type_name not in known:
                problems.append((("item_types", type_name),
                                 f"unknown item type {type_name!r}; known: {', '.join(sorted(known))}"))
    if problems:
        return problems
    blueprint = build(total, 1, rules, outcomes)
    low = sum((r.min for r in blueprint.outcome_marks.values()), Decimal(0))
    high = sum((r.max for r in blueprint.outcome_marks.values()), Decimal(0))
    if low > total:
        problems.append((("outcome_marks",), f"the outcomes' minimum marks add up to {_fmt(low)}, "
                                             f"more than the {_fmt(total)}-mark total"))
    if high < total:
        problems.append((("outcome_marks",), f"the outcomes' maximum marks add up to {_fmt(high)}, "
                                             f"fewer than the {_fmt(total)}-mark total"))
    return problems


def build(total: Decimal, duration_minutes: int, rules: dict | None,
          outcomes: Iterable[tuple[str, Iterable[str]]]) -> Blueprint:
    """Resolve a specification's rules against its unit. Raises :class:`BlueprintError`."""
    rules = dict(rules or {})
    problems = rule_problems(rules)
    if problems:
        raise BlueprintError(problems)
    total = Decimal(str(total))
    outcomes = tuple((str(n), tuple(str(c) for c in criteria)) for n, criteria in outcomes)
    om = rules.get("outcome_marks") or {}
    tolerance = Decimal(str(om["tolerance"])) if "tolerance" in om else total * DEFAULT_TOLERANCE_SHARE
    given = {str(k): v for k, v in (om.get("ranges") or {}).items()}
    n_criteria = sum(len(c) for _, c in outcomes) or 1
    outcome_marks: dict[str, OutcomeRange] = {}
    for number, criteria in outcomes:
        if number in given:
            outcome_marks[number] = OutcomeRange(Decimal(str(given[number]["min"])), Decimal(str(given[number]["max"])))
            continue
        # The specification weights outcomes by their assessment criteria ("uses each individual
        # assessment criterion ... as a base for the questions"), so marks follow the AC share.
        target = total * len(criteria) / n_criteria
        low = max(Decimal(0), (target - tolerance).quantize(Decimal(1), ROUND_HALF_UP))
        high = min(total, (target + tolerance).quantize(Decimal(1), ROUND_HALF_UP))
        outcome_marks[number] = OutcomeRange(low, max(low, high), derived=True)
    cl = rules.get("criterion_limits") or {}
    band = rules.get("difficulty")
    ex = rules.get("exposure") or {}
    return Blueprint(
        total_marks=total, duration_minutes=int(duration_minutes), outcomes=outcomes,
        every_outcome=bool(rules.get("every_learning_outcome", False)), outcome_marks=outcome_marks,
        criterion_max_marks=Decimal(str(cl["max_marks"])) if "max_marks" in cl else None,
        criterion_min_items=int(cl.get("min_items", 0)),
        type_max_share={str(t): Decimal(str(v["max_share"])) for t, v in (rules.get("item_types") or {}).items()},
        difficulty=Band(Decimal(str(band["min"])), Decimal(str(band["max"]))) if band else None,
        exposure_max_rate=Decimal(str(ex.get("max_rate", 1))),
        exposure_window_days=int(ex.get("window_days", DEFAULT_WINDOW_DAYS)),
    )


def for_specification(spec) -> Blueprint:
    """The blueprint of a loaded ``models.TestSpecification``."""
    outcomes = [(lo.number, [c.number for c in lo.criteria]) for lo in spec.unit.learning_outcomes]
    return build(spec.total_marks, spec.duration_minutes, spec.rules, outcomes)


def from_json(data: dict) -> Blueprint:
    """The inverse of :meth:`Blueprint.as_json` (for reproducing a recorded form)."""
    band = data.get("difficulty")
    limits = data.get("criterion_limits") or {}
    return Blueprint(
        total_marks=Decimal(data["total_marks"]), duration_minutes=int(data["duration_minutes"]),
        outcomes=tuple((n, tuple(c)) for n, c in data["outcomes"]),
        every_outcome=bool(data["every_learning_outcome"]),
        outcome_marks={n: OutcomeRange(Decimal(r["min"]), Decimal(r["max"]), bool(r["derived"]))
                       for n, r in data["outcome_marks"].items()},
        criterion_max_marks=None if limits.get("max_marks") is None else Decimal(limits["max_marks"]),
        criterion_min_items=int(limits.get("min_items", 0)),
        type_max_share={t: Decimal(v["max_share"]) for t, v in (data.get("item_types") or {}).items()},
        difficulty=None if band is None else Band(Decimal(band["min"]), Decimal(band["max"])),
        exposure_max_rate=Decimal(data["exposure"]["max_rate"]),
        exposure_window_days=int(data["exposure"]["window_days"]),
    )


def for_bank(spec: dict, unit: dict) -> Blueprint:
    """The blueprint of a test.yaml mapping and its unit.yaml mapping (already checked)."""
    outcomes = [(lo["number"], [c["number"] for c in lo["criteria"]]) for lo in unit["learning_outcomes"]]
    return build(Decimal(str(spec["total_marks"])), spec["duration_minutes"], spec.get("rules"), outcomes)


# --- checking a form ----------------------------------------------------------------------------


class FormItem(Protocol):
    key: str
    outcome: str
    criterion: str
    type_name: str
    marks: Decimal
    difficulty: Decimal | None
    enemies: frozenset[str]


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


def difficulty_of(item: FormItem) -> Decimal:
    return DEFAULT_DIFFICULTY if item.difficulty is None else Decimal(str(item.difficulty))


def mean_difficulty(items: list[FormItem]) -> Decimal:
    return sum((difficulty_of(i) for i in items), Decimal(0)) / len(items) if items else Decimal(0)


def check_form(blueprint: Blueprint, items: list[FormItem]) -> list[Violation]:
    """Every rule the form breaks (an empty list: the form meets the blueprint).

    Written separately from the assembler's search, in plain Decimal arithmetic, so the two check
    each other: the assembler never returns a form this finds fault with.
    """
    found: list[Violation] = []
    keys = [i.key for i in items]
    if len(set(keys)) != len(keys):
        found.append(Violation("items", "an item appears more than once"))
    total = sum((i.marks for i in items), Decimal(0))
    if total != blueprint.total_marks:
        found.append(Violation("total_marks", f"the form has {_fmt(total)} marks, not exactly {_fmt(blueprint.total_marks)}"))
    chosen = set(keys)
    # Enmity goes both ways: either item naming the other is enough.
    pairs = {tuple(sorted((i.key, e))) for i in items for e in i.enemies if e in chosen and e != i.key}
    for a, b in sorted(pairs):
        found.append(Violation("enemies", f"{a} and {b} are enemies but are both on the form"))
    for number, _criteria in blueprint.outcomes:
        on_form = [i for i in items if i.outcome == number]
        marks = sum((i.marks for i in on_form), Decimal(0))
        if blueprint.every_outcome and not on_form:
            found.append(Violation("rules.every_learning_outcome", f"learning outcome {number} has no item"))
        allowed = blueprint.outcome_marks[number]
        if marks not in allowed:
            found.append(Violation("rules.outcome_marks",
                                   f"learning outcome {number} has {_fmt(marks)} marks, outside {allowed}"))
    by_criterion: dict[str, list[FormItem]] = {}
    for item in items:
        by_criterion.setdefault(item.criterion, []).append(item)
    if blueprint.criterion_max_marks is not None:
        for criterion, on_form in sorted(by_criterion.items()):
            marks = sum((i.marks for i in on_form), Decimal(0))
            if marks > blueprint.criterion_max_marks:
                found.append(Violation("rules.criterion_limits", f"criterion {criterion} has {_fmt(marks)} marks, "
                                                                 f"more than {_fmt(blueprint.criterion_max_marks)}"))
    if blueprint.criterion_min_items:
        for criterion in blueprint.criterion_numbers:
            count = len(by_criterion.get(criterion, []))
            if count < blueprint.criterion_min_items:
                found.append(Violation("rules.criterion_limits", f"criterion {criterion} has {count} item(s), "
                                                                 f"fewer than {blueprint.criterion_min_items}"))
    for type_name in sorted({i.type_name for i in items}):
        share = blueprint.type_share_limit(type_name)
        marks = sum((i.marks for i in items if i.type_name == type_name), Decimal(0))
        if share is not None and marks > share * blueprint.total_marks:
            found.append(Violation("rules.item_types", f"{type_name} items carry {_fmt(marks)} marks, more than "
                                                       f"{_pct(share)} of {_fmt(blueprint.total_marks)}"))
    if blueprint.difficulty is not None and items:
        # Compared as sums, not a rounded mean, so a form exactly on the boundary is judged exactly.
        sum_d = sum((difficulty_of(i) for i in items), Decimal(0))
        if not blueprint.difficulty.min * len(items) <= sum_d <= blueprint.difficulty.max * len(items):
            found.append(Violation("rules.difficulty", f"mean item difficulty {mean_difficulty(items):.3f} "
                                                       f"is outside {blueprint.difficulty}"))
    return found


# --- formatting -----------------------------------------------------------------------------------


def _fmt(value: Decimal) -> str:
    value = Decimal(value)
    text = f"{value.normalize():f}"
    return text


def _pct(share: Decimal) -> str:
    return f"{_fmt((Decimal(share) * 100).quantize(Decimal('0.1')).normalize())}%"
