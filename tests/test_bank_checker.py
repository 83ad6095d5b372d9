"""``onscreen bank check`` and ``bank load`` on a copy of the real bank, broken in many ways.

Each problem must name the file, the exact line and the field, so an item writer can go
straight to it; every problem is reported, not just the first; a broken bank loads nothing.
"""
from __future__ import annotations

import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from engine import db, models
from conftest import BANKS

UNIT = "unit-2-Y-506-2152"


@pytest.fixture
def bank(tmp_path) -> Path:
    """A copy of the Unit 2 bank alone, so units being written elsewhere cannot change these tests."""
    path = tmp_path / "item_banks"
    shutil.copytree(BANKS / UNIT, path / UNIT)
    return path


def items_file(bank: Path, name: str) -> Path:
    return bank / UNIT / "items" / name


# --- editing helpers: each returns where the checker must point ------------------------------------


def _lines(file: Path) -> list[str]:
    return file.read_text(encoding="utf-8").split("\n")


def _item_block(lines: list[str], item_id: str) -> tuple[int, int]:
    """0-based [start, end) of an item's lines in an items file."""
    start = lines.index(f"  - id: {item_id}")
    end = next((n for n in range(start + 1, len(lines)) if lines[n].startswith("  - id: ")), len(lines))
    return start, end


def item_index(file: Path, item_id: str) -> int:
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    return [item["id"] for item in data["items"]].index(item_id)


def replace_in_item(file: Path, item_id: str, pattern: str, replacement: str) -> int:
    """Replace the first line of the item matching ``pattern`` (a regex); return its 1-based line."""
    lines = _lines(file)
    start, end = _item_block(lines, item_id)
    for n in range(start, end):
        if re.search(pattern, lines[n]):
            lines[n] = re.sub(pattern, replacement, lines[n], count=1)
            file.write_text("\n".join(lines), encoding="utf-8")
            return n + 1
    raise AssertionError(f"{pattern!r} not found in {item_id}")


def replace_line(file: Path, pattern: str, replacement: str) -> int:
    lines = _lines(file)
    n = next(n for n, line in enumerate(lines) if re.search(pattern, line))
    lines[n] = re.sub(pattern, replacement, lines[n], count=1)
    file.write_text("\n".join(lines), encoding="utf-8")
    return n + 1


def check(runner, path: Path):
    return runner.invoke(args=["bank", "check", str(path)])


# --- one break at a time -------------------------------------------------------------------------
# Each returns the strings the output must contain: "<file>:<line>: <field>: ".


def wrong_key(bank):
    file = items_file(bank, "lo1.yaml")
    line = replace_in_item(file, "u2-1.2-01", r"^    key: c$", "    key: z")
    return [f"{file}:{line}: items[{item_index(file, 'u2-1.2-01')}].key: "]


def wrong_keys_entry(bank):
    file = items_file(bank, "lo2.yaml")
    line = replace_in_item(file, "u2-2.1-02", r"keys: \[a, d\]", "keys: [a, q]")
    return [f"{file}:{line}: items[{item_index(file, 'u2-2.1-02')}].keys[1]: "]


def duplicate_option_id(bank):
    file = items_file(bank, "lo3.yaml")
    item_id = yaml.safe_load(file.read_text())["items"][2]["id"]
    line = replace_in_item(file, item_id, r"^      - id: b$", "      - id: a")
    return [f"{file}:{line}: items[2].options[1].id: "]


def unknown_type(bank):
    file = items_file(bank, "lo3.yaml")
    item = yaml.safe_load(file.read_text())["items"][3]
    assert item["type"] == "multiple_response"
    line = replace_in_item(file, item["id"], r"type: multiple_response", "type: essay")
    return [f"{file}:{line}: items[3].type: unknown item type 'essay'"]


def unknown_criterion(bank):
    file = items_file(bank, "lo4.yaml")
    item_id = yaml.safe_load(file.read_text())["items"][3]["id"]
    line = replace_in_item(file, item_id, r'criterion: "4\.\d"', 'criterion: "4.9"')
    return [f"{file}:{line}: items[3].criterion: '4.9' is not an assessment criterion"]


def topic_of_another_criterion(bank):
    file = items_file(bank, "lo1.yaml")
    line = replace_in_item(file, "u2-1.1-02", r"topics: \[value-of-customer-service\]", "topics: [value-of-customer-service, brand-image]")
    return [f"{file}:{line}: items[1].topics[1]: 'brand-image' is not a topic of criterion 1.1"]


def duplicate_id_across_files(bank):
    file = items_file(bank, "lo3.yaml")
    first = yaml.safe_load(file.read_text())["items"][0]["id"]
    line = replace_line(file, rf"^  - id: {re.escape(first)}$", "  - id: u2-1.1-01")
    return [f"{file}:{line}: items[0].id: 'u2-1.1-01' is already used in lo1.yaml"]


def bad_marks(bank):
    file = items_file(bank, "lo1.yaml")
    line = replace_in_item(file, "u2-1.1-01", r"^    marks: 1$", "    marks: 0.3")
    return [f"{file}:{line}: items[0].marks: "]


def malformed_yaml(bank):
    file = items_file(bank, "lo2.yaml")
    line = replace_in_item(file, "u2-2.2-01", r"^    key: (\w)$", r"    key: \1: oops")
    return [f"{file}:{line}: not valid YAML"]


def bad_urn(bank):
    file = bank / UNIT / "unit.yaml"
    line = replace_line(file, r"^urn: Y/506/2152$", "urn: Y-506-2152")
    return [f"{file}:{line}: urn: must be a unit reference number"]


def urn_with_a_trailing_newline(bank):
    """A block scalar keeps its newline: "Y/506/2152\\n" is not a URN."""
    file = bank / UNIT / "unit.yaml"
    line = replace_line(file, r"^urn: Y/506/2152$", "urn: |\n  Y/506/2152")
    return [f"{file}:{line}: urn: "]


def pass_mark_above_total(bank):
    file = bank / UNIT / "test.yaml"
    line = replace_line(file, r"^pass_mark: 18$", "pass_mark: 31")
    return [f"{file}:{line}: pass_mark: must be a number from 0 to total_marks"]


def missing_enemy(bank):
    file = items_file(bank, "lo2.yaml")
    line = replace_in_item(file, "u2-2.1-01", r"enemies: \[u2-2.1-02\]", "enemies: [u2-2.1-02, u2-9.9-99]")
    return [f"{file}:{line}: items[0].enemies[1]: 'u2-9.9-99' is not an item in this bank"]


def missing_items_folder(bank):
    folder = bank / UNIT / "items"
    shutil.rmtree(folder)
    test_yaml = bank / UNIT / "test.yaml"
    return [f"{folder}: no item files", f"{test_yaml}:5: total_marks: the bank's live items carry fewer than 30 marks"]


def too_few_live_marks(bank):
    live = sum(Decimal(str(item["marks"])) for f in (bank / UNIT / "items").glob("*.yaml")
               for item in yaml.safe_load(f.read_text())["items"] if item.get("status", "live") == "live")
    file = bank / UNIT / "test.yaml"
    line = replace_line(file, r"^total_marks: 30$", f"total_marks: {live + 1}")
    return [f"{file}:{line}: total_marks: the bank's live items carry fewer than {live + 1} marks"]


BREAKS = [wrong_key, wrong_keys_entry, duplicate_option_id, unknown_type, unknown_criterion,
          topic_of_another_criterion, duplicate_id_across_files, bad_marks, malformed_yaml, bad_urn,
          urn_with_a_trailing_newline, pass_mark_above_total, missing_enemy, missing_items_folder,
          too_few_live_marks]


def test_the_real_bank_is_clean(runner):
    result = check(runner, BANKS)
    assert result.exit_code == 0, result.output
    units = [p for p in BANKS.iterdir() if (p / "unit.yaml").is_file()]
    items = sum(len(yaml.safe_load(f.read_text())["items"]) for unit in units for f in (unit / "items").glob("*.yaml"))
    specs = sum(1 for unit in units if (unit / "test.yaml").is_file())
    assert f"OK: {len(units)} unit(s), {items} item(s), {specs} test specification(s)" in result.output


def test_the_untouched_copy_is_clean(runner, bank):
    assert check(runner, bank).exit_code == 0


@pytest.mark.parametrize("breaker", BREAKS, ids=lambda f: f.__name__)
def test_each_break_is_reported_with_file_line_and_field(runner, bank, breaker):
    expected = breaker(bank)
    result = check(runner, bank)
    assert result.exit_code != 0
    for text in expected:
        assert text in result.output, f"expected {text!r} in:\n{result.output}"
    # The count at the end matches the problems listed above it.
    problems = [line for line in result.output.splitlines() if line.startswith(str(bank))]
    assert f"{len(problems)} problem(s) found" in result.output


def test_the_checker_names_a_single_unit_folder_too(runner, bank):
    expected = wrong_key(bank)
    result = check(runner, bank / UNIT)
    assert result.exit_code != 0 and expected[0] in result.output


def test_every_problem_is_reported_not_just_the_first(runner, bank):
    breakers = [wrong_key, wrong_keys_entry, unknown_type, unknown_criterion, topic_of_another_criterion,
                duplicate_id_across_files, bad_marks, pass_mark_above_total, missing_enemy, duplicate_option_id]
    expected = [text for breaker in breakers for text in breaker(bank)]
    result = check(runner, bank)
    assert result.exit_code != 0
    missing = [text for text in expected if text not in result.output]
    assert not missing, f"not reported: {missing}\n{result.output}"
    assert re.search(r"^(\d+) problem\(s\) found", result.output, re.M)
    assert int(re.search(r"^(\d+) problem\(s\) found", result.output, re.M).group(1)) >= len(expected)


def test_a_malformed_file_does_not_hide_problems_in_the_others(runner, bank):
    expected = malformed_yaml(bank) + wrong_key(bank) + bad_urn(bank)
    result = check(runner, bank)
    for text in expected:
        assert text in result.output, result.output


def test_an_empty_folder_is_refused(runner, tmp_path):
    result = check(runner, tmp_path)
    assert result.exit_code != 0
    assert "no unit.yaml" in result.output


# --- loading ----------------------------------------------------------------------------------------


def count(app, model) -> int:
    session = db.new_session(app)
    try:
        return session.scalar(select(func.count()).select_from(model))
    finally:
        session.close()


def versions_of(app, key: str) -> list[models.ItemVersion]:
    session = db.new_session(app)
    try:
        item = session.scalar(select(models.Item).where(models.Item.key == key))
        return list(item.versions)
    finally:
        session.close()


@pytest.mark.parametrize("breaker", [wrong_key, malformed_yaml, missing_enemy, bad_urn], ids=lambda f: f.__name__)
def test_loading_a_broken_bank_writes_nothing(app, runner, bank, breaker):
    expected = breaker(bank)
    result = runner.invoke(args=["bank", "load", str(bank)])
    assert result.exit_code != 0
    assert "Nothing loaded" in result.output and expected[0] in result.output
    for model in (models.Unit, models.LearningOutcome, models.Item, models.ItemVersion, models.TestSpecification):
        assert count(app, model) == 0, model.__name__


def test_loading_is_idempotent_and_versions_changed_items(app, runner, bank):
    items = sum(len(yaml.safe_load(f.read_text())["items"]) for f in (bank / UNIT / "items").glob("*.yaml"))
    first = runner.invoke(args=["bank", "load", str(bank)])
    assert first.exit_code == 0, first.output
    assert f"{items} new item(s), {items} new version(s), 0 unchanged" in first.output
    assert count(app, models.Item) == count(app, models.ItemVersion) == items
    assert count(app, models.Unit) == count(app, models.TestSpecification) == 1

    second = runner.invoke(args=["bank", "load", str(bank)])
    assert second.exit_code == 0, second.output
    assert f"0 new item(s), 0 new version(s), {items} unchanged" in second.output
    assert count(app, models.ItemVersion) == items

    (old,) = versions_of(app, "u2-1.1-02")
    file = items_file(bank, "lo1.yaml")
    replace_in_item(file, "u2-1.1-02", r"^    stem: >-$", "    stem: <p>A reworded stem for the hotel question.</p>")
    lines = _lines(file)
    start, end = _item_block(lines, "u2-1.1-02")
    stem_at = next(n for n in range(start, end) if lines[n].startswith("    stem: "))
    while lines[stem_at + 1].startswith("      "):  # drop the old folded stem's lines
        del lines[stem_at + 1]
    file.write_text("\n".join(lines), encoding="utf-8")

    third = runner.invoke(args=["bank", "load", str(bank)])
    assert third.exit_code == 0, third.output
    assert f"0 new item(s), 1 new version(s), {items - 1} unchanged" in third.output
    assert count(app, models.ItemVersion) == items + 1
    versions = versions_of(app, "u2-1.1-02")
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].id == old.id and versions[0].definition == old.definition
    assert versions[1].definition["stem"] == "<p>A reworded stem for the hotel question.</p>"
    assert versions[1].definition["options"] == old.definition["options"]
    assert versions[1].provenance["file"] == "lo1.yaml"


def test_loaded_definitions_are_sanitised(app, runner, bank):
    file = items_file(bank, "lo1.yaml")
    replace_in_item(file, "u2-1.1-01", r"^    stem: >-$",
                    "    stem: >-\n      <p data-key=\"a\" onclick=\"x()\" hx-get=\"/x\">Tampered<script>alert(1)</script></p>")
    result = runner.invoke(args=["bank", "load", str(bank)])
    assert result.exit_code == 0, result.output
    stem = versions_of(app, "u2-1.1-01")[0].definition["stem"]
    assert "Tampered" in stem
    for bad in ("data-key", "onclick", "hx-get", "<script", "alert"):
        assert bad not in stem
