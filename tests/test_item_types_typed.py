"""The typed item types: gap fill (text entry), numeric, short text and extended response.

The generic contract test runs over these too; this file holds what is particular to them:
the matching rules, Decimal tolerances, the candidate's "not a number" message, the mark scheme
that must never reach a candidate, author forms and accessible templates.
"""
from __future__ import annotations

import copy
import json
import random
import re
import unicodedata
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from flask import render_template
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from engine import create_app, text_matching
from engine.item_types import Mark, marks_of
from engine.plugins import item_types
from conftest import TEST_SETTINGS
from plugins.item_extended_response import MAX_CHARS as ESSAY_MAX_CHARS
from plugins.item_numeric import parse_number

FIXTURES = Path(__file__).parent / "fixtures" / "items"
TYPED = ("text_entry", "numeric", "short_text", "extended_response")
APP = create_app({**TEST_SETTINGS, "DATABASE_URL": "sqlite://"})  # no database is touched
REGISTRY = item_types(APP)
PROPERTY = settings(max_examples=200, deadline=None)


def good(type_name: str) -> list[dict]:
    data = yaml.safe_load((FIXTURES / type_name / "examples.yaml").read_text(encoding="utf-8"))
    return [example["definition"] for example in data["good"]]


GOOD = [pytest.param(t, d, id=f"{t}:{i}") for t in TYPED for i, d in enumerate(good(t))]


def render(template: str, **context) -> str:
    with APP.test_request_context():
        return render_template(template, **context)


def candidate_html(type_name: str, defn: dict, response=None, readonly=False) -> str:
    plugin = REGISTRY[type_name]
    state = plugin.start_attempt(defn, random.Random(1))
    return render(f"itemtype-{type_name}/candidate.html", ctx=plugin.candidate_context(defn, state, response),
                  prefix="r-", number=4, marks=marks_of(defn), readonly=readonly)


def post(type_name: str, defn: dict, **fields: str):
    """What ``parse_response`` makes of one posted value per field."""
    plugin = REGISTRY[type_name]
    return plugin.parse_response(defn, plugin.start_attempt(defn, random.Random(1)),
                                 {name.replace("_", "-"): [value] for name, value in fields.items()})


class Page(HTMLParser):
    """Tags with their attributes, labels, and the values a browser would post from a form."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.label_for: list[str] = []
        self.open: list[str] = []
        self.fields: dict[str, list[str]] = {}
        self._textarea: str | None = None
        self._select: str | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "label" and attrs.get("for"):
            self.label_for.append(attrs["for"])
        if tag == "input" and attrs.get("type") not in ("checkbox", "radio"):
            self.fields.setdefault(attrs["name"], []).append(attrs.get("value") or "")
        if tag == "input" and attrs.get("type") in ("checkbox", "radio") and "checked" in attrs:
            self.fields.setdefault(attrs["name"], []).append(attrs.get("value") or "on")
        if tag == "textarea":
            self._textarea = attrs["name"]
            self.fields.setdefault(self._textarea, []).append("")
        if tag == "select":
            self._select = attrs["name"]
        if tag == "option" and "selected" in attrs and self._select:
            self.fields.setdefault(self._select, []).append(attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        if tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea is not None:
            # The HTML parser drops one newline straight after <textarea>, as browsers do.
            current = self.fields[self._textarea][-1]
            self.fields[self._textarea][-1] = current + (data[1:] if not current and data.startswith("\n") else data)

    def controls(self) -> list[tuple[str, dict]]:
        return [(t, a) for t, a in self.tags if t in ("input", "select", "textarea") and a.get("type") != "hidden"]


# --- the matching rules -------------------------------------------------------------------------------

RULES = text_matching.MatchRules()


@pytest.mark.parametrize("typed", ["Consumer Rights Act", "consumer rights act", "CONSUMER RIGHTS ACT",
                                   "  Consumer   Rights\tAct ", "Consumer\u00a0Rights Act"])
def test_case_and_white_space_are_ignored_by_default(typed):
    assert text_matching.matches(typed, ["Consumer Rights Act"], RULES)


def test_case_sensitive_and_exact_space_rules():
    strict = text_matching.MatchRules(case_sensitive=True, normalise_whitespace=False)
    assert text_matching.matches("ICO", ["ICO"], strict)
    assert not text_matching.matches("ico", ["ICO"], strict)
    assert not text_matching.matches(" ICO", ["ICO"], strict)
    assert not text_matching.matches("I  CO", ["I CO"], strict)


def test_case_folding_is_unicode_aware():
    assert text_matching.matches("STRASSE", ["straße"], RULES)
    assert not text_matching.matches("STRASSE", ["straße"], text_matching.MatchRules(case_sensitive=True))


@pytest.mark.parametrize("rules", [RULES, text_matching.MatchRules(case_sensitive=True, normalise_whitespace=False)])
def test_nfc_always_applies_to_both_sides(rules):
    decomposed, composed = "cafe\u0301", "caf\u00e9"
    assert decomposed != composed
    assert text_matching.matches(decomposed, [composed], rules)
    assert text_matching.matches(composed, [decomposed], rules)
    assert text_matching.matches("cre\u0300me bru\u0302le\u0301e", ["crème brûlée"], rules)
    assert not text_matching.matches("cafe", [composed], rules)  # the accent itself still counts


def test_ignore_punctuation_strips_only_the_listed_marks():
    rules = text_matching.MatchRules(ignore_punctuation=True)
    accepted = ["Trade Descriptions Act 1968"]
    for typed in ("Trade Descriptions Act, 1968.", "Trade Descriptions Act 1968!?", "'Trade Descriptions Act 1968'",
                  '"Trade Descriptions Act: 1968";', "Trade Descriptions Act , 1968"):
        assert text_matching.matches(typed, accepted, rules), typed
        assert not text_matching.matches(typed, accepted, RULES), typed
    assert not text_matching.matches("Trade-Descriptions Act 1968", accepted, rules)  # "-" is not in the list
    assert not text_matching.matches("Trade Descriptions Act (1968)", accepted, rules)


def test_typographic_quotes_count_as_plain_ones():
    assert text_matching.matches("Sainsbury\u2019s", ["Sainsbury's"], RULES)
    assert text_matching.matches("\u201cquoted\u201d", ['"quoted"'], RULES)


def test_blank_and_non_text_never_match():
    for typed in ("", "   ", None, 42, ["Act"]):
        assert not text_matching.matches(typed, ["Act"], RULES)
    assert not text_matching.matches("Act", "Act", RULES)  # accepted must be a list


@PROPERTY
@given(text=st.text(max_size=40), case=st.booleans(), spaces=st.booleans(), punctuation=st.booleans())
def test_normalising_is_idempotent_and_blind_to_composition(text, case, spaces, punctuation):
    rules = text_matching.MatchRules(case, spaces, punctuation)
    once = text_matching.normalise(text, rules)
    assert text_matching.normalise(once, rules) == once
    assert text_matching.normalise(unicodedata.normalize("NFD", text), rules) == \
        text_matching.normalise(unicodedata.normalize("NFC", text), rules)


# --- text entry -----------------------------------------------------------------------------------------

CRA = good("text_entry")[0]
ABBREVIATIONS = good("text_entry")[2]


def test_text_entry_marks_split_equally_per_gap():
    plugin = REGISTRY["text_entry"]
    assert plugin.mark(CRA, {"g1": "thirty", "g2": "consumer rights act"}) == Mark(Decimal(2), Decimal(2), "correct")
    assert plugin.mark(CRA, {"g1": " 30 ", "g2": "Sale of Goods Act"}) == Mark(Decimal("1.00"), Decimal(2), "partial")
    assert plugin.mark(CRA, {"g2": "Consumer Rights Act 2015"}) == Mark(Decimal("1.00"), Decimal(2), "partial")
    assert plugin.mark(CRA, {"g1": "14", "g2": "x"}) == Mark(Decimal(0), Decimal(2), "incorrect")
    assert plugin.mark(ABBREVIATIONS, {"ico": "ICO"}) == Mark(Decimal("1.00"), Decimal(3), "partial")
    assert plugin.mark(ABBREVIATIONS, {"ico": "ico", "cma": "CMA", "ts": "TS"}).awarded == 2  # case matters here
    # Two marks over three gaps: two thirds each, to the hundredth; all three give exactly 2.
    two = {**ABBREVIATIONS, "marks": 2}
    assert plugin.mark(two, {"ico": "ICO"}).awarded == Decimal("0.67")
    assert plugin.mark(two, {"ico": "ICO", "cma": "CMA"}).awarded == Decimal("1.33")
    assert plugin.mark(two, {"ico": "ICO", "cma": "CMA", "ts": "TS"}) == Mark(Decimal(2), Decimal(2), "correct")


def test_text_entry_gaps_are_numbered_in_reading_order_not_by_id():
    plugin = REGISTRY["text_entry"]
    # The gaps are listed ts, cma, ico; the passage reads ico, cma, ts.
    assert plugin.fields_for_response(ABBREVIATIONS, {}, {"ico": "ICO", "cma": "CMA", "ts": "TS"}) == \
        {"gap-1": ["ICO"], "gap-2": ["CMA"], "gap-3": ["TS"]}
    assert post("text_entry", ABBREVIATIONS, gap_1="ICO", gap_3="TS") == {"ico": "ICO", "ts": "TS"}


def test_text_entry_parse_ignores_what_is_not_its_own():
    assert post("text_entry", CRA, gap_1="   ", gap_2="") is None
    assert post("text_entry", CRA, gap_9="30", g1="30", choice="0") is None
    assert post("text_entry", CRA, gap_1="x" * 5000) == {"g1": "x" * 200}
    plugin = REGISTRY["text_entry"]
    assert plugin.parse_response(CRA, {}, {"gap-1": []}) is None
    assert plugin.parse_response(CRA, {}, {"gap-1": [None], "gap-2": ["30", "Act"]}) == {"g2": "30"}


def test_text_entry_renders_a_labelled_text_box_per_gap():
    html = candidate_html("text_entry", CRA, {"g1": '"><script>alert(1)</script>'})
    page = Page(html)
    boxes = [a for t, a in page.tags if t == "input"]
    assert [b["name"] for b in boxes] == ["r-gap-1", "r-gap-2"]
    for box in boxes:
        assert box["type"] == "text" and box["autocomplete"] == "off" and box["spellcheck"] == "false"
        assert box["maxlength"] == "200" and box["id"] in page.label_for
    assert ">Gap 1</label>" in html and ">Gap 2</label>" in html
    assert 'class="visually-hidden" for="r-gap-1"' in html
    assert "<script>" not in html and boxes[0]["value"] == '"><script>alert(1)</script>'
    # The passage reads on around the boxes, and no gap id or marker reaches the page.
    assert "within <label" in html and "> days of supply" in html
    assert "[[" not in html and "g1" not in html and "g2" not in html


def test_text_entry_validator_names_each_problem():
    plugin = REGISTRY["text_entry"]
    broken = copy.deepcopy(CRA)
    broken["gaps"][1]["answers"] = ["ok", 2015, ""]
    broken["text"] = broken["text"].replace("[[g2]]", "[[g3]]")
    paths = [p.path for p in plugin.validate_definition(broken)]
    assert "gaps[1].answers[1]" in paths and "gaps[1].answers[2]" in paths
    assert "gaps[1].id" in paths and "text" in paths


# --- numeric ----------------------------------------------------------------------------------------------

REFUND = good("numeric")[0]      # 12.5 ± 0.05, unit £
EIGHT = good("numeric")[1]       # exactly 8
LOAD = good("numeric")[2]        # 1250.4 ± 0.1 %, unit kg
SHORTFALL = good("numeric")[3]   # exactly -4.25


def typed_mark(defn: dict, raw: str) -> Mark:
    return REGISTRY["numeric"].mark(defn, post("numeric", defn, number=raw))


@pytest.mark.parametrize("raw, value", [
    ("12.5", "12.5"), (" 12.50 ", "12.50"), ("1,234.5", "1234.5"), ("-3", "-3"), ("+3", "3"), (".5", "0.5"),
    ("12.", "12"), ("1,000,000", "1000000"), ("\u22123", "-3"), ("１２.５", "12.5"), ("0012", "12"),
])
def test_numbers_a_candidate_may_type(raw, value):
    assert parse_number(raw) == Decimal(value)


@pytest.mark.parametrize("raw", [
    "twelve", "12,5", "1,23.5", "12,34,567", "1e3", "12.5.1", "--3", "1 234", "£", "", " ", "12/5", "0x1A",
    "١٢", "NaN", "Infinity", "12.5%", "1" * 41,
])
def test_what_is_not_a_number(raw):
    assert parse_number(raw) is None


def test_the_items_own_unit_may_be_typed():
    assert parse_number("£12.50", "£") == Decimal("12.50")
    assert parse_number("12.50 £", "£") == Decimal("12.50")
    assert parse_number("-£3", "£") == Decimal("-3")
    assert parse_number("1,250.4 KG", "kg") == Decimal("1250.4")
    assert parse_number("£12.50", None) is None and parse_number("$12.50", "£") is None


def test_numeric_exact():
    assert typed_mark(EIGHT, "8").outcome == "correct"
    assert typed_mark(EIGHT, "8.000").outcome == "correct"
    assert typed_mark(EIGHT, "8.0001").awarded == 0
    assert typed_mark(SHORTFALL, "-4.25").awarded == Decimal("1.5")
    assert typed_mark(SHORTFALL, "4.25").awarded == 0


def test_numeric_absolute_tolerance_includes_both_ends_exactly():
    for raw in ("12.45", "12.55", "12.5", "£12.46", "12.549999999999999999999999999999"):
        assert typed_mark(REFUND, raw).outcome == "correct", raw
    for raw in ("12.44999999999999999999999999999999", "12.55000000000000000000000000000001", "12.4", "13"):
        assert typed_mark(REFUND, raw).awarded == 0, raw


def test_numeric_tolerance_is_decimal_not_float():
    # In binary floating point 0.4 - 0.3 is 0.10000000000000003, just outside a tolerance of 0.1.
    assert 0.4 - 0.3 > 0.1
    defn = {"stem": "<p>Q</p>", "marks": 1, "answer": "0.3", "tolerance": {"type": "absolute", "value": "0.1"}}
    assert typed_mark(defn, "0.4").outcome == "correct"
    assert typed_mark(defn, "0.2").outcome == "correct"


def test_numeric_relative_tolerance_is_a_fraction_of_the_answer():
    # 1250.4 ± 0.1 %: ± 1.2504, so 1249.1496 to 1251.6504 inclusive.
    for raw in ("1249.1496", "1251.6504", "1,250", "1250.4 kg"):
        assert typed_mark(LOAD, raw).outcome == "correct", raw
    for raw in ("1249.1495", "1251.6505", "1252"):
        assert typed_mark(LOAD, raw).awarded == 0, raw
    negative = {"stem": "<p>Q</p>", "marks": 1, "answer": "-4.25", "tolerance": {"type": "relative", "value": "0.1"}}
    assert typed_mark(negative, "-4.675").outcome == "correct"
    assert typed_mark(negative, "-3.825").outcome == "correct"
    assert typed_mark(negative, "-4.676").awarded == 0


def test_numeric_response_keeps_what_was_typed():
    assert post("numeric", REFUND, number=" 1,2.5 ") == {"raw": " 1,2.5 ", "valid": False}
    assert post("numeric", REFUND, number="£12.50") == {"raw": "£12.50", "valid": True, "value": "12.50"}
    assert post("numeric", REFUND, number="   ") is None
    assert post("numeric", REFUND, number="9" * 500) == {"raw": "9" * 100, "valid": False}
    assert typed_mark(REFUND, "twelve") == Mark(Decimal(0), Decimal(1), "incorrect")
    # mark reads the typed text again: a response claiming to be valid is not believed.
    assert REGISTRY["numeric"].mark(REFUND, {"raw": "twelve", "valid": True, "value": "12.5"}).awarded == 0
    assert REGISTRY["numeric"].mark(REFUND, None).outcome == "blank"
    assert REGISTRY["numeric"].summarise_response(REFUND, {"raw": "twelve", "valid": False}) == "twelve (not a number)"


def test_an_invalid_number_is_explained_next_to_the_box():
    html = candidate_html("numeric", REFUND, post("numeric", REFUND, number="twelve"))
    page = Page(html)
    box = next(a for t, a in page.tags if t == "input")
    error = next(a for t, a in page.tags if a.get("role") == "alert")
    assert error["id"] in box["aria-describedby"].split() and box["aria-invalid"] == "true"
    # The example in the message is never the answer (12.5 here), so it gives nothing away.
    assert "Enter a number, for example 3.75." in html and "12.5" not in html
    assert box["value"] == "twelve" and box["inputmode"] == "decimal" and box["id"] in page.label_for

    comma = candidate_html("numeric", REFUND, post("numeric", REFUND, number="12,5"))
    assert "Use a full stop for the decimal point, for example 3.75." in comma

    fine = candidate_html("numeric", REFUND, post("numeric", REFUND, number="12.48"))
    assert 'role="alert"' not in fine and "aria-invalid" not in fine


def test_the_message_example_is_never_a_right_answer():
    plugin = REGISTRY["numeric"]
    for answer in ("12.5", "3.75", "0.2", "-40"):
        defn = {"stem": "<p>Q</p>", "marks": 1, "answer": answer}
        message = plugin.candidate_context(defn, {}, {"raw": "x", "valid": False})["message"]
        example = message.rsplit("for example ", 1)[1].rstrip(".")
        assert plugin.mark(defn, {"raw": example}).awarded == 0, (answer, message)
    everything = {"stem": "<p>Q</p>", "marks": 1, "answer": "0", "tolerance": {"type": "absolute", "value": "99999999"}}
    message = plugin.candidate_context(everything, {}, {"raw": "x", "valid": False})["message"]
    assert "for example" not in message and "digits" in message


def test_a_currency_unit_goes_before_the_box_and_others_after():
    before = candidate_html("numeric", REFUND)
    assert before.index('class="unit"') < before.index("<input") and "Your answer in £" in before
    after = candidate_html("numeric", LOAD)
    assert after.index("<input") < after.index('class="unit"') and "Your answer in kg" in after


@PROPERTY
@given(raw=st.text(max_size=60))
def test_any_typed_text_parses_and_marks_within_bounds(raw):
    for defn in (REFUND, LOAD, SHORTFALL):
        response = post("numeric", defn, number=raw)
        assert json.loads(json.dumps(response)) == response
        mark = REGISTRY["numeric"].mark(defn, response)
        assert Decimal(0) <= mark.awarded <= mark.available
        ctx = REGISTRY["numeric"].candidate_context(defn, {}, response)
        assert (ctx["message"] is not None) == (response is not None and not response["valid"])


# --- short text --------------------------------------------------------------------------------------------

ACT = good("short_text")[0]          # punctuation ignored
CODE = good("short_text")[2]         # case sensitive, spaces as typed
CAFE = good("short_text")[3]         # café, half a mark


def test_short_text_marking():
    plugin = REGISTRY["short_text"]
    assert plugin.mark(ACT, "trade descriptions act, 1968.").outcome == "correct"
    assert plugin.mark(ACT, "Trade   Descriptions Act").outcome == "correct"
    assert plugin.mark(ACT, "Trade Description Act").outcome == "incorrect"
    assert plugin.mark(CODE, "AB-12c").outcome == "correct"
    assert plugin.mark(CODE, "ab-12c").outcome == "incorrect"
    assert plugin.mark(CODE, "AB-12c ").outcome == "incorrect"
    assert plugin.mark(CAFE, "CAFE\u0301") == Mark(Decimal("0.5"), Decimal("0.5"), "correct")
    assert plugin.mark(CAFE, "   ").outcome == "blank"


def test_short_text_response_is_the_typed_text():
    assert post("short_text", ACT, answer="  Trade Descriptions Act ") == "  Trade Descriptions Act "
    assert post("short_text", ACT, answer=" ") is None
    assert post("short_text", ACT, answer="y" * 800) == "y" * 500
    html = candidate_html("short_text", ACT, "Trade Descriptions Act")
    box = next(a for t, a in Page(html).tags if t == "input")
    assert box["maxlength"] == "500" and box["spellcheck"] == "false" and box["value"] == "Trade Descriptions Act"


# --- extended response ---------------------------------------------------------------------------------------

ESSAY = good("extended_response")[0]


def test_extended_response_is_never_auto_marked():
    plugin = REGISTRY["extended_response"]
    assert plugin.auto_marked is False
    for response in (plugin.correct_response(ESSAY), "Surveys and feedback cards.", {"text": "x", "truncated": True},
                     "x" * ESSAY_MAX_CHARS):
        assert plugin.mark(ESSAY, response) == Mark(Decimal(0), Decimal(6), "needs_marking")
    for blank in (None, "", "  \n ", {"text": "", "truncated": True}, 42, ["x"]):
        assert plugin.mark(ESSAY, blank) == Mark(Decimal(0), Decimal(6), "blank")


@pytest.mark.parametrize("defn", good("extended_response"))
def test_the_mark_scheme_never_reaches_the_candidate(defn):
    plugin = REGISTRY["extended_response"]
    scheme = plugin.correct_response(defn)
    # A distinctive run of the scheme's words, so the check cannot pass by formatting alone.
    words = " ".join(re.sub(r"<[^>]+>", " ", scheme).split()[2:6])
    assert len(words) > 10
    for response in (None, "My answer: surveys.", {"text": "Cut short", "truncated": True}):
        ctx = plugin.candidate_context(defn, {}, response)
        assert scheme not in json.dumps(ctx) and "mark_scheme" not in ctx
        for readonly in (False, True):
            html = candidate_html("extended_response", defn, response, readonly)
            assert scheme not in html and words not in html and "Award" not in html


def test_extended_response_form_and_word_guidance():
    html = candidate_html("extended_response", ESSAY, "Surveys ask customers.\r\nFeedback cards too.")
    page = Page(html)
    box = next(a for t, a in page.tags if t == "textarea")
    assert box["rows"] == "12" and box["id"] in page.label_for and box["maxlength"] == str(ESSAY_MAX_CHARS)
    assert "no more than about 300 words" in html and "Your saved answer has 6 words." in html
    assert box["aria-describedby"] == "r-answer-hint"
    assert "words" not in candidate_html("extended_response", good("extended_response")[1])


def test_extended_response_keeps_line_breaks_and_cuts_only_overlong_answers():
    assert post("extended_response", ESSAY, answer="One\r\nTwo\rThree") == "One\nTwo\nThree"
    assert post("extended_response", ESSAY, answer=" \r\n ") is None
    exact = "a" * ESSAY_MAX_CHARS
    assert post("extended_response", ESSAY, answer=exact) == exact
    cut = post("extended_response", ESSAY, answer="b" * (ESSAY_MAX_CHARS + 50))
    assert cut == {"text": "b" * ESSAY_MAX_CHARS, "truncated": True}
    # Never between a letter and its accent: the letter goes with it.
    accented = "a" * (ESSAY_MAX_CHARS - 1) + "e\u0301" + "more"
    assert post("extended_response", ESSAY, answer=accented) == {"text": "a" * (ESSAY_MAX_CHARS - 1), "truncated": True}

    plugin = REGISTRY["extended_response"]
    assert plugin.summarise_response(ESSAY, " Plain text. ") == "Plain text."
    assert plugin.summarise_response(ESSAY, {"text": "Long", "truncated": True}) == "Long [cut at 20,000 characters]"
    html = candidate_html("extended_response", ESSAY, cut)
    alert = next(a for t, a in Page(html).tags if a.get("role") == "alert")
    assert alert["id"] in next(a for t, a in Page(html).tags if t == "textarea")["aria-describedby"].split()
    assert "only the first 20,000 were saved" in html
    # Both stored shapes go back to the form as the text.
    assert plugin.fields_for_response(ESSAY, {}, cut) == {"answer": ["b" * ESSAY_MAX_CHARS]}


def test_extended_response_answer_survives_a_reload_exactly():
    text = "\nStarts with a blank line & <b>has markup</b>\n\nand paragraphs."
    page = Page(candidate_html("extended_response", ESSAY, text))
    assert post("extended_response", ESSAY, answer=page.fields["r-answer"][0]) == text


# --- every typed type: keys stay out, templates are accessible, author forms round trip -----------------


def authored_html(defn: dict) -> list[str]:
    """The item's own HTML as it appears on the page, which may legitimately contain anything."""
    pieces = [defn.get("stem", "")]
    if isinstance(defn.get("text"), str):
        pieces += [p for p in defn["text"].replace("[[", "\0").replace("]]", "\0").split("\0")]
    return [p for p in pieces if p]


@pytest.mark.parametrize("type_name, defn", GOOD)
def test_a_blank_candidate_page_holds_no_accepted_answer(type_name, defn):
    defn = REGISTRY[type_name].sanitise_definition(defn)
    html = candidate_html(type_name, defn)
    for piece in authored_html(defn):
        html = html.replace(piece, "")
    secrets = [defn.get("answer"), defn.get("mark_scheme"), *(defn.get("answers") or [])]
    secrets += [a for gap in defn.get("gaps") or [] for a in gap["answers"]] + [g["id"] for g in defn.get("gaps") or []]
    for secret in secrets:
        if isinstance(secret, str) and len(secret) > 1:
            assert secret not in html, secret
    assert "correct" not in html.lower() and "data-" not in html


@pytest.mark.parametrize("type_name, defn", GOOD)
@pytest.mark.parametrize("readonly", [False, True])
def test_candidate_templates_use_only_labelled_native_controls(type_name, defn, readonly):
    plugin = REGISTRY[type_name]
    html = candidate_html(type_name, defn, plugin.correct_response(defn), readonly)
    page = Page(html)
    assert page.tags[0][0] == "fieldset" and ("legend", {}) in page.tags
    assert "Question 4" in html
    controls = page.controls()
    assert controls
    for tag, attrs in controls:
        assert attrs["id"] in page.label_for, (tag, attrs)
        assert attrs["name"].startswith("r-"), attrs
        assert ("readonly" in attrs) == readonly
    for tag, attrs in page.tags:
        assert tag not in ("script", "style") and attrs.get("role", "alert") == "alert", (tag, attrs)
        assert not any(name.startswith(("on", "hx-", "data-")) or name in ("style", "contenteditable", "draggable")
                       for name in attrs), (tag, attrs)
        assert int(attrs.get("tabindex", 0)) <= 0
    ids = [a["id"] for _, a in page.tags if "id" in a]
    assert len(ids) == len(set(ids))
    for _, attrs in page.tags:
        for ref in (attrs.get("aria-describedby") or "").split():
            assert ref in ids, ref


@pytest.mark.parametrize("type_name, defn", GOOD)
def test_what_the_candidate_sees_posts_back_as_their_answer(type_name, defn):
    """Render the candidate's answer, post the page's fields back: the same response, the same mark."""
    plugin = REGISTRY[type_name]
    state = plugin.start_attempt(defn, random.Random(2))
    correct = plugin.correct_response(defn)
    response = plugin.parse_response(defn, state, plugin.fields_for_response(defn, state, correct))
    page = Page(candidate_html(type_name, defn, response))
    posted = {name.removeprefix("r-"): values for name, values in page.fields.items()}
    again = plugin.parse_response(defn, state, posted)
    assert again == response
    assert plugin.mark(defn, again) == plugin.mark(defn, response)


@pytest.mark.parametrize("type_name, defn", GOOD)
def test_author_form_round_trip(type_name, defn):
    plugin = REGISTRY[type_name]
    data = plugin.author_form_data(defn)
    assert all(isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
               for k, v in data.items())
    assert plugin.parse_author_form(data) == defn
    assert plugin.parse_author_form(copy.deepcopy(data)) == defn and data == plugin.author_form_data(defn)


@pytest.mark.parametrize("type_name, defn", GOOD)
def test_author_template_posts_back_the_definition(type_name, defn):
    """The author form as rendered, read as a browser would post it, gives the definition back."""
    plugin = REGISTRY[type_name]
    html = render(f"itemtype-{type_name}/author.html", form=plugin.author_form_data(defn), problems=[])
    page = Page(html)
    for tag, attrs in page.controls():
        assert attrs["id"] in page.label_for, (tag, attrs)
    assert 'role="alert"' not in html
    assert plugin.parse_author_form(page.fields) == defn


def test_author_forms_as_people_fill_them_in():
    text_entry = REGISTRY["text_entry"]
    posted = {"stem": ["<p>Complete it.</p>"], "marks": ["2"], "text": ["<p>[[g1]] and [[when]]</p>"],
              "gap-0-id": [""], "gap-0-answers": ["thirty\r\n30\r\n\r\n"],
              "gap-1-id": ["when"], "gap-1-answers": ["  today "],
              "gap-2-id": [""], "gap-2-answers": [""],  # the spare row, left empty
              "case_sensitive": [""], "normalise_whitespace": ["false"], "ignore_punctuation": ["true"]}
    defn = text_entry.parse_author_form(posted)
    assert defn == {"stem": "<p>Complete it.</p>", "marks": 2, "text": "<p>[[g1]] and [[when]]</p>",
                    "gaps": [{"id": "g1", "answers": ["thirty", "30"]}, {"id": "when", "answers": ["today"]}],
                    "normalise_whitespace": False, "ignore_punctuation": True}
    assert text_entry.validate_definition(defn) == []

    numeric = REGISTRY["numeric"]
    defn = numeric.parse_author_form({"stem": ["<p>Q</p>"], "marks": ["1.5"], "answer": [" 12.5 "],
                                      "tolerance_type": [""], "tolerance_value": ["0.05"], "unit": [""]})
    assert defn == {"stem": "<p>Q</p>", "marks": 1.5, "answer": "12.5", "tolerance": {"value": "0.05"}}
    assert [p.path for p in numeric.validate_definition(defn)] == ["tolerance.type"]
    assert numeric.parse_author_form({"answer": ["12.5"], "tolerance_type": [""], "tolerance_value": [""]}) == \
        {"answer": "12.5"}

    essay = REGISTRY["extended_response"]
    defn = essay.parse_author_form({"stem": ["<p>Q</p>"], "marks": ["six"], "mark_scheme": ["<p>M</p>"],
                                    "max_words": ["about 300"]})
    assert {p.path for p in essay.validate_definition(defn)} == {"marks", "max_words"}
    assert essay.parse_author_form({"max_words": [""], "mark_scheme": ["  "]}) == {}

    short = REGISTRY["short_text"]
    assert short.parse_author_form({"answers": ["One\nTwo"], "case_sensitive": ["true"]}) == \
        {"answers": ["One", "Two"], "case_sensitive": True}


@pytest.mark.parametrize("type_name", TYPED)
def test_author_template_shows_the_validators_problems(type_name):
    plugin = REGISTRY[type_name]
    problems = plugin.validate_definition({})
    html = render(f"itemtype-{type_name}/author.html", form=plugin.author_form_data({}), problems=problems)
    assert 'role="alert"' in html
    for problem in problems:
        assert f"{problem.path}: " in html


@pytest.mark.parametrize("type_name, defn", GOOD)
def test_review_template_shows_the_response_beside_the_key(type_name, defn):
    plugin = REGISTRY[type_name]
    defn = plugin.sanitise_definition(defn)
    response = plugin.parse_response(defn, {}, plugin.fields_for_response(defn, {}, plugin.correct_response(defn)))
    html = render(f"itemtype-{type_name}/review.html", defn=defn, response=response, number=2,
                  marks=marks_of(defn), mark=plugin.mark(defn, response))
    if type_name == "extended_response":
        assert defn["mark_scheme"] in html and "to be marked" in html
    elif type_name == "numeric":
        assert defn["answer"] in html
    else:
        for answer in defn.get("answers") or [a for g in defn["gaps"] for a in g["answers"]]:
            assert str(escape(answer)) in html
    blank = render(f"itemtype-{type_name}/review.html", defn=defn, response=None, number=2, marks=marks_of(defn))
    assert "No answer" in blank
    garbage = render(f"itemtype-{type_name}/review.html", defn=defn, response={"x": [1]}, number=2,
                     marks=marks_of(defn))
    assert "No answer" in garbage


@pytest.mark.parametrize("type_name, defn", GOOD)
def test_sanitising_cleans_every_authored_html_field(type_name, defn):
    plugin = REGISTRY[type_name]
    dirty = copy.deepcopy(defn)
    payload = '<img src=x alt="A till" onerror=alert(1)><script>alert(2)</script><a href="javascript:alert(3)">x</a>'
    for field in ("stem", "text", "mark_scheme"):
        if field in dirty:
            dirty[field] += payload
    cleaned = plugin.sanitise_definition(dirty)
    for field in ("stem", "text", "mark_scheme"):
        if field in cleaned:
            assert "onerror" not in cleaned[field] and "<script" not in cleaned[field]
            assert "javascript:" not in cleaned[field]
    assert plugin.validate_definition(cleaned) == []
    assert plugin.correct_response(cleaned) == plugin.correct_response(plugin.sanitise_definition(defn)) \
        or type_name == "extended_response"


@pytest.mark.parametrize("type_name", TYPED)
def test_registered_with_templates(type_name):
    plugin = REGISTRY[type_name]
    assert plugin.type_name == type_name and plugin.label
    for template in ("candidate.html", "review.html", "author.html"):
        assert (plugin.template_folder / template).is_file()
