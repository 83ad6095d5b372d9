"""The blueprint: derived ranges, the exposure cap, the form check, the bank checker's messages,
and the ``onscreen forms`` commands."""
from __future__ import annotations

import json
import shutil
from decimal import Decimal

import pytest
import yaml
from sqlalchemy import select

from engine import banks, blueprint, db, models
from engine.assembly import PoolItem
from engine.plugins import item_types

from conftest import BANKS
from test_assembly_sittings import enlarged_unit2, load, open_sitting, people

UNIT2 = BANKS / "unit-2-Y-506-2152"
UNIT2_OUTCOMES = [("1", ["1.1", "1.2", "1.3", "1.4", "1.5"]), ("2", ["2.1", "2.2", "2.3"]),
                  ("3", ["3.1", "3.2", "3.3", "3.4", "3.5", "3.6"]), ("4", ["4.1", "4.2"])]


def test_outcome_ranges_are_derived_from_the_units_criteria_unless_given():
    bp = blueprint.build(Decimal(30), 45, {"outcome_marks": {"tolerance": 2}}, UNIT2_OUTCOMES)
    assert {n: (r.min, r.max, r.derived) for n, r in bp.outcome_marks.items()} == {
        "1": (7, 11, True), "2": (4, 8, True), "3": (9, 13, True), "4": (2, 6, True)}
    given = blueprint.build(Decimal(30), 45, {"outcome_marks": {"tolerance": 2, "ranges": {"4": {"min": 3, "max": 5}}}},
                            UNIT2_OUTCOMES)
    assert (given.outcome_marks["4"].min, given.outcome_marks["4"].max, given.outcome_marks["4"].derived) == (3, 5, False)
    default = blueprint.build(Decimal(30), 45, {}, UNIT2_OUTCOMES)  # tolerance: 10 % of the total
    assert (default.outcome_marks["1"].min, default.outcome_marks["1"].max) == (6, 12)


def test_the_exposure_cap_is_a_count_that_grows_with_the_window():
    bp = blueprint.build(Decimal(30), 45, {"exposure": {"max_rate": 0.4}}, UNIT2_OUTCOMES)
    assert [bp.exposure_cap(n) for n in (0, 1, 2, 4, 99)] == [1, 1, 2, 2, 40]
    assert blueprint.build(Decimal(30), 45, {}, UNIT2_OUTCOMES).exposure_cap(10) is None


def _item(key, outcome, criterion, marks, type_name="single_choice", difficulty=None, enemies=()):
    return PoolItem(version_id=0, key=key, outcome=outcome, criterion_position=(0, 0), marks=Decimal(marks),
                    enemies=frozenset(enemies), criterion=criterion, type_name=type_name,
                    difficulty=None if difficulty is None else Decimal(difficulty))


def test_check_form_names_every_broken_rule():
    rules = {"every_learning_outcome": True, "outcome_marks": {"ranges": {"1": {"min": 1, "max": 2}}},
             "criterion_limits": {"max_marks": 2, "min_items": 1}, "item_types": {"matching": {"max_share": 0.25}},
             "difficulty": {"min": 0.2, "max": 0.4}}
    bp = blueprint.build(Decimal(4), 30, rules, [("1", ["1.1"]), ("2", ["2.1", "2.2"])])
    form = [_item("a", "1", "1.1", 3, "matching", "0.9", enemies=["b"]), _item("b", "2", "2.1", 2)]
    rules_broken = {v.rule for v in blueprint.check_form(bp, form)}
    assert rules_broken == {"total_marks", "enemies", "rules.outcome_marks", "rules.criterion_limits",
                            "rules.item_types", "rules.difficulty"}
    assert any("2.2 has 0 item(s)" in str(v) for v in blueprint.check_form(bp, form))
    # Mean difficulty exactly 0.4: the band's edge is inside it.
    fine = [_item("a", "1", "1.1", 1, difficulty="0.6"), _item("b", "2", "2.1", 2, difficulty="0.3"),
            _item("c", "2", "2.2", 1, "matching", difficulty="0.3")]
    assert blueprint.check_form(bp, fine) == []
    assert [v.rule for v in blueprint.check_form(bp, fine[1:])] == [
        "total_marks", "rules.every_learning_outcome", "rules.outcome_marks", "rules.criterion_limits"]


def test_a_malformed_blueprint_is_refused_with_paths():
    with pytest.raises(blueprint.BlueprintError) as error:
        blueprint.build(Decimal(30), 45, {"difficulty": {"min": 2}, "colour": "red"}, UNIT2_OUTCOMES)
    paths = [path for path, _ in error.value.problems]
    assert ("colour",) in paths and ("difficulty", "min") in paths and ("difficulty",) in paths


# --- the bank checker ----------------------------------------------------------------------------


def _bank_with_rules(tmp_path, rules_text: str):
    folder = tmp_path / "unit-2-Y-506-2152"
    shutil.copytree(UNIT2, folder)
    text = (folder / "test.yaml").read_text()
    head = text[:text.index("rules:")]
    (folder / "test.yaml").write_text(head + "rules:\n" + rules_text)
    return folder


def _line_of(folder, needle: str) -> int:
    lines = (folder / "test.yaml").read_text().splitlines()
    return next(n for n, line in enumerate(lines, start=1) if needle in line)


def test_the_checker_names_file_line_and_field_for_malformed_rules(app, tmp_path):
    folder = _bank_with_rules(tmp_path, "\n".join([
        "  every_learning_outcome: true",
        "  colour: red",
        "  difficulty: {min: 0.7, max: 0.2}",
        "  outcome_marks:",
        "    tolerance: -1",
        "  criterion_limits: {max_marks: four}",
        "  exposure: {max_rate: 1.5, window_days: 0}",
    ]) + "\n")
    with app.app_context():
        problems = [str(p) for p in banks.check(folder, item_types(app))]
    test_yaml = folder / "test.yaml"
    expected = [
        (f"{test_yaml}:{_line_of(folder, 'colour')}: rules.colour: unknown rule", "colour"),
        (f"{test_yaml}:{_line_of(folder, 'difficulty')}: rules.difficulty: min 0.7 is more than max 0.2", ""),
        (f"{test_yaml}:{_line_of(folder, 'tolerance')}: rules.outcome_marks.tolerance: must be a number of marks", ""),
        (f"{test_yaml}:{_line_of(folder, 'criterion_limits')}: rules.criterion_limits.max_marks: must be", ""),
        (f"{test_yaml}:{_line_of(folder, 'exposure')}: rules.exposure.max_rate: must be a share of forms from 0 to 1", ""),
        (f"{test_yaml}:{_line_of(folder, 'exposure')}: rules.exposure.window_days: must be a whole number of days", ""),
    ]
    for start, _ in expected:
        assert any(p.startswith(start) for p in problems), f"{start!r} not in {problems}"


def test_the_checker_names_outcomes_and_item_types_the_unit_does_not_have(app, tmp_path):
    folder = _bank_with_rules(tmp_path, "\n".join([
        "  outcome_marks:",
        "    ranges:",
        "      \"9\": {min: 1, max: 4}",
        "  item_types:",
        "    essay_type: {max_share: 0.5}",
    ]) + "\n")
    with app.app_context():
        problems = [str(p) for p in banks.check(folder, item_types(app))]
    nine = _line_of(folder, '"9"')
    assert any(f":{nine}: rules.outcome_marks.ranges.9: '9' is not a learning outcome of this unit (1, 2, 3, 4)" in p
               for p in problems), problems
    assert any(f":{_line_of(folder, 'essay_type')}: rules.item_types.essay_type: unknown item type 'essay_type'" in p
               for p in problems), problems


def test_the_checker_says_which_rule_the_live_items_cannot_meet(app, tmp_path):
    folder = _bank_with_rules(tmp_path, "  every_learning_outcome: true\n  difficulty: {min: 0.99, max: 1}\n")
    with app.app_context():
        found, _ = banks.read_banks(UNIT2, item_types(app))
        problems = [str(p) for p in banks.check(folder, item_types(app))]
    hardest = max(Decimal("0.5") if i.difficulty is None else i.difficulty for i in found[0].items if i.status == "live")
    assert problems == [
        f"{folder / 'test.yaml'}:{_line_of(folder, 'difficulty')}: rules.difficulty: the live items cannot meet it: "
        f"every live item is easier than the band's bottom 0.99 (the hardest is {hardest:.2f})"]
    # A bank of 16 criteria x (1 + 2 marks): outcome 2 (three criteria) has 9 marks of items.
    small = enlarged_unit2(tmp_path / "b", per_criterion=2, keep_shipped=False,
                           rules={"outcome_marks": {"ranges": {"2": {"min": 10, "max": 12}}}})
    with app.app_context():
        problems = [str(p) for p in banks.check(small, item_types(app))]
    assert problems == [
        f"{small / 'test.yaml'}:{_line_of(small, 'outcome_marks')}: rules.outcome_marks: the live items cannot meet "
        "it: learning outcome 2 needs at least 10 marks (range 10-12) but its live items can give only 9"]


def test_the_shipped_unit_2_blueprint_passes_the_checker(app):
    with app.app_context():
        assert banks.check(UNIT2, item_types(app)) == []
    rules = yaml.safe_load((UNIT2 / "test.yaml").read_text())["rules"]
    assert {"every_learning_outcome", "outcome_marks", "criterion_limits", "item_types", "difficulty",
            "exposure"} <= set(rules)


# --- onscreen forms ----------------------------------------------------------------------------------


def test_forms_report_from_a_bank_folder(runner):
    result = runner.invoke(args=["forms", "report", str(UNIT2), "--forms", "40", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "Forms: 40 requested, 40 built, 0 refused (seed 7)" in result.output
    assert "Rule violations: 0" in result.output
    assert "Learning outcomes: all 4 on 40 of 40 forms" in result.output
    again = runner.invoke(args=["forms", "report", str(UNIT2), "--forms", "40", "--seed", "7"])
    assert again.output == result.output  # the same seed, the same report


def test_forms_report_from_the_database_as_json(app, runner):
    load(app, UNIT2)
    result = runner.invoke(args=["forms", "report", "unit-2", "--forms", "25", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["violations"]["total"] == 0
    assert report["forms"]["built"] == 25
    assert report["outcome_coverage"]["forms_with_every_outcome"] == 25
    assert set(report["marks_per_outcome"]) == {"1", "2", "3", "4"}
    assert report["exposure"]["rate"]["max"] <= 1


def test_forms_report_fails_clearly(app, runner):
    missing = runner.invoke(args=["forms", "report", "unit-99"])
    assert missing.exit_code != 0 and "no specification 'unit-99'" in missing.output
    load(app, UNIT2)
    session = db.new_session(app)
    with app.app_context(), db.writing(session):
        spec = session.scalar(select(models.TestSpecification).where(models.TestSpecification.code == "unit-2"))
        spec.rules = {**spec.rules, "criterion_limits": {"max_marks": 1}}
    session.close()
    refused = runner.invoke(args=["forms", "report", "unit-2", "--forms", "3"])
    assert refused.exit_code == 1
    assert "refused x3: rules.criterion_limits" in refused.output and "Result: FAIL" in refused.output


def test_forms_verify_remakes_an_attempts_form_from_its_record(app, runner):
    load(app, UNIT2)
    open_sitting(app, people(app, 1))
    session = db.new_session(app)
    attempt_id = session.scalar(select(models.Attempt.id))
    session.close()
    result = runner.invoke(args=["forms", "verify", str(attempt_id)])
    assert result.exit_code == 0, result.output
    assert "the recorded inputs make the same form" in result.output
    session = db.new_session(app)
    with app.app_context(), db.writing(session):
        event = session.scalar(select(models.AuditEvent).where(models.AuditEvent.action == "attempt.assemble"))
        session.execute(models.AuditEvent.__table__.update().where(models.AuditEvent.id == event.id)
                        .values(detail={**event.detail, "seed": event.detail["seed"] + 1}))
    session.close()
    tampered = runner.invoke(args=["forms", "verify", str(attempt_id)])
    assert tampered.exit_code == 1 and "DIFFERENT form" in tampered.output


def test_forms_report_writes_its_output_into_the_docs(runner, tmp_path):
    doc = tmp_path / "assembly.md"
    doc.write_text("# Title\n\nbefore\n<!-- forms-report:start -->\nold\n<!-- forms-report:end -->\nafter\n")
    result = runner.invoke(args=["forms", "report", str(UNIT2), "--forms", "5", "--update-doc", str(doc)])
    assert result.exit_code == 0, result.output
    text = doc.read_text()
    assert text.startswith("# Title\n\nbefore\n<!-- forms-report:start -->\n`onscreen forms report ")
    assert "```\nForms report: unit-2 - Unit 2" in text and "old" not in text
    assert text.endswith("<!-- forms-report:end -->\nafter\n")
