"""Export then import gives back equivalent items: every type through every format that can
carry it, marked on its correct response (full marks), and through the database and the CLI."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from conftest import TEST_SETTINGS
from engine import create_app, db, models
from engine.interchange import EXPORT_FORMATS, export_items, read_items
from engine.interchange.model import ParsedItem
from engine.plain_text import plain_text
from engine.plugins import item_types
from interchange_support import URN, example_key, good_examples, sample_responses, signature, translate, write_bank

REGISTRY = item_types(create_app({**TEST_SETTINGS, "DATABASE_URL": "sqlite://"}))
READ_AS = {"qti": "qti", "qti3": "qti", "gift": "gift", "moodlexml": "moodlexml", "aiken": "aiken"}
#: The item types each format must be able to carry (some settings of a type may still be refused).
CARRIES = {
    "qti": set(REGISTRY), "qti3": set(REGISTRY),
    "moodlexml": set(REGISTRY),
    "gift": {"single_choice", "multiple_response", "matching", "short_text", "numeric", "extended_response"},
    "aiken": {"single_choice"},
}
CASES = [(fmt, type_name, index, defn) for fmt in EXPORT_FORMATS for type_name, index, defn in good_examples()]


def bank_item(type_name: str, index: int, defn: dict) -> dict:
    return {"id": example_key(type_name, index), "type": type_name, "criterion": "1.2", "topics": ["t-three"],
            **REGISTRY[type_name].sanitise_definition(defn)}


@pytest.mark.parametrize("fmt,type_name,index,defn", CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_export_then_import_marks_the_same(fmt, type_name, index, defn):
    item = bank_item(type_name, index, defn)
    result = export_items([item], fmt)
    if result.skipped:
        # Refusing is allowed only with a reason, and never for a type the format carries in general
        # unless it is one of this item's settings that the format cannot express.
        (key, reason), = result.skipped
        assert key == item["id"] and reason
        assert type_name not in CARRIES[fmt] or any(word in reason for word in (
            "all-or-nothing", "punctuation", "case_sensitive", "share of the marks", "1 mark", "images"))
        return
    assert type_name in CARRIES[fmt]
    found = read_items(result.data, READ_AS[fmt], f"export.{fmt}")
    assert len(found) == 1 and isinstance(found[0], ParsedItem), found
    back = found[0]
    assert back.type_name == type_name
    assert back.approximations == []
    assert REGISTRY[type_name].validate_definition(back.definition) == []
    assert signature(type_name, back.definition) == signature(type_name, item)
    plugin = REGISTRY[type_name]
    mark = plugin.mark(back.definition, plugin.correct_response(back.definition))
    assert isinstance(mark.awarded, Decimal)
    expected = Decimal(str(defn["marks"])) if plugin.auto_marked else Decimal(0)
    assert mark.awarded == expected and mark.available == Decimal(str(defn["marks"]))
    for response in sample_responses(type_name, item):
        # Right, wrong and partly right answers earn the same marks before and after the trip.
        assert plugin.mark(back.definition, translate(type_name, item, back.definition, response)).awarded == \
            plugin.mark(item, response).awarded, response
    if fmt != "aiken":
        assert back.key_hint == item["id"]
    if type_name == "extended_response" and fmt in ("qti", "qti3", "moodlexml"):
        assert plain_text(back.definition["mark_scheme"]) == plain_text(item["mark_scheme"])


def test_every_type_travels_in_qti_and_moodle_xml_and_each_format_carries_its_types():
    for fmt, types in CARRIES.items():
        exported = set()
        for type_name, index, defn in good_examples():
            if not export_items([bank_item(type_name, index, defn)], fmt).skipped:
                exported.add(type_name)
        assert exported == types, fmt


def test_a_format_that_cannot_carry_an_item_says_which_and_why():
    items = [bank_item(t, i, d) for t, i, d in good_examples()]
    result = export_items(items, "aiken")
    skipped = dict(result.skipped)
    assert "ordering-0" in skipped and "single-choice-0" not in skipped
    assert "Aiken carries single-answer multiple choice only" in skipped["ordering-0"]
    assert set(result.exported) | set(skipped) == {i["id"] for i in items}


@pytest.fixture
def loaded(runner, tmp_path):
    folder = write_bank(tmp_path / "bank")
    outcome = runner.invoke(args=["bank", "load", str(folder)])
    assert outcome.exit_code == 0, outcome.output
    return folder


class _Version:
    def __init__(self, version: models.ItemVersion):
        self.version, self.type_name, self.definition = version.version, version.type_name, dict(version.definition)
        self.marks, self.topics, self.criterion_number = version.marks, list(version.topics), version.criterion.number


def _plain(version: models.ItemVersion) -> _Version:
    return _Version(version)


def _latest(app) -> dict[str, models.ItemVersion]:
    session = db.new_session(app)
    try:
        unit = session.scalar(select(models.Unit).where(models.Unit.urn == URN))
        items = session.scalars(select(models.Item).where(models.Item.unit_id == unit.id)).all()
        return {item.key: (item.status, _plain(item.versions[0]), _plain(item.latest), item.latest.criterion.number)
                for item in items}
    finally:
        session.close()


@pytest.mark.parametrize("fmt", ["qti", "qti3", "gift", "moodlexml"])
def test_cli_export_then_import_gives_back_the_same_keys_marking_and_criteria(app, runner, loaded, tmp_path, fmt):
    before = _latest(app)
    out = tmp_path / "out"
    exported = runner.invoke(args=["bank", "export", str(out), "--format", fmt, "--unit", URN])
    assert exported.exit_code == 0, exported.output
    file = next(out.iterdir())
    assert file.name.startswith("unit-T-999-0001")
    imported = runner.invoke(args=["bank", "import", str(file), "--format", READ_AS[fmt], "--unit", URN, "--strict"])
    assert imported.exit_code == 0, imported.output
    after = _latest(app)
    assert set(after) == set(before)
    left_out = {line.split(":")[0].removeprefix("not exported: ") for line in exported.output.splitlines()
                if line.startswith("not exported: ")}
    assert left_out, "every format leaves out at least one of the examples"
    for key, (status, first, latest, criterion) in after.items():
        assert status == "live"  # an import adds versions; it never changes an item's status
        if key in left_out:
            assert latest.version == first.version
            continue
        assert signature(latest.type_name, latest.definition) == signature(first.type_name, first.definition), key
        assert criterion == first.criterion_number and latest.topics == first.topics
        plugin = REGISTRY[latest.type_name]
        mark = plugin.mark(latest.definition, plugin.correct_response(latest.definition))
        assert mark.available == first.marks
        assert mark.awarded == (first.marks if plugin.auto_marked else Decimal(0))


def test_cli_aiken_round_trip_makes_equivalent_draft_items(app, runner, loaded, tmp_path):
    out = tmp_path / "bank.aiken.txt"
    exported = runner.invoke(args=["bank", "export", str(out), "--format", "aiken", "--unit", URN])
    assert exported.exit_code == 0, exported.output
    imported = runner.invoke(args=["bank", "import", str(out), "--format", "aiken", "--unit", URN,
                                   "--criterion", "1.2"])
    assert imported.exit_code == 0, imported.output
    after = _latest(app)
    new = {k: v for k, v in after.items() if k.startswith("bank.aiken-")}
    originals = {k: v for k, v in after.items() if not k.startswith("bank.aiken-")}
    exported_keys = [line for line in exported.output.splitlines() if line.startswith("Exported")]
    assert new and exported_keys
    wanted = sorted(signature(v[1].type_name, v[1].definition) for k, v in originals.items()
                    if v[1].type_name == "single_choice" and v[1].marks == 1)
    assert sorted(signature(v[2].type_name, v[2].definition) for v in new.values()) == wanted
    assert all(status == "draft" and criterion == "1.2" for status, _, _, criterion in new.values())
