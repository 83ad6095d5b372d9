"""Matching, ordering and gap select: the behaviour the generic contract test cannot see.

Partial credit to the hundredth, positions and duplicates, gaps and their placeholders, reused
responses; the author forms of all five built-in choice-like types (a definition survives the
form, also as a browser would post it); and keyboard-only, labelled, drag-free templates.
"""
from __future__ import annotations

import copy
import json
import random
from decimal import Decimal
from html.parser import HTMLParser
from itertools import permutations
from pathlib import Path

import pytest
import yaml
from flask import render_template
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import create_app
from engine.candidate import FIELD_PREFIX
from engine.item_types import Problem
from engine.plugins import item_types
from engine.web import item_fields
from plugins.item_gap_select import split_at_gaps

from conftest import TEST_SETTINGS

FIXTURES = Path(__file__).parent / "fixtures" / "items"
STRUCTURED = ("matching", "ordering", "gap_select")
AUTHORED = ("single_choice", "multiple_response", *STRUCTURED)


@pytest.fixture(scope="module")
def template_app():
    """An app for its registry and templates; no database is touched."""
    return create_app({**TEST_SETTINGS, "DATABASE_URL": "sqlite://"})


@pytest.fixture(scope="module")
def types(template_app):
    return item_types(template_app)


def good(type_name: str) -> list[dict]:
    data = yaml.safe_load((FIXTURES / type_name / "examples.yaml").read_text(encoding="utf-8"))
    return [example["definition"] for example in data["good"]]


def example(type_name: str, name: str) -> dict:
    data = yaml.safe_load((FIXTURES / type_name / "examples.yaml").read_text(encoding="utf-8"))
    return copy.deepcopy(next(e["definition"] for e in data["good"] if e["name"] == name))


def paths(problems: list[Problem]) -> list[str]:
    return [p.path for p in problems]


def mark_of(plugin, defn, response) -> tuple[Decimal, str]:
    mark = plugin.mark(defn, response)
    return mark.awarded, mark.outcome


class Browser(HTMLParser):
    """Reads an HTML fragment as a browser would: the fields it would post, in document order,
    and every form control with what labels it."""

    CONTROLS = {"input", "select", "textarea", "button"}

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.posted: list[tuple[str, str]] = []
        self.controls: list[tuple[str, dict]] = []
        self.tags: list[tuple[str, dict]] = []
        self.ids: set[str] = set()
        self.label_for: set[str] = set()
        self._select, self._options, self._option, self._textarea, self._text = None, [], None, None, []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "label" and a.get("for"):
            self.label_for.add(a["for"])
        if tag in self.CONTROLS:
            self.controls.append((tag, a))
        if tag == "input" and "disabled" not in a:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.posted.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button", "reset", "image", "file"):
                self.posted.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._options = a, []
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value"), "selected": "selected" in a, "text": ""}
            self._options.append(self._option)
        elif tag == "textarea":
            self._textarea, self._text = a, []

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)
        elif self._option is not None:
            self._option["text"] += data

    def handle_endtag(self, tag):
        if tag == "option":
            self._option = None
        elif tag == "select" and self._select is not None:
            chosen = [o for o in self._options if o["selected"]][-1:] or self._options[:1]
            if chosen and "disabled" not in self._select:
                value = chosen[0]["value"] if chosen[0]["value"] is not None else chosen[0]["text"]
                self.posted.append((self._select["name"], value))
            self._select = self._option = None
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            # The HTML parser drops one newline straight after <textarea>; html.parser does not.
            self.posted.append((self._textarea["name"], text[1:] if text.startswith("\n") else text))
            self._textarea = None

    def form(self, prefix: str = "") -> dict[str, list[str]]:
        fields: dict[str, list[str]] = {}
        for name, value in self.posted:
            if name.startswith(prefix):
                fields.setdefault(name[len(prefix):], []).append(value)
        return fields

    def unlabelled(self) -> list[dict]:
        """Controls a screen reader would announce without a name."""
        missing = []
        for tag, a in self.controls:
            if a.get("type") == "hidden":
                continue
            labelled_by = a.get("aria-labelledby", "").split()
            if (a.get("id") in self.label_for or a.get("aria-label", "").strip()
                    or (labelled_by and all(i in self.ids for i in labelled_by))):
                continue
            missing.append(a)
        return missing


def render_candidate(plugin, defn, state, response, readonly=False) -> str:
    return render_template(f"itemtype-{plugin.type_name}/candidate.html",
                           ctx=plugin.candidate_context(defn, state, response),
                           prefix=FIELD_PREFIX, number=3, marks=Decimal(str(defn["marks"])), readonly=readonly)


# --- matching ---------------------------------------------------------------------------------------


def test_matching_per_pair_gives_a_share_for_each_right_pair_to_the_hundredth(types):
    plugin = types["matching"]
    defn = example("matching", "three premises for one mark, pairs out of written order")  # 1 mark, 3 premises
    assert mark_of(plugin, defn, {"a": "x", "b": "y", "c": "z"}) == (Decimal("0"), "incorrect")
    assert mark_of(plugin, defn, {"a": "z", "b": "y", "c": "x"}) == (Decimal("0.33"), "partial")
    assert mark_of(plugin, defn, {"a": "z", "b": "x", "c": "x"}) == (Decimal("0.67"), "partial")
    assert mark_of(plugin, defn, {"a": "z", "b": "x", "c": "y"}) == (Decimal("1"), "correct")
    # Unanswered premises are wrong pairs; unknown premises and non-text answers are ignored.
    assert mark_of(plugin, defn, {"a": "z"}) == (Decimal("0.33"), "partial")
    assert mark_of(plugin, defn, {"nope": "z", "a": 7}) == (Decimal("0"), "blank")

    three = example("matching", "acts to what they cover, with a distractor, per pair by default")
    assert mark_of(plugin, three, {"p1": "r1", "p2": "r4", "p3": "r3"}) == (Decimal("2"), "partial")
    assert mark_of(plugin, three, {"p1": "r4"}) == (Decimal("0"), "incorrect")


def test_matching_all_or_nothing_gives_nothing_for_some_right_pairs(types):
    plugin = types["matching"]
    defn = example("matching", "all or nothing, half marks")
    assert mark_of(plugin, defn, {"internal": "colleague", "external": "colleague"}) == (Decimal("0"), "incorrect")
    assert mark_of(plugin, defn, {"internal": "colleague"}) == (Decimal("0"), "incorrect")
    assert mark_of(plugin, defn, {"internal": "colleague", "external": "shopper"}) == (Decimal("1.5"), "correct")


def test_matching_response_used_twice_needs_reuse_responses(types):
    plugin = types["matching"]
    defn = example("matching", "explicit per pair, responses reused, written order kept")
    assert plugin.validate_definition(defn) == []
    without = {k: v for k, v in defn.items() if k != "reuse_responses"}
    problems = plugin.validate_definition(without)
    assert paths(problems) == ["pairs.reputation", "pairs.systems"]
    assert "reuse_responses" in problems[0].message and "'benefit'" in problems[0].message
    assert paths(plugin.validate_definition({**without, "reuse_responses": False})) == paths(problems)

    # The candidate may give one answer to several premises, and is told when that is allowed.
    state = plugin.start_attempt(defn, random.Random(0))
    assert state == {"premises": ["loyalty", "training", "reputation", "systems"], "responses": ["benefit", "cost"]}
    response = plugin.parse_response(defn, state, {"match-0": ["0"], "match-1": ["1"], "match-2": ["0"], "match-3": ["1"]})
    assert response == defn["pairs"]
    assert mark_of(plugin, defn, response) == (Decimal("4"), "correct")
    assert mark_of(plugin, defn, {**response, "systems": "benefit"}) == (Decimal("3"), "partial")
    assert plugin.candidate_context(defn, state, None)["may_reuse"] is True
    assert plugin.candidate_context(without, state, None)["may_reuse"] is False


def test_matching_pairs_problems_name_the_premise(types):
    plugin = types["matching"]
    defn = example("matching", "acts to what they cover, with a distractor, per pair by default")
    assert paths(plugin.validate_definition({**defn, "pairs": {"p1": "r1", "p3": "r9", "x": "r2"}})) == \
        ["pairs.x", "pairs.p2", "pairs.p3"]
    image_only = copy.deepcopy(defn)
    image_only["responses"][3]["text"] = '<img src="chart.png" alt="A chart">'
    assert paths(plugin.validate_definition(image_only)) == ["responses[3].text"]


def test_matching_parse_keeps_only_in_range_positions(types):
    plugin = types["matching"]
    defn = example("matching", "acts to what they cover, with a distractor, per pair by default")
    state = {"premises": ["p3", "p1", "p2"], "responses": ["r4", "r3", "r2", "r1"]}
    assert plugin.parse_response(defn, state, {"match-0": [""], "match-1": ["4"], "match-2": ["x"],
                                               "match-3": ["0"], "choice": ["1"]}) is None
    assert plugin.parse_response(defn, state, {"match-0": ["1", "0"], "match-1": ["3"], "match-2": ["²"]}) == \
        {"p3": "r3", "p1": "r1"}
    fields = plugin.fields_for_response(defn, state, {"p3": "r3", "p1": "r1", "zz": "r2"})
    assert fields == {"match-0": ["1"], "match-1": ["3"]}


def test_matching_page_lists_responses_as_text_in_the_attempts_order(template_app, types):
    plugin = types["matching"]
    defn = plugin.sanitise_definition({
        "stem": "<p>Match them.</p>", "marks": 2,
        "premises": [{"id": "p1", "text": "<em>First</em> premise"}, {"id": "p2", "text": "Second"}],
        "responses": [{"id": "r1", "text": "<strong>Costs</strong> & benefits"}, {"id": "r2", "text": "A < B"}],
        "pairs": {"p1": "r1", "p2": "r2"},
    })
    state = {"premises": ["p2", "p1"], "responses": ["r2", "r1"]}
    with template_app.test_request_context():
        html = render_candidate(plugin, defn, state, {"p1": "r1"})
    page = Browser(html)
    selects = [a for tag, a in page.controls if tag == "select"]
    assert [a["name"] for a in selects] == ["r-match-0", "r-match-1"]
    assert '<div class="match-premise" id="r-match-1-label"><em>First</em> premise</div>' in html
    assert html.count(">A &lt; B</option>") == 2 and html.count(">Costs &amp; benefits</option>") == 2
    assert '<option value="1" selected>Costs &amp; benefits</option>' in html  # p1 (shown second) chose r1
    assert page.form("r-") == {"match-0": [""], "match-1": ["1"]}
    assert plugin.parse_response(defn, state, page.form("r-")) == {"p1": "r1"}


def test_matching_summary_lists_every_premise(types):
    plugin = types["matching"]
    defn = example("matching", "acts to what they cover, with a distractor, per pair by default")
    assert plugin.summarise_response(defn, {"p1": "r1", "p3": "r4"}) == (
        "Trade Descriptions Act 1968 → Accurate descriptions of products and services; "
        "Consumer Contracts Regulations 2013 → (no answer); Data Protection Act 1998 → Credit agreements")
    assert plugin.summarise_response(defn, {"p1": ["r1"]}) == ""


# --- ordering ---------------------------------------------------------------------------------------


def test_ordering_is_never_shown_in_the_correct_order(types):
    plugin = types["ordering"]
    defn = example("ordering", "complaint handling, per position")
    ids = [i["id"] for i in defn["items"]]
    seen = {tuple(plugin.start_attempt(defn, random.Random(seed))["order"]) for seed in range(300)}
    assert seen == set(permutations(ids)) - {tuple(ids)}


def test_ordering_per_position_gives_a_share_for_each_item_in_place(types):
    plugin = types["ordering"]
    four = example("ordering", "per position, one mark over four items")  # log, investigate, respond, review
    assert mark_of(plugin, four, ["log", "investigate", "review", "respond"]) == (Decimal("0.5"), "partial")
    assert mark_of(plugin, four, ["investigate", "log", "review", "respond"]) == (Decimal("0"), "incorrect")
    assert mark_of(plugin, four, ["log", None, None, "review"]) == (Decimal("0.5"), "partial")
    assert mark_of(plugin, four, ["log", "investigate", "respond", "review"]) == (Decimal("1"), "correct")
    three = example("ordering", "complaint handling, per position")  # 3 marks
    assert mark_of(plugin, three, ["listen", "agree", "apologise"]) == (Decimal("1"), "partial")
    assert mark_of(plugin, three, [None, "apologise"]) == (Decimal("1"), "partial")


def test_ordering_exact_is_all_or_nothing(types):
    plugin = types["ordering"]
    defn = example("ordering", "customer journey stages, exact by default")
    assert mark_of(plugin, defn, ["s1", "s2", "s4", "s3"]) == (Decimal("0"), "incorrect")
    assert mark_of(plugin, defn, ["s1", "s2", "s3", None]) == (Decimal("0"), "incorrect")
    assert mark_of(plugin, defn, ["s1", "s2", "s3", "s4"]) == (Decimal("2"), "correct")


def test_ordering_stored_lists_the_form_cannot_make_score_zero(types):
    plugin = types["ordering"]
    defn = example("ordering", "per position, one mark over four items")
    right = ["log", "investigate", "respond", "review"]
    assert mark_of(plugin, defn, right + ["log"]) == (Decimal("0"), "incorrect")
    assert mark_of(plugin, defn, ["log", "log", "respond", "review"]) == (Decimal("0"), "incorrect")
    assert mark_of(plugin, defn, [None, None]) == (Decimal("0"), "blank")
    assert mark_of(plugin, defn, [1, 2, 3, 4]) == (Decimal("0"), "blank")


def test_ordering_partial_order_keeps_its_gaps(types):
    plugin = types["ordering"]
    defn = example("ordering", "per position, one mark over four items")
    state = {"order": ["review", "respond", "log", "investigate"]}
    response = plugin.parse_response(defn, state, {"position-2": ["1"], "position-0": ["4"]})
    assert response == ["log", None, None, "review"]
    assert plugin.fields_for_response(defn, state, response) == {"position-2": ["1"], "position-0": ["4"]}
    assert plugin.summarise_response(defn, response) == \
        "1. Log the complaint; 2. (empty); 3. (empty); 4. Review the outcome"
    assert plugin.candidate_context(defn, state, response)["rows"] == [
        {"html": "Review the outcome", "selected": 4}, {"html": "Respond to the customer", "selected": None},
        {"html": "Log the complaint", "selected": 1}, {"html": "Investigate", "selected": None}]


def test_ordering_duplicate_position_goes_to_the_item_shown_first(types):
    plugin = types["ordering"]
    defn = example("ordering", "per position, one mark over four items")
    state = {"order": ["review", "respond", "log", "investigate"]}
    posted = {"position-2": ["1"], "position-3": ["2"], "position-0": ["1"], "position-1": ["1"]}
    # The dict order of the fields does not matter: display order decides.
    for fields in (posted, dict(reversed(list(posted.items())))):
        response = plugin.parse_response(defn, state, fields)
        assert response == ["review", "investigate", None, None]
    # Shown again, only the item that kept position 1 shows it.
    shown = [row["selected"] for row in plugin.candidate_context(defn, state, response)["rows"]]
    assert shown == [1, None, None, 2]
    assert mark_of(plugin, defn, response) == (Decimal("0.25"), "partial")


def test_ordering_ignores_positions_out_of_range(types):
    plugin = types["ordering"]
    defn = example("ordering", "per position, one mark over four items")
    state = plugin.start_attempt(defn, random.Random(4))
    for value in ("0", "5", "-1", "1.0", " 1", "1\n", "²", "", "x", "0" * 5000 + "1"):
        assert plugin.parse_response(defn, state, {"position-0": [value]}) is None, value
    assert plugin.parse_response(defn, state, {"position-4": ["1"], "position-x": ["1"]}) is None


def test_ordering_has_no_shuffle_setting(types):
    plugin = types["ordering"]
    defn = example("ordering", "customer journey stages, exact by default")
    for value in (False, True, "yes"):
        assert paths(plugin.validate_definition({**defn, "shuffle": value})) == ["shuffle"]


# --- gap select -------------------------------------------------------------------------------------


def test_gap_select_placeholders_and_gaps_must_match(types):
    plugin = types["gap_select"]
    defn = example("gap_select", "consumer rights, two gaps")
    extra_placeholder = {**defn, "text": defn["text"] + " <p>And [[g3]].</p>"}
    problems = plugin.validate_definition(extra_placeholder)
    assert paths(problems) == ["text"] and "[[g3]] has no gap" in problems[0].message
    missing_placeholder = {**defn, "text": defn["text"].replace("[[g2]]", "six")}
    problems = plugin.validate_definition(missing_placeholder)
    assert paths(problems) == ["gaps[1].id"] and "[[g2]]" in problems[0].message
    # A placeholder that sanitising removes (inside a script) is as good as missing.
    hidden = {**defn, "text": defn["text"].replace("[[g2]]", "<script>[[g2]]</script>")}
    assert paths(plugin.validate_definition(hidden)) == ["gaps[1].id"]
    in_attribute = {**defn, "text": defn["text"].replace("[[g2]]", '<abbr title="[[g2]]">six</abbr>')}
    problems = plugin.validate_definition(in_attribute)
    assert paths(problems) == ["text", "gaps[1].id"] and "inside an HTML tag" in problems[0].message
    bad_name = {**defn, "text": defn["text"].replace("[[g2]]", "[[g 2]]")}
    assert paths(plugin.validate_definition(bad_name)) == ["text", "gaps[1].id"]
    no_gaps = {**defn, "text": "<p>Nothing to fill.</p>"}
    assert paths(plugin.validate_definition(no_gaps)) == ["text", "gaps[0].id", "gaps[1].id"]


def test_gap_select_option_problems_name_the_option(types):
    plugin = types["gap_select"]
    defn = example("gap_select", "consumer rights, two gaps")
    broken = copy.deepcopy(defn)
    broken["gaps"][0]["options"] = ["14", "<em>14</em>", '<img src="x.png" alt="x">', "  "]
    broken["gaps"][1]["key"] = 6
    assert paths(plugin.validate_definition(broken)) == \
        ["gaps[0].options[1]", "gaps[0].options[2]", "gaps[0].options[3]", "gaps[0].key", "gaps[1].key"]


def test_gap_select_splits_marks_equally_per_gap(types):
    plugin = types["gap_select"]
    defn = example("gap_select", "gaps listed out of text order, options as written, one mark over three gaps")
    assert mark_of(plugin, defn, {"step": "step"}) == (Decimal("0.33"), "partial")
    assert mark_of(plugin, defn, {"step": "step", "touch": "price", "feels": "feels"}) == (Decimal("0.67"), "partial")
    assert mark_of(plugin, defn, {"step": "sale", "touch": "price"}) == (Decimal("0"), "incorrect")
    assert mark_of(plugin, defn, {"step": "step", "touch": "touchpoint", "feels": "feels"}) == (Decimal("1"), "correct")
    assert mark_of(plugin, defn, {"elsewhere": "step", "step": 1}) == (Decimal("0"), "blank")
    two = example("gap_select", "consumer rights, two gaps")
    assert mark_of(plugin, two, {"g1": "30", "g2": "12"}) == (Decimal("1"), "partial")


def test_gap_select_numbers_gaps_in_the_order_of_the_passage(template_app, types):
    plugin = types["gap_select"]
    defn = example("gap_select", "gaps listed out of text order, options as written, one mark over three gaps")
    state = plugin.start_attempt(defn, random.Random(0))
    assert state == {"orders": {"touch": [0, 1, 2], "step": [0, 1, 2], "feels": [0, 1, 2]}}  # shuffle: false
    with template_app.test_request_context():
        html = render_candidate(plugin, defn, state, None)
    page = Browser(html)
    assert [a["name"] for tag, a in page.controls] == ["r-gap-0", "r-gap-1", "r-gap-2"]
    # Each drop-down sits where its placeholder was, with its own label.
    assert html.index("each ") < html.index('for="r-gap-0">Gap 1<') < html.index(">sale<") \
        < html.index(" a customer takes, the ") < html.index('for="r-gap-1">Gap 2<') < html.index(">price<")
    assert "[[" not in html
    response = plugin.parse_response(defn, state, {"gap-0": ["1"], "gap-1": ["0"], "gap-2": ["2"]})
    assert response == {"step": "sale", "touch": "touchpoint", "feels": "complains"}
    assert plugin.summarise_response(defn, response) == "Gap 1: sale; Gap 2: touchpoint; Gap 3: complains"
    assert plugin.summarise_response(defn, {"touch": "touchpoint"}) == \
        "Gap 1: (no answer); Gap 2: touchpoint; Gap 3: (no answer)"


def test_gap_select_options_are_escaped_text(template_app, types):
    plugin = types["gap_select"]
    defn = {"stem": "<p>Q</p>", "marks": 1, "text": "<p>It is [[g]].</p>",
            "gaps": [{"id": "g", "options": ["A < B & C", '<em>"quoted"</em>', "x</option></select><script>alert(1)</script>"],
                      "key": "A < B & C"}]}
    for definition in (plugin.sanitise_definition(defn), defn):  # defence in depth: unsanitised too
        state = {"orders": {"g": [2, 1, 0]}}
        with template_app.test_request_context():
            html = render_candidate(plugin, definition, state, None)
        assert "<script" not in html and "alert" not in html
        assert '<option value="0">x</option><option value="1">&#34;quoted&#34;</option>' \
               '<option value="2">A &lt; B &amp; C</option></select>' in html
    cleaned = plugin.sanitise_definition(defn)
    assert plugin.validate_definition(cleaned) == []
    response = plugin.parse_response(cleaned, state, {"gap-0": ["2"]})
    assert mark_of(plugin, cleaned, response) == (Decimal("1"), "correct")


def test_split_at_gaps_only_splits_words():
    html = '<p title="[[a]]">x [[b]] y</p><p>[[c]][[b]]</p>'
    assert split_at_gaps(html) == (['<p title="[[a]]">x ', ' y</p><p>', '', '</p>'], ["b", "c", "b"], ["a"])
    # Rendering only splits at known gaps, each once; the rest stays as written.
    assert split_at_gaps(html, {"b"}) == (['<p title="[[a]]">x ', " y</p><p>[[c]][[b]]</p>"], ["b"], ["a"])


# --- every structured type: through the template and back ------------------------------------------


@pytest.mark.parametrize("type_name", STRUCTURED)
def test_page_posts_back_what_it_shows(template_app, types, type_name):
    """The candidate's saved answer, shown again and posted as it stands, is the same answer."""
    plugin = types[type_name]
    for defn in good(type_name):
        for seed in range(5):
            state = plugin.start_attempt(defn, random.Random(seed))
            correct = plugin.correct_response(defn)
            with template_app.test_request_context():
                html = render_candidate(plugin, defn, state, correct)
                blank = Browser(render_candidate(plugin, defn, state, None)).form(FIELD_PREFIX)
            assert plugin.parse_response(defn, state, Browser(html).form(FIELD_PREFIX)) == correct
            assert plugin.parse_response(defn, state, blank) is None
            with template_app.test_request_context(method="POST", data={
                    f"{FIELD_PREFIX}{k}": v for k, v in plugin.fields_for_response(defn, state, correct).items()}):
                assert plugin.parse_response(defn, state, item_fields(FIELD_PREFIX)) == correct


@pytest.mark.parametrize("type_name", STRUCTURED)
def test_candidate_template_is_keyboard_operable_and_labelled(template_app, types, type_name):
    plugin = types[type_name]
    for defn in good(type_name):
        state = plugin.start_attempt(defn, random.Random(1))
        with template_app.test_request_context():
            html = render_candidate(plugin, defn, state, None)
            readonly = render_candidate(plugin, defn, state, plugin.correct_response(defn), readonly=True)
        page = Browser(html)
        assert html.lstrip("\n").startswith("<fieldset") and "<legend>Question 3" in html
        assert page.controls and {tag for tag, _ in page.controls} == {"select"}
        assert page.unlabelled() == []
        for tag, attrs in page.tags:
            assert "draggable" not in attrs and not any(a.startswith("on") for a in attrs), (tag, attrs)
            assert int(attrs.get("tabindex") or 0) <= 0, (tag, attrs)
        assert all("disabled" in a for _, a in Browser(readonly).controls)


@pytest.mark.parametrize("type_name", STRUCTURED)
def test_review_shows_the_answer_beside_the_key(template_app, types, type_name):
    """Staff review (the typed types' convention: defn, response, number, marks, mark), written order."""
    plugin = types[type_name]
    defn = plugin.sanitise_definition(good(type_name)[1 if type_name == "ordering" else 0])  # ordering: per_position
    correct = plugin.correct_response(defn)
    # Partly right: the first answer kept, the rest left out.
    if isinstance(correct, dict):
        response = {next(iter(correct)): correct[next(iter(correct))]}
    else:
        response = [correct[0]] + [None] * (len(correct) - 1)

    def review(response, mark=None):
        with template_app.test_request_context():
            return render_template(f"itemtype-{type_name}/review.html", defn=defn, response=response, number=4,
                                   marks=Decimal(str(defn["marks"])), mark=mark)

    html = review(response, plugin.mark(defn, response))
    assert "Question 4" in html and "partial" in html
    if type_name == "matching":
        assert html.count("No answer") == 2 and html.count("<td>Yes</td>") == 1 and html.count("<td>No</td>") == 2
        assert "<td>Processing of personal data</td>" in html
        assert "<th scope=\"row\">Trade Descriptions Act 1968</th>\n        <td>Accurate descriptions" in html
    elif type_name == "ordering":
        assert html.count("No answer") == 2 and html.count("<td>Yes</td>") == 1
    else:
        assert "[30 (right)]" in html and "[No answer (wrong; key: 6)]" in html and "[[" not in html
    for garbage in (None, {"x": [1]}, [[1]], "s1", 42, {next(iter(correct)) if isinstance(correct, dict) else "x": ["nope"]}):
        shown = review(garbage)
        assert "No answer" in shown and "<td>Yes</td>" not in shown and "(right)" not in shown


# --- author forms (all five types) ---------------------------------------------------------------------


@pytest.mark.parametrize("type_name", AUTHORED)
def test_author_form_round_trip(types, type_name):
    plugin = types[type_name]
    for defn in good(type_name):
        data = plugin.author_form_data(defn)
        assert all(isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
                   for k, v in data.items())
        assert plugin.parse_author_form(data) == defn


@pytest.mark.parametrize("type_name", AUTHORED)
def test_author_form_round_trip_through_the_browser(template_app, types, type_name):
    """The rendered author form, posted as it stands (spare rows blank), gives the definition back."""
    plugin = types[type_name]
    for defn in good(type_name):
        with template_app.test_request_context():
            html = render_template(f"itemtype-{type_name}/author.html", form=plugin.author_form_data(defn), prefix="a-")
        page = Browser(html)
        assert page.unlabelled() == []
        assert {tag for tag, _ in page.controls} <= {"input", "select", "textarea"}
        posted = page.form("a-")
        # Browsers post a textarea's line ends as CRLF.
        posted = {k: [v.replace("\n", "\r\n") for v in values] for k, values in posted.items()}
        parsed = plugin.parse_author_form(posted)
        if type_name == "multiple_response":  # ticked boxes come in page order; the order of keys is no matter
            parsed["keys"], defn = sorted(parsed["keys"]), {**defn, "keys": sorted(defn["keys"])}
        assert parsed == defn


@pytest.mark.parametrize("type_name", AUTHORED)
def test_blank_author_form_names_what_is_missing(template_app, types, type_name):
    plugin = types[type_name]
    with template_app.test_request_context():
        html = render_template(f"itemtype-{type_name}/author.html", form={})
    defn = plugin.parse_author_form(Browser(html).form())
    problems = paths(plugin.validate_definition(defn))
    assert {"stem", "marks"} <= set(problems)
    with template_app.test_request_context():
        shown = render_template(f"itemtype-{type_name}/author.html", form={},
                                problems=plugin.validate_definition(defn))
    assert 'role="alert"' in shown and "<code>stem</code>" in shown


def test_new_rows_get_ids_and_spare_rows_are_skipped(types):
    matching = types["matching"]
    form = {"stem": ["<p>Match.</p>"], "marks": ["2"], "scoring": [""], "shuffle": [""], "reuse_responses": [""],
            "premise-0-text": ["Alpha"], "premise-0-id": [""], "premise-0-response": ["#1"],
            "premise-1-text": ["Beta"], "premise-1-id": ["p1"], "premise-1-response": ["#0"],
            "premise-2-text": [""], "premise-2-id": [""], "premise-2-response": [""],
            "response-0-text": ["One"], "response-0-id": [""],
            "response-1-text": ["Two"], "response-1-id": [" "],
            "response-2-text": ["Three"], "response-2-id": ["r1"]}
    defn = matching.parse_author_form(form)
    assert defn == {"stem": "<p>Match.</p>", "marks": 2,
                    "premises": [{"id": "p2", "text": "Alpha"}, {"id": "p1", "text": "Beta"}],
                    "responses": [{"id": "r2", "text": "One"}, {"id": "r3", "text": "Two"}, {"id": "r1", "text": "Three"}],
                    "pairs": {"p2": "r3", "p1": "r2"}}
    assert matching.validate_definition(defn) == []

    gap = types["gap_select"]
    defn = gap.parse_author_form({"stem": ["<p>Fill.</p>"], "marks": ["1.5"], "shuffle": ["false"],
                                  "text": ["<p>[[g1]] and [[g2]]</p>"],
                                  "gap-0-id": [""], "gap-0-options": ["a\r\n\r\n b \r\nc"], "gap-0-key": ["b"],
                                  "gap-1-id": [""], "gap-1-options": ["x\ny"], "gap-1-key": [" y "],
                                  "gap-2-id": [""], "gap-2-options": [""], "gap-2-key": [""]})
    assert defn["marks"] == 1.5 and defn["shuffle"] is False
    assert defn["gaps"] == [{"id": "g1", "options": ["a", "b", "c"], "key": "b"},
                            {"id": "g2", "options": ["x", "y"], "key": "y"}]
    assert gap.validate_definition(defn) == []

    single = types["single_choice"]
    defn = single.parse_author_form({"stem": ["<p>Q</p>"], "marks": ["1"], "key": ["#1"],
                                     "option-0-text": ["Yes"], "option-1-text": ["No"], "option-1-pinned": ["true"],
                                     "option-5-text": [""]})
    assert defn == {"stem": "<p>Q</p>", "marks": 1, "key": "o2",
                    "options": [{"id": "o1", "text": "Yes"}, {"id": "o2", "text": "No", "pinned": True}]}


def test_author_form_keeps_what_it_cannot_read_for_the_validator(types):
    """Marks that are not a number, a setting that is not a choice: kept so the validator names them."""
    plugin = types["ordering"]
    defn = plugin.parse_author_form({"stem": ["<p>Q</p>"], "marks": ["two"], "scoring": ["sometimes"],
                                     "item-0-text": ["A"], "item-1-text": ["B"], "item-2-text": ["C"]})
    assert defn["marks"] == "two" and defn["scoring"] == "sometimes"
    assert paths(plugin.validate_definition(defn)) == ["marks", "scoring"]


# --- shuffling and fuzzed fields ------------------------------------------------------------------------


def test_matching_and_gap_select_shuffle_unless_told_not_to(types):
    matching = types["matching"]
    defn = example("matching", "acts to what they cover, with a distractor, per pair by default")
    states = [matching.start_attempt(defn, random.Random(seed)) for seed in range(30)]
    assert len({tuple(s["premises"]) for s in states}) > 1 and len({tuple(s["responses"]) for s in states}) > 1
    assert all(sorted(s["responses"]) == ["r1", "r2", "r3", "r4"] for s in states)
    assert matching.start_attempt({**defn, "shuffle": False}, random.Random(3)) == \
        {"premises": ["p1", "p2", "p3"], "responses": ["r1", "r2", "r3", "r4"]}

    gap = types["gap_select"]
    defn = example("gap_select", "consumer rights, two gaps")
    orders = {json_key(gap.start_attempt(defn, random.Random(seed))) for seed in range(30)}
    assert len(orders) > 1
    assert gap.start_attempt({**defn, "shuffle": False}, random.Random(3)) == {"orders": {"g1": [0, 1, 2], "g2": [0, 1, 2]}}


def json_key(state) -> str:
    return json.dumps(state, sort_keys=True)


FIELD_NAMES = {"matching": "match", "ordering": "position", "gap_select": "gap"}


@pytest.mark.parametrize("type_name", STRUCTURED)
def test_any_posted_fields_parse_and_mark_within_bounds(types, type_name):
    """Fuzzed fields under the type's own names: parsing never raises and marks stay in bounds."""
    plugin = types[type_name]
    names = st.builds(lambda i: f"{FIELD_NAMES[type_name]}-{i}", st.integers(-1, 6)) | st.text(max_size=8)
    values = st.lists(st.one_of(st.integers(-2, 8).map(str), st.text(max_size=4)), max_size=3)

    definitions = good(type_name)

    @settings(max_examples=150, deadline=None)
    @given(fields=st.dictionaries(names, values, max_size=8), seed=st.integers(0, 2**31), index=st.integers(0, 10))
    def check(fields, seed, index):
        defn = definitions[index % len(definitions)]
        state = plugin.start_attempt(defn, random.Random(seed))
        response = plugin.parse_response(defn, state, fields)
        assert json.loads(json.dumps(response)) == response
        mark = plugin.mark(defn, response)
        assert Decimal(0) <= mark.awarded <= mark.available == Decimal(str(defn["marks"]))
        assert (response is None) == (mark.outcome == "blank")
        assert isinstance(plugin.summarise_response(defn, response), str)
        if response is not None:
            assert plugin.parse_response(defn, state, plugin.fields_for_response(defn, state, response)) == response

    check()
