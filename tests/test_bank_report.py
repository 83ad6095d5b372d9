"""``onscreen bank report``: coverage per LO, criterion, type and difficulty, gaps, and the bank rules.

Most tests build a small bank in a temporary folder and read it with stand-in item types, so the
figures are known exactly and no plugin being written elsewhere can change them. The command is
tested through a bare Flask app and through the real ``onscreen bank`` group; the shipped Unit 4
bank is checked against the rules with the real plugins.
"""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from flask import Flask

from conftest import BANKS
from engine import bank_report
from engine.item_types import ItemType, common_problems

REVIEW = {"written_by": "writer", "reviewed_by": "reviewer", "reviewed_on": "2026-11-22"}


class StandIn(ItemType):
    """An item type that accepts any definition with a stem and marks."""

    def validate_definition(self, defn):
        return common_problems(defn)


def stand_in_types(*names: str) -> dict:
    types = {}
    for name in names:
        types[name] = type(f"StandIn_{name}", (StandIn,), {"type_name": name})()
    return types


TYPES = stand_in_types("alpha", "beta", "gamma", "delta", "epsilon", "zeta")

UNIT = {
    "urn": "A/123/4567",
    "title": "Test Unit",
    "level": 3,
    "learning_outcomes": [
        {"number": "1", "title": "Outcome one", "criteria": [
            {"number": "1.1", "title": "Criterion one one", "amplification": [
                {"id": "t-a", "heading": "Topic A", "text": "a"},
                {"id": "t-b", "heading": "Topic B", "text": "b"}]},
            {"number": "1.2", "title": "Criterion one two", "amplification": [
                {"id": "t-c", "heading": "Topic C", "text": "c"}]},
        ]},
        {"number": "2", "title": "Outcome two", "criteria": [
            {"number": "2.1", "title": "Criterion two one", "amplification": [
                {"id": "t-d", "heading": "Topic D", "text": "d"}]},
        ]},
    ],
}


def item(key, type_name, criterion, topics, marks=1, difficulty=0.5, **extra) -> dict:
    data = {"id": key, "type": type_name, "criterion": criterion, "topics": topics, "marks": marks,
            "status": "live", "review": dict(REVIEW), "stem": f"<p>{key}</p>"}
    if difficulty is not None:
        data["difficulty"] = difficulty
    data.update(extra)
    return data


def write_bank(root: Path, items: list[dict], total_marks=5, folder="unit-a") -> Path:
    path = root / "banks" / folder
    (path / "items").mkdir(parents=True)
    (path / "unit.yaml").write_text(yaml.safe_dump(UNIT, sort_keys=False), encoding="utf-8")
    (path / "test.yaml").write_text(yaml.safe_dump({
        "code": "test-a", "title": "Test A", "unit": UNIT["urn"], "duration_minutes": 30,
        "total_marks": total_marks, "pass_mark": 1, "rules": {"every_learning_outcome": True},
    }, sort_keys=False), encoding="utf-8")
    (path / "items" / "all.yaml").write_text(yaml.safe_dump({"items": items}, sort_keys=False), encoding="utf-8")
    return root / "banks"


def good_items() -> list[dict]:
    """Meets every rule: 3 items per criterion, 5 types with none over 60 %, every topic, 20 marks."""
    return [
        item("i1", "alpha", "1.1", ["t-a"], marks=2, difficulty=0.1),
        item("i2", "beta", "1.1", ["t-b"], marks=2, difficulty=0.33),
        item("i3", "gamma", "1.1", ["t-a", "t-b"], marks=1, difficulty=0.34),
        item("i4", "delta", "1.2", ["t-c"], marks=2, difficulty=0.66),
        item("i5", "epsilon", "1.2", ["t-c"], marks=2, difficulty=0.67),
        item("i6", "alpha", "1.2", ["t-c"], marks=3, difficulty=0.9),
        item("i7", "beta", "2.1", ["t-d"], marks=3, difficulty=None),
        item("i8", "gamma", "2.1", ["t-d"], marks=2),
        item("i9", "alpha", "2.1", ["t-d"], marks=3),
    ]


def unit_of(report: bank_report.BankReport) -> bank_report.UnitReport:
    assert len(report.units) == 1
    return report.units[0]


def rule(unit: bank_report.UnitReport, starts: str) -> bank_report.Rule:
    return next(r for r in unit.rules if r.name.startswith(starts))


# --- the figures ----------------------------------------------------------------------------------


def test_counts_items_and_marks_per_outcome_criterion_type_and_band(tmp_path):
    report = bank_report.build(write_bank(tmp_path, good_items()), TYPES)
    assert report.problems == [] and report.ok
    unit = unit_of(report)
    assert (unit.urn, unit.items, unit.marks) == ("A/123/4567", 9, Decimal(20))

    outcomes = {r.key: (r.items, r.marks, r.share) for r in unit.outcomes}
    assert outcomes == {"1": (6, Decimal(12), Decimal("60.0")), "2": (3, Decimal(8), Decimal("40.0"))}
    criteria = {r.key: (r.items, r.marks, r.topics_touched, r.topics_total) for r in unit.criteria}
    assert criteria == {"1.1": (3, Decimal(5), 2, 2), "1.2": (3, Decimal(7), 1, 1), "2.1": (3, Decimal(8), 1, 1)}

    types = [(r.key, r.items, r.marks, r.share) for r in unit.types]
    assert types == [  # largest share first
        ("alpha", 3, Decimal(8), Decimal("40.0")),
        ("beta", 2, Decimal(5), Decimal("25.0")),
        ("gamma", 2, Decimal(3), Decimal("15.0")),
        ("delta", 1, Decimal(2), Decimal("10.0")),
        ("epsilon", 1, Decimal(2), Decimal("10.0")),
    ]
    # Bands: easy below 0.34, hard from 0.67; an item without a difficulty is "not rated".
    bands = {r.key: (r.items, r.marks) for r in unit.difficulty}
    assert bands == {"easy": (2, Decimal(4)), "medium": (4, Decimal(8)), "hard": (2, Decimal(5)),
                     "not rated": (1, Decimal(3))}
    assert unit.gaps == [] and unit.thin_criteria == []
    assert all(r.ok for r in unit.rules), unit.rules


def test_only_live_items_count(tmp_path):
    items = good_items() + [item("d1", "zeta", "1.1", ["t-a"], marks=40, status="draft"),
                            item("r1", "zeta", "2.1", ["t-d"], marks=40, status="retired")]
    unit = unit_of(bank_report.build(write_bank(tmp_path, items), TYPES))
    assert (unit.items, unit.marks, unit.not_live) == (9, Decimal(20), 2)
    assert "zeta" not in {r.key for r in unit.types}


def test_gaps_and_thin_criteria_are_named(tmp_path):
    items = [i for i in good_items() if i["id"] not in ("i2", "i3")]  # 1.1 keeps only i1, on t-a
    unit = unit_of(bank_report.build(write_bank(tmp_path, items), TYPES))
    assert [(g.criterion, g.topic, g.heading) for g in unit.gaps] == [("1.1", "t-b", "Topic B")]
    assert [(r.key, r.items) for r in unit.thin_criteria] == [("1.1", 1)]
    assert not rule(unit, "at least 3 items per criterion").ok
    assert "1.1 (1)" in rule(unit, "at least 3 items per criterion").detail
    assert not rule(unit, "every amplification topic").ok
    assert not unit.ok


def test_a_criterion_with_no_items_is_thin_and_all_its_topics_are_gaps(tmp_path):
    items = [i for i in good_items() if i["criterion"] != "2.1"]
    unit = unit_of(bank_report.build(write_bank(tmp_path, items), TYPES))
    assert [(r.key, r.items) for r in unit.thin_criteria] == [("2.1", 0)]
    assert [g.topic for g in unit.gaps] == ["t-d"]
    assert {r.key: r.items for r in unit.outcomes}["2"] == 0


# --- the rules ------------------------------------------------------------------------------------


def test_marks_must_be_four_times_the_test_total(tmp_path):
    unit = unit_of(bank_report.build(write_bank(tmp_path, good_items(), total_marks=6), TYPES))
    marks_rule = rule(unit, "bank marks at least 4 x")
    assert not marks_rule.ok
    assert marks_rule.detail == "20 marks for a 6-mark test (needs 24)"


def test_five_types_needed(tmp_path):
    items = [{**i, "type": "alpha"} if i["type"] == "epsilon" else i for i in good_items()]
    unit = unit_of(bank_report.build(write_bank(tmp_path, items), TYPES))
    assert not rule(unit, "at least 5 item types").ok
    assert rule(unit, "at least 5 item types").detail.startswith("4 types: ")


def test_no_type_may_carry_over_sixty_per_cent(tmp_path):
    items = good_items()
    items[-1] = {**items[-1], "marks": 10}  # alpha: 15 of 27 marks = 55.6 %: still within
    unit = unit_of(bank_report.build(write_bank(tmp_path, items), TYPES))
    assert rule(unit, "no type over 60").ok
    items[-1] = {**items[-1], "marks": 20}  # alpha: 25 of 37 marks = 67.6 %
    unit = unit_of(bank_report.build(write_bank(tmp_path / "again", items), TYPES))
    share_rule = rule(unit, "no type over 60")
    assert not share_rule.ok and share_rule.detail == "largest: alpha 67.6 %"


def test_every_item_needs_a_review_by_someone_else(tmp_path):
    items = good_items()
    items[0]["review"] = {"written_by": "Sam", "reviewed_by": "sam", "reviewed_on": "2026-11-22"}
    items[1]["review"] = {"written_by": "Sam", "reviewed_by": "Kim"}
    del items[2]["review"]
    unit = unit_of(bank_report.build(write_bank(tmp_path, items), TYPES))
    review_rule = rule(unit, "every item reviewed")
    assert not review_rule.ok
    assert review_rule.detail.endswith("i1, i2, i3")


def test_items_the_checker_rejects_are_left_out_and_the_problems_reported(tmp_path):
    items = good_items() + [item("bad", "alpha", "1.1", ["t-a"], marks="many"),
                            item("unknown", "no_such_type", "1.1", ["t-a"])]
    report = bank_report.build(write_bank(tmp_path, items), TYPES)
    assert len(report.problems) == 2 and not report.ok
    assert unit_of(report).items == 9
    assert all(unit.ok for unit in report.units)  # the unit's own rules still hold


# --- rendering --------------------------------------------------------------------------------------


def test_markdown_has_a_row_per_criterion_and_no_timestamp(tmp_path):
    items = [i for i in good_items() if i["id"] not in ("i2", "i3")]
    report = bank_report.build(write_bank(tmp_path, items), TYPES)
    text = bank_report.render_markdown(report, "onscreen bank report banks --markdown")
    assert text == bank_report.render_markdown(report, "onscreen bank report banks --markdown")
    assert "| 1.1 | Criterion one one | **1** (fewer than 3) | 2 | 1 of 2 |" in text
    assert "| 2.1 | Criterion two one | 3 | 8 | 1 of 1 |" in text
    assert "- 1.1 `t-b`: Topic B" in text
    assert "| at least 3 items per criterion | NOT MET | too few: 1.1 (1) |" in text
    assert "2026" not in text.replace("2026-11-22", "")


def test_json_keeps_marks_as_decimal_strings(tmp_path):
    data = bank_report.to_json(bank_report.build(write_bank(tmp_path, good_items()), TYPES))
    assert json.loads(json.dumps(data)) == data
    unit = data["units"][0]
    assert unit["marks"] == "20" and unit["ok"] is True
    assert unit["types"][0] == {"key": "alpha", "title": "", "items": 3, "marks": "8", "share": "40.0",
                                "topics_touched": None, "topics_total": None}


# --- the command ------------------------------------------------------------------------------------


@pytest.fixture
def bare_app():
    """A Flask app holding only the stand-in item types: the command needs nothing else."""
    app = Flask(__name__)
    app.extensions["onscreen.item_types"] = TYPES
    return app


def invoke(app, *args):
    return app.test_cli_runner().invoke(bank_report.report_command, [str(a) for a in args])


def test_command_prints_the_report_and_strict_exits_non_zero_on_a_broken_rule(bare_app, tmp_path):
    good = write_bank(tmp_path / "good", good_items())
    result = invoke(bare_app, good)
    assert result.exit_code == 0, result.output
    assert "[ok] at least 3 items per criterion" in result.output
    assert invoke(bare_app, good, "--strict").exit_code == 0

    thin = write_bank(tmp_path / "thin", [i for i in good_items() if i["id"] != "i9"])
    assert invoke(bare_app, thin).exit_code == 0  # a report, not a check, unless --strict
    strict = invoke(bare_app, thin, "--strict")
    assert strict.exit_code == 1
    assert "[FAIL] at least 3 items per criterion: too few: 2.1 (2)" in strict.stdout
    assert "A/123/4567: at least 3 items per criterion" in strict.stderr


def test_command_json_and_markdown(bare_app, tmp_path):
    banks_path = write_bank(tmp_path, good_items())
    data = json.loads(invoke(bare_app, banks_path, "--json").stdout)
    assert data["ok"] is True and data["units"][0]["urn"] == "A/123/4567"
    markdown = invoke(bare_app, banks_path, "--markdown").stdout
    assert markdown.startswith("# Item banks: coverage at a glance\n")
    assert f"`onscreen bank report {banks_path} --markdown`" in markdown
    both = invoke(bare_app, banks_path, "--json", "--markdown")
    assert both.exit_code == 2 and "choose one of --json and --markdown" in both.stderr


def test_command_fails_when_there_is_no_bank(bare_app, tmp_path):
    result = invoke(bare_app, tmp_path)
    assert result.exit_code == 1
    assert "No unit banks found" in result.stderr


def test_registered_under_onscreen_bank(runner, tmp_path):
    result = runner.invoke(args=["bank", "report", str(BANKS / "unit-4-D-506-1942"), "--strict"])
    assert result.exit_code == 0, result.output
    assert "D/506/1942 Principles of Business" in result.output


# --- the shipped Unit 4 bank ------------------------------------------------------------------------


def test_the_unit_4_bank_meets_every_bank_rule():
    from engine.plugins import build_item_type_registry, make_plugin_manager

    types = {name: cls() for name, cls in build_item_type_registry(make_plugin_manager()).items()}
    report = bank_report.build(BANKS / "unit-4-D-506-1942", types)
    assert report.problems == []
    unit = unit_of(report)
    assert [r for r in unit.rules if not r.ok] == []
    assert len(unit.criteria) == 19 and min(r.items for r in unit.criteria) >= 3
    assert unit.marks >= 120 and unit.gaps == []
