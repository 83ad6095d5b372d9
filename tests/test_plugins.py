"""The plugin system: a clash stops start-up, the allow-list limits what loads, and a brand-new
item type defined right here works everywhere (bank checker, assembly, player, marking) with no
change to the core.
"""
from __future__ import annotations

import json
import re
import shutil
import types
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from engine import create_app, db, models
from engine.hookspecs import hookimpl
from engine.item_types import ItemType, Mark, Problem, common_problems, marks_of
from engine.plugins import DEFAULT_PLUGINS, PluginError, describe_plugins, item_types, plugin_manager
from conftest import BANKS, TEST_SETTINGS, CandidateBrowser, FakeClock, Invigilator

UNIT = "unit-2-Y-506-2152"
BUILT_INS = {"plugins.item_single_choice": ["single_choice"], "plugins.item_multiple_response": ["multiple_response"]}
NO_DATABASE = {**TEST_SETTINGS, "DATABASE_URL": "sqlite://"}


def make_plugin(name: str, *classes) -> types.ModuleType:
    """A plugin module object whose ``register_item_types`` returns ``classes``."""
    plugin = types.ModuleType(name)

    @hookimpl
    def register_item_types():
        return list(classes)

    plugin.register_item_types = register_item_types
    return plugin


# --- a brand-new item type, defined in this test file ------------------------------------------------


def _number(value) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


class NumericExact(ItemType):
    """A number typed in, marked right if it equals ``answer`` exactly."""

    type_name = "numeric_exact"
    label = "Numeric answer (exact)"
    template_folder = Path(__file__).parent / "fixtures" / "plugin_templates" / "numeric_exact"

    def validate_definition(self, defn):
        problems = common_problems(defn)
        if _number(defn.get("answer")) is None:
            problems.append(Problem("answer", f"must be a number, not {defn.get('answer')!r}"))
        return problems

    def candidate_context(self, defn, state, response):
        return {"stem": defn["stem"], "value": response if isinstance(response, str) else ""}

    def parse_response(self, defn, state, fields):
        number = _number((fields.get("answer") or [""])[0][:40])
        return None if number is None else f"{number.normalize():f}"

    def fields_for_response(self, defn, state, response):
        return {"answer": [response or ""]}

    def mark(self, defn, response):
        available = marks_of(defn)
        if response in (None, ""):
            return Mark(Decimal(0), available, "blank")
        given, answer = _number(response), _number(defn.get("answer"))
        if given is not None and given == answer:
            return Mark(available, available, "correct")
        return Mark(Decimal(0), available, "incorrect")

    def correct_response(self, defn):
        return f"{_number(defn['answer']).normalize():f}"


NUMERIC_PLUGIN = make_plugin("numeric_exact_plugin", NumericExact)

NUMERIC_ITEMS = """\
# Items of the test plugin's type, added to a copy of the Unit 2 bank.
items:
  - id: u2-1.5-n1
    type: numeric_exact
    criterion: "1.5"
    topics: [measuring-organisational-effectiveness]
    marks: 2
    status: live
    stem: <p>A contact centre answered 45 of its 60 calls within one minute. What percentage is that?</p>
    answer: 75
"""
BROKEN_NUMERIC_ITEM = """
  - id: u2-1.5-n2
    type: numeric_exact
    criterion: "1.5"
    topics: [measuring-organisational-effectiveness]
    marks: 1
    status: live
    stem: <p>How many?</p>
    answer: lots
"""


def numeric_bank(tmp_path: Path, broken: bool = False) -> Path:
    """A copy of the Unit 2 bank with one live item per learning outcome plus the numeric item,
    and a test whose total is exactly their marks, so every form holds all of them."""
    path = tmp_path / "banks"
    shutil.copytree(BANKS / UNIT, path / UNIT)
    items = path / UNIT / "items"
    live_marks = Decimal(0)
    for file in sorted(items.glob("*.yaml")):
        text = file.read_text(encoding="utf-8")
        first = yaml.safe_load(text)["items"][0]
        live_marks += Decimal(str(first["marks"]))
        text = text.replace("status: live", "status: retired").replace("status: retired", "status: live", 1)
        file.write_text(text, encoding="utf-8")
    (items / "numeric.yaml").write_text(NUMERIC_ITEMS + (BROKEN_NUMERIC_ITEM if broken else ""), encoding="utf-8")
    live_marks += 2
    spec = path / UNIT / "test.yaml"
    text = re.sub(r"(?m)^total_marks: \d+$", f"total_marks: {live_marks}", spec.read_text())
    spec.write_text(re.sub(r"(?m)^pass_mark: \d+$", f"pass_mark: {live_marks - 1}", text), encoding="utf-8")
    return path


# --- registration ---------------------------------------------------------------------------------


def test_a_duplicate_type_name_stops_start_up_naming_both_classes():
    class Impostor(ItemType):
        type_name = "single_choice"

    with pytest.raises(PluginError) as raised:
        create_app(NO_DATABASE, plugins=(make_plugin("impostor_plugin", Impostor),))
    message = str(raised.value)
    assert "'single_choice'" in message
    assert "plugins.item_single_choice.SingleChoice" in message
    assert f"{__name__}.{Impostor.__qualname__}" in message


def test_a_class_that_is_not_an_item_type_is_refused():
    class NotAnItemType:
        type_name = "sneaky"

    with pytest.raises(PluginError, match="not an ItemType subclass"):
        create_app(NO_DATABASE, plugins=(make_plugin("bad_plugin", NotAnItemType),))


def test_an_item_type_without_a_name_is_refused():
    class Nameless(ItemType):
        pass

    with pytest.raises(PluginError, match="Nameless has no type_name"):
        create_app(NO_DATABASE, plugins=(make_plugin("nameless_plugin", Nameless),))


def test_the_built_ins_load_by_default():
    app = create_app(NO_DATABASE)
    assert {"single_choice", "multiple_response"} <= set(item_types(app))
    assert set(DEFAULT_PLUGINS) <= {name for name, _ in plugin_manager(app).list_name_plugin()}


def test_the_allow_list_limits_what_loads():
    app = create_app({**NO_DATABASE, "PLUGINS_ALLOWED": ["plugins.item_single_choice"]},
                     plugins=(NUMERIC_PLUGIN,))
    assert set(item_types(app)) == {"single_choice"}
    assert [name for name, _ in plugin_manager(app).list_name_plugin()] == ["plugins.item_single_choice"]


def test_the_allow_list_admits_a_named_extra_plugin():
    app = create_app({**NO_DATABASE, "PLUGINS_ALLOWED": ["plugins.item_multiple_response", "numeric_exact_plugin"]},
                     plugins=(NUMERIC_PLUGIN,))
    assert set(item_types(app)) == {"multiple_response", "numeric_exact"}


def test_the_allow_list_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("ONSCREEN_PLUGINS_ALLOWED", " plugins.item_multiple_response , ")
    app = create_app(NO_DATABASE)
    assert set(item_types(app)) == {"multiple_response"}


def test_a_plugin_that_is_not_allowed_cannot_serve_its_items(tmp_path):
    """An exam server set up without the plugin refuses its items instead of skipping them."""
    app = create_app({**NO_DATABASE, "PLUGINS_ALLOWED": list(BUILT_INS)}, plugins=(NUMERIC_PLUGIN,))
    result = app.test_cli_runner().invoke(args=["bank", "check", str(numeric_bank(tmp_path))])
    assert result.exit_code != 0
    assert "items[0].type: unknown item type 'numeric_exact'" in result.output


# --- `onscreen plugins` ---------------------------------------------------------------------------


def test_plugins_json_lists_the_built_ins_with_their_item_types():
    result = create_app(NO_DATABASE).test_cli_runner().invoke(args=["plugins", "--json"])
    assert result.exit_code == 0, result.output
    described = {p["name"]: p for p in json.loads(result.output)}
    for name, types_ in BUILT_INS.items():
        assert described[name]["item_types"] == types_
        assert "register_item_types" in described[name]["hooks"]


def test_plugins_text_output_names_each_plugin_and_type():
    result = create_app(NO_DATABASE).test_cli_runner().invoke(args=["plugins"])
    assert "plugins.item_single_choice: single_choice" in result.output
    assert "plugins.item_multiple_response: multiple_response" in result.output


def test_plugins_json_respects_the_allow_list():
    app = create_app({**NO_DATABASE, "PLUGINS_ALLOWED": ["plugins.item_multiple_response"]})
    described = json.loads(app.test_cli_runner().invoke(args=["plugins", "--json"]).output)
    assert [(p["name"], p["item_types"]) for p in described] == [("plugins.item_multiple_response", ["multiple_response"])]


def test_plugins_json_names_the_item_types_of_an_extra_plugin():
    described = {p["name"]: p for p in describe_plugins(create_app(NO_DATABASE, plugins=(NUMERIC_PLUGIN,)))}
    assert described["numeric_exact_plugin"]["item_types"] == ["numeric_exact"]


# --- the new type, everywhere --------------------------------------------------------------------


@pytest.fixture
def numeric_app(database_url):
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": database_url, "CLOCK": FakeClock()}, plugins=(NUMERIC_PLUGIN,))
    yield app
    db.engine_for(app).dispose()


def test_the_new_type_is_registered_with_its_templates(numeric_app):
    assert isinstance(item_types(numeric_app)["numeric_exact"], NumericExact)
    assert numeric_app.jinja_env.get_template("itemtype-numeric_exact/candidate.html") is not None


def test_the_bank_checker_validates_the_new_type(numeric_app, tmp_path):
    runner = numeric_app.test_cli_runner()
    good = runner.invoke(args=["bank", "check", str(numeric_bank(tmp_path / "good"))])
    assert good.exit_code == 0, good.output
    assert "OK: 1 unit(s)" in good.output

    bank = numeric_bank(tmp_path / "broken", broken=True)
    numeric_file = bank / UNIT / "items" / "numeric.yaml"
    line = numeric_file.read_text().split("\n").index("    answer: lots") + 1
    broken = runner.invoke(args=["bank", "check", str(bank)])
    assert broken.exit_code != 0
    assert f"{numeric_file}:{line}: items[1].answer: must be a number, not 'lots'" in broken.output


def test_a_sitting_with_the_new_type_is_assembled_played_and_marked(numeric_app, tmp_path):
    from engine.demo import create_demo

    lines = create_demo(numeric_app, numeric_bank(tmp_path))
    keycode = re.search(r"keycode (\w+)\.", "\n".join(lines)).group(1)
    sitting_id = int(re.search(r"Sitting (\d+):", "\n".join(lines)).group(1))
    candidate = CandidateBrowser(numeric_app, "99001", "0001", keycode)
    candidate.sign_in()
    candidate.confirm()
    invigilator = Invigilator(numeric_app)
    invigilator.start(sitting_id)

    session = db.new_session(numeric_app)
    try:
        attempt = session.scalar(select(models.Attempt).join(models.Entry).join(models.Candidate)
                                 .where(models.Candidate.candidate_number == "0001"))
        form = [(fi.position, fi.item_version, fi.start_state) for fi in attempt.form_items]
    finally:
        session.close()
    assert "numeric_exact" in {v.type_name for _, v, _ in form} and len(form) == 5
    (position, numeric, state), = [row for row in form if row[1].type_name == "numeric_exact"]

    page = candidate.item_page(position).get_data(as_text=True)
    assert 'name="r-answer" value=""' in page
    assert "45 of its 60 calls" in page
    assert 'value="75"' not in page

    registry = item_types(numeric_app)
    wrong = candidate.answer(position, {"answer": "74"})
    assert wrong.status_code == 200 and "Saved" in wrong.get_data(as_text=True)
    for pos, version, start_state in form:
        plugin = registry[version.type_name]
        assert plugin.auto_marked
        fields = plugin.fields_for_response(version.definition, start_state, plugin.correct_response(version.definition))
        assert candidate.answer(pos, fields).status_code == 200
    assert 'value="75"' in candidate.item_page(position).get_data(as_text=True)  # the candidate's own answer
    assert candidate.submit().status_code == 303

    session = db.new_session(numeric_app)
    try:
        attempt = session.scalar(select(models.Attempt).join(models.Entry).join(models.Candidate)
                                 .where(models.Candidate.candidate_number == "0001"))
        numeric_item = next(fi for fi in attempt.form_items if fi.position == position)
        assert numeric_item.current_response == "75"
        assert numeric_item.marks_awarded == numeric_item.marks_available == Decimal(2)
        assert attempt.result.total == attempt.result.available == sum(v.marks for _, v, _ in form)
        assert attempt.result.passed
    finally:
        session.close()


def test_the_new_type_is_refused_by_an_app_without_the_plugin(app, tmp_path):
    """The same bank on the default app: the checker names the unknown type, nothing loads."""
    result = app.test_cli_runner().invoke(args=["bank", "load", str(numeric_bank(tmp_path))])
    assert result.exit_code != 0
    assert "unknown item type 'numeric_exact'" in result.output and "Nothing loaded" in result.output


def test_marking_the_new_type_goes_through_the_registry_only(numeric_app):
    plugin = item_types(numeric_app)["numeric_exact"]
    defn = {"stem": "<p>Q</p>", "marks": 2, "answer": 75}
    assert plugin.validate_definition(defn) == []
    assert plugin.mark(defn, plugin.parse_response(defn, {}, {"answer": [" 75.0 "]})).awarded == 2
    assert plugin.mark(defn, plugin.parse_response(defn, {}, {"answer": ["seventy-five"]})).outcome == "blank"
    assert plugin.mark(defn, "74").awarded == 0
