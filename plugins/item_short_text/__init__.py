"""Short text: the candidate types a word or phrase, matched against a list of accepted answers.

A definition::

    stem: <p>Name the Act that ...</p>
    marks: 1
    answers: ["Trade Descriptions Act 1968", "Trade Descriptions Act"]
    case_sensitive: false         # default false
    normalise_whitespace: true    # default true
    ignore_punctuation: true      # default false

Typed text matches under the rules in :mod:`engine.text_matching` (the same as typed gap fill).
The response is the typed string, as typed (at most 500 characters).

Author form (see ``engine.author_forms`` for the conventions): ``stem``, ``marks``, ``answers``
(one per line), ``case_sensitive``, ``normalise_whitespace``, ``ignore_punctuation`` as settings
("" for the default, "true", "false").
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from engine import author_forms as af
from engine import text_matching
from engine.hookspecs import hookimpl
from engine.item_types import ItemType, Mark, common_problems, marks_of

#: What the answer box takes (its maxlength); longer posts are cut to this.
MAX_CHARS = 500


class ShortText(ItemType):
    type_name = "short_text"
    label = "Short text answer"
    template_folder = Path(__file__).parent / "templates"

    def validate_definition(self, defn):
        problems = common_problems(defn) + text_matching.rule_problems(defn)
        problems += text_matching.answer_problems(defn.get("answers"), "answers",
                                                  text_matching.rules_from(defn), MAX_CHARS)
        return problems

    def candidate_context(self, defn, state, response):
        return {"stem": defn["stem"], "typed": response if isinstance(response, str) else "",
                "max_chars": MAX_CHARS}

    def parse_response(self, defn, state, fields):
        values = fields.get("answer") or [""]
        typed = values[0] if isinstance(values, list) and values and isinstance(values[0], str) else ""
        return typed[:MAX_CHARS] if typed.strip() else None

    def fields_for_response(self, defn, state, response):
        return {"answer": [response]} if isinstance(response, str) else {}

    def mark(self, defn, response):
        available = marks_of(defn)
        if response is None or (isinstance(response, str) and not response.strip()):
            return Mark(Decimal(0), available, "blank")
        if text_matching.matches(response, defn.get("answers"), text_matching.rules_from(defn)):
            return Mark(available, available, "correct")
        return Mark(Decimal(0), available, "incorrect")

    def correct_response(self, defn):
        return defn["answers"][0]

    def summarise_response(self, defn, response):
        return response.strip() if isinstance(response, str) else ""

    def parse_author_form(self, form):
        defn: dict = {}
        af.put_if(defn, "stem", af.text(form, "stem"))
        af.put_if(defn, "marks", af.number(form, "marks"))
        answers = text_matching.answers_from_lines(af.value(form, "answers"))
        if answers:
            defn["answers"] = answers
        for name in text_matching.RULE_DEFAULTS:
            af.put_if(defn, name, af.flag(form, name))
        return defn

    def author_form_data(self, defn):
        form = {"stem": [af.text_of(defn, "stem")], "marks": [af.number_text(defn.get("marks"))],
                "answers": [text_matching.answers_as_lines(defn.get("answers"))]}
        for name in text_matching.RULE_DEFAULTS:
            form[name] = [af.flag_text(defn, name)]
        return form


@hookimpl
def register_item_types():
    return [ShortText]
