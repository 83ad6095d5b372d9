"""Files written by other tools import with marks that agree with the files' own keys, and the
import reports every question it cannot represent (storing nothing when asked to be strict)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import TEST_SETTINGS
from engine import create_app, db, models
from engine.interchange import read_items
from engine.interchange.model import ParsedItem, Skipped
from engine.plugins import item_types
from interchange_support import INTERCHANGE, URN, write_bank, zip_folder

REGISTRY = item_types(create_app({**TEST_SETTINGS, "DATABASE_URL": "sqlite://"}))
REFERENCE = Path("/work/shared/reference/examples")


def by_key(found) -> dict:
    return {entry.key_hint: entry for entry in found}


def mark(entry: ParsedItem, response) -> Decimal:
    return REGISTRY[entry.type_name].mark(entry.definition, response).awarded


# --- QTI 2.1 content package (IMS example shapes, TAO's numeric) -------------------------------------


@pytest.fixture(scope="module")
def qti_package() -> dict:
    return by_key(read_items(zip_folder(INTERCHANGE / "qti21"), "qti", "examples.zip"))


def own_key(name: str) -> tuple[list[str], Decimal]:
    """The item file's own correct response and the score its processing gives it, read here with
    plain ElementTree, independently of the importer."""
    root = ET.parse(INTERCHANGE / "qti21" / "items" / name).getroot()
    ns = root.tag.split("}")[0] + "}"
    declaration = root.find(f"{ns}responseDeclaration")
    values = [v.text for v in declaration.iter(f"{ns}value")]
    mapping = declaration.find(f"{ns}mapping")
    processing = root.find(f"{ns}responseProcessing")
    template = processing.get("template", "") if processing is not None else ""
    if template.endswith("map_response"):
        entries = {e.get("mapKey"): Decimal(e.get("mappedValue")) for e in mapping}
        score = sum((entries.get(v, Decimal(mapping.get("defaultValue", "0"))) for v in values), Decimal(0))
        if mapping.get("upperBound"):
            score = min(score, Decimal(mapping.get("upperBound")))
    elif template.endswith("match_correct"):
        score = Decimal(1)
    else:
        score = max(Decimal(v.text) for v in processing.iter(f"{ns}baseValue"))
    return values, score


def test_qti_package_choice_agrees_with_its_key(qti_package):
    values, score = own_key("choice.xml")
    item = qti_package["choice"]
    assert item.type_name == "single_choice" and item.definition["key"] == values[0]
    assert Decimal(str(item.definition["marks"])) == score == mark(item, values[0])
    assert mark(item, "ChoiceA") == 0


def test_qti_package_choice_multiple_agrees_with_its_mapping(qti_package):
    values, score = own_key("choice_multiple.xml")
    item = qti_package["choiceMultiple"]
    assert item.type_name == "multiple_response" and sorted(item.definition["keys"]) == sorted(values)
    assert item.definition["scoring"] == "per_option" and item.approximations == []
    assert mark(item, values) == score == Decimal(2)
    # The file's own mapping: refund 1 + voucher -1 = 0; refund alone 1 (bounded below by 0).
    assert mark(item, ["refund", "voucher"]) == 0 and mark(item, ["refund"]) == 1
    assert {"id": "upgrade", "text": "A free upgrade", "pinned": True} in item.definition["options"]


def test_qti_package_order_match_and_inline_choice_agree_with_their_keys(qti_package):
    values, score = own_key("order.xml")
    order = qti_package["order"]
    assert [i["id"] for i in order.definition["items"]] == values and mark(order, values) == score
    values, score = own_key("match.xml")
    match = qti_package["match"]
    pairs = dict(v.split(" ") for v in values)
    assert match.definition["pairs"] == pairs and match.definition["reuse_responses"] is True
    assert mark(match, pairs) == score == Decimal(4)
    assert mark(match, {**pairs, "A": "EXT"}) == 3  # one mark per right pair, as the mapping says
    values, score = own_key("inline_choice.xml")
    inline = qti_package["inlineChoice"]
    gap = inline.definition["gaps"][0]
    assert inline.type_name == "gap_select" and gap["key"] == "14" and mark(inline, {gap["id"]: "14"}) == score
    assert inline.definition["stem"] == "<p>Choose the missing number.</p>"


def test_qti_package_text_entry_numeric_and_essay(qti_package):
    values, score = own_key("text_entry.xml")
    entry = qti_package["textEntry"]
    gap = entry.definition["gaps"][0]
    assert entry.type_name == "text_entry" and gap["answers"] == values and mark(entry, {gap["id"]: "ofcom"}) == score
    assert entry.approximations, "the half-mark answer cannot be kept and must be reported"
    values, score = own_key("numeric_refund.xml")
    number = qti_package["refund-AC2.1"]
    assert number.definition["answer"] == values[0] and number.definition["unit"] == "£"
    assert mark(number, {"raw": "12.5"}) == score == 2 and mark(number, {"raw": "£12.51"}) == 2
    assert mark(number, {"raw": "12.52"}) == 0
    essay = qti_package["extendedText"]
    assert essay.type_name == "extended_response" and essay.definition["marks"] == 4
    assert "apology" in essay.definition["mark_scheme"] and "apology" not in essay.definition["stem"]


def test_qti_package_reports_the_hotspot_item(qti_package):
    hotspot = qti_package["hotspot"]
    assert isinstance(hotspot, Skipped) and "hotspotInteraction" in hotspot.reason


def test_qti3_reference_items_import():
    choice = read_items((REFERENCE / "choice3.xml").read_bytes(), "qti", "choice3.xml")[0] \
        if REFERENCE.exists() else None
    if choice is None:
        pytest.skip("the shared reference examples are not on this machine")
    assert choice.type_name == "single_choice" and choice.definition["key"] == "B" and mark(choice, "B") == 1
    entry = read_items((REFERENCE / "textentry3.xml").read_bytes(), "qti", "textentry3.xml")[0]
    gap = entry.definition["gaps"][0]
    assert sorted(gap["answers"]) == ["amp", "ampere", "amps"] and mark(entry, {gap["id"]: "AMPS"}) == 1


# --- GIFT written to Moodle's documentation ---------------------------------------------------------


@pytest.fixture(scope="module")
def gift_file() -> dict:
    found = read_items((INTERCHANGE / "moodle_docs.gift").read_bytes(), "gift", "moodle_docs.gift")
    return {entry.key_hint: entry for entry in found}


def option_id(entry: ParsedItem, words: str) -> str:
    return next(o["id"] for o in entry.definition["options"] if words in o["text"])


def test_gift_keys_agree_with_the_file(gift_file):
    mc = gift_file["gift-mc-1"]
    assert mark(mc, option_id(mc, "because of how they are treated")) == 1
    assert mark(mc, option_id(mc, "lowers the shop")) == 0
    assert "#Right" not in repr(mc.definition), "feedback is not part of the answer"
    assert gift_file["Loyalty TF"].definition == {**gift_file["Loyalty TF"].definition, "preset": "true_false",
                                                  "key": "true"}
    assert gift_file["Price TF"].definition["key"] == "false"
    assert mark(gift_file["Regulator"], "the office of communications") == 1
    missing = gift_file["Missing word"]
    assert "_____" in missing.definition["stem"] and mark(missing, option_id(missing, "14")) == 1
    match = gift_file["Customer types"]
    texts = {p["text"]: p["id"] for p in match.definition["premises"]}
    responses = {r["text"]: r["id"] for r in match.definition["responses"]}
    assert match.definition["pairs"][texts["A cashier on her break"]] == responses["Internal customer"]
    refund, survey = gift_file["Refund"], gift_file["Survey size"]
    assert mark(refund, {"raw": "12.51"}) == 1 and mark(refund, {"raw": "12.52"}) == 0
    assert mark(survey, {"raw": "18"}) == 1 and mark(survey, {"raw": "22"}) == 1 and mark(survey, {"raw": "23"}) == 0


def test_gift_weights_escapes_html_and_essay(gift_file):
    remedies = gift_file["Remedies"]
    a, b, c = (option_id(remedies, w) for w in ("A refund", "repair", "voucher"))
    assert remedies.definition["marks"] == 2 and mark(remedies, [a, b]) == 2 and mark(remedies, [a, c]) == 0
    assert mark(remedies, [a]) == 1
    escapes = gift_file["Escapes"]
    assert escapes.definition["stem"] == "<p>Which of these is written 1:1 in a ratio {one to one}?</p>"
    assert mark(escapes, option_id(escapes, "1:1 = equal shares")) == 1
    assert "Item #3" in repr(escapes.definition) and "~ twice" in repr(escapes.definition)
    html = gift_file["HTML stem"]
    assert "<table>" in html.definition["stem"] and html.definition["answer"] == "12"
    assert gift_file["Essay"].type_name == "extended_response"


def test_gift_reports_descriptions_and_neutralises_script(gift_file):
    assert isinstance(gift_file["Description"], Skipped) and "no answer block" in gift_file["Description"].reason
    script = gift_file["Script"]
    assert "<script" not in repr(script.definition) and "onclick" not in repr(script.definition)
    assert any("unsafe HTML" in note for note in script.notes)


# --- Moodle XML and Aiken ---------------------------------------------------------------------------


def test_moodle_xml_keys_agree_with_the_file():
    found = read_items((INTERCHANGE / "moodle_export.xml").read_bytes(), "moodlexml", "moodle_export.xml")
    items = by_key(found)
    journey = items["MX-101"]
    assert mark(journey, option_id(journey, "touchpoint")) == 1 and "<strong>" in journey.definition["options"][0]["text"]
    benefits = items["MX-102"]
    keys = [option_id(benefits, "loyalty"), option_id(benefits, "reputation")]
    assert mark(benefits, keys) == 2 and mark(benefits, keys[:1]) == 1
    assert items["Expectations TF"].definition["key"] == "true"
    assert mark(items["MX-104"], "consumer rights act") == 1
    refund = items["MX-105"]
    assert mark(refund, {"raw": "£12.05"}) == 2 and mark(refund, {"raw": "12.06"}) == 0
    assert items["MX-106"].definition["max_words"] == 200 and "method named" in items["MX-106"].definition["mark_scheme"]
    acts = items["MX-107"]
    assert len(acts.definition["responses"]) == 4 and len(acts.definition["premises"]) == 3
    assert mark(acts, acts.definition["pairs"]) == 3
    gaps = items["MX-108"]
    assert [g["key"] for g in gaps.definition["gaps"]] == ["step", "touchpoint"]
    assert gaps.definition["gaps"][1]["options"] == ["touchpoint", "supplier"]
    order = items["MX-109"]
    assert order.definition["scoring"] == "per_position" and mark(order, ["s1", "s2", "s3"]) == 3
    cloze = items["MX-110"]
    assert cloze.type_name == "text_entry" and cloze.definition["marks"] == 2 and cloze.approximations
    assert mark(cloze, {"g1": "ico", "g2": "CMA"}) == 2
    skipped = [e for e in found if isinstance(e, Skipped)]
    assert {s.key_hint for s in skipped} == {"Calculated", "Drag words"}
    assert all("has no onscreen item type" in s.reason for s in skipped)


def test_aiken_keys_agree_with_the_file():
    found = read_items((INTERCHANGE / "questions.aiken.txt").read_bytes(), "aiken", "questions.aiken.txt")
    assert [e.definition["key"] for e in found] == ["b", "b", "a"]
    assert [len(e.definition["options"]) for e in found] == [3, 4, 2]
    assert mark(found[1], "b") == 1 and mark(found[1], "a") == 0


def test_aiken_reports_a_question_without_an_answer():
    found = read_items(b"Q one?\nA. x\nB. y\nANSWER: C\n\nQ two?\nA. x\nB. y\n", "aiken", "bad.txt")
    assert [type(e) for e in found] == [Skipped, Skipped]
    assert "ANSWER: C is not one of the options" in found[0].reason and "no ANSWER" in found[1].reason


# --- into the database: mapping, strictness, all or nothing ------------------------------------------


@pytest.fixture
def unit(runner, tmp_path):
    outcome = runner.invoke(args=["bank", "load", str(write_bank(tmp_path / "bank"))])
    assert outcome.exit_code == 0, outcome.output


def _items(app) -> dict[str, tuple]:
    session = db.new_session(app)
    try:
        rows = session.scalars(select(models.Item).join(models.Unit).where(models.Unit.urn == URN)).all()
        return {i.key: (i.status, len(i.versions), i.latest.criterion.number, list(i.latest.topics)) for i in rows}
    finally:
        session.close()


def test_cli_imports_the_package_as_drafts_and_lists_what_it_left_out(app, runner, unit, tmp_path):
    package = tmp_path / "examples.zip"
    package.write_bytes(zip_folder(INTERCHANGE / "qti21"))
    before = _items(app)
    outcome = runner.invoke(args=["bank", "import", str(package), "--format", "qti", "--unit", URN,
                                  "--criterion", "1.2"])
    assert outcome.exit_code == 3, outcome.output  # some imported, one left out
    assert "not imported: examples.zip: items/hotspot.xml [hotspot]: hotspotInteraction has no onscreen item type" \
        in outcome.output
    assert "answers worth part of the marks were left out" in outcome.output
    after = _items(app)
    new = {k: v for k, v in after.items() if k not in before}
    assert set(new) == {"choice", "choicemultiple", "order", "match", "inlinechoice", "textentry", "extendedtext",
                        "refund-ac2.1"}
    assert all(status == "draft" for status, *_ in new.values())
    assert new["refund-ac2.1"][2] == "2.1" and new["refund-ac2.1"][3] == ["t-four"]  # AC2.1 in its identifier
    assert new["choice"][2] == "1.2" and new["choice"][3] == ["t-three"]  # the default criterion and its topic


def test_strict_import_stores_nothing_and_says_why(app, runner, unit, tmp_path):
    package = tmp_path / "examples.zip"
    package.write_bytes(zip_folder(INTERCHANGE / "qti21"))
    before = _items(app)
    outcome = runner.invoke(args=["bank", "import", str(package), "--format", "qti", "--unit", URN,
                                  "--criterion", "1.2", "--strict"])
    assert outcome.exit_code == 1
    assert "Nothing imported from examples.zip" in outcome.output and "(strict)" in outcome.output
    assert "cannot be represented exactly" in outcome.output and "hotspotInteraction" in outcome.output
    assert _items(app) == before


def test_questions_without_a_criterion_are_reported(app, runner, unit):
    outcome = runner.invoke(args=["bank", "import", str(INTERCHANGE / "questions.aiken.txt"), "--format", "aiken",
                                  "--unit", URN])
    assert outcome.exit_code == 1
    assert outcome.output.count("no assessment criterion") == 3


def test_gift_categories_and_tags_choose_the_criterion(app, runner, unit, tmp_path):
    source = (INTERCHANGE / "moodle_docs.gift").read_text(encoding="utf-8").replace("AC1.1", "AC2.1")
    file = tmp_path / "tagged.gift"
    file.write_text(source + "\n// [tag:t-two] [tag:AC1.1]\n::tagged::Is this tagged?{T}\n", encoding="utf-8")
    outcome = runner.invoke(args=["bank", "import", str(file), "--format", "gift", "--unit", URN])
    assert outcome.exit_code == 3, outcome.output  # the description is left out
    items = _items(app)
    assert items["gift-mc-1"][2:] == ("2.1", ["t-four"])
    assert items["tagged"][2:] == ("1.1", ["t-two"])
    assert items["escapes"][0] == "draft"


def test_dry_run_and_an_unknown_unit_store_nothing(app, runner, unit):
    before = _items(app)
    outcome = runner.invoke(args=["bank", "import", str(INTERCHANGE / "moodle_export.xml"), "--format", "moodlexml",
                                  "--unit", URN, "--dry-run"])
    assert "Dry run: 10 question(s) can be imported, 2 cannot." in outcome.output
    missing = runner.invoke(args=["bank", "import", str(INTERCHANGE / "moodle_export.xml"), "--format", "moodlexml",
                                  "--unit", "Z/999/9999"])
    assert missing.exit_code == 1 and "there is no unit Z/999/9999" in missing.output
    assert _items(app) == before


def test_importing_the_same_file_twice_adds_no_versions(app, runner, unit):
    args = ["bank", "import", str(INTERCHANGE / "moodle_export.xml"), "--format", "moodlexml", "--unit", URN]
    assert runner.invoke(args=args).exit_code == 3
    first = _items(app)
    again = runner.invoke(args=args)
    assert "0 new, 0 new version(s), 10 unchanged" in again.output
    assert _items(app) == first


def test_import_file_for_the_ui_uses_the_request_session_and_never_raises(app, unit):
    from engine.interchange import import_file
    with app.test_request_context():
        report = import_file((INTERCHANGE / "questions.aiken.txt").read_bytes(), "aiken", URN, False,
                             criterion="1.1", filename="questions.aiken.txt")
        assert report.stored and report.error is None and report.items_added == 3
        assert str(report).startswith("Imported 3 item(s) from questions.aiken.txt into T/999/0001: 3 new")
        hostile = import_file(b'<!DOCTYPE a [<!ENTITY x "y">]><quiz>&x;</quiz>', "moodlexml", URN, True,
                              filename="bad.xml")
        assert not hostile.stored and "refused: the XML declares entities" in hostile.error
        assert str(hostile).startswith("Nothing imported: bad.xml: refused")
        strict = import_file((INTERCHANGE / "moodle_export.xml").read_bytes(), "moodlexml", URN, True,
                             filename="moodle_export.xml")
        assert not strict.stored and "Not imported: moodle_export.xml: question 12 (Calculated) [calculated]" \
            in str(strict)
    assert len([k for k in _items(app) if k.startswith("questions.aiken-")]) == 3
