"""Extended response: the candidate writes an answer that a person marks against a mark scheme.

A definition::

    stem: <p>Explain two ways ...</p>
    marks: 6
    mark_scheme: <p>Award 1 mark for each ... up to 6.</p>
    max_words: 300        # optional; guidance shown to the candidate, never enforced

Not auto-marked: ``mark`` gives 0 with the outcome ``needs_marking`` for an answer and ``blank``
for none; the marker's mark replaces it (the marking queue). The mark scheme is for markers only:
``correct_response`` returns it, and ``candidate_context`` never carries it.

The response is the text as typed (line breaks as "\\n"), at most 20,000 characters. Longer
input (only possible by getting round the box's maxlength) is cut at that limit, never in the
middle of a character and its accents, and stored as ``{"text": ..., "truncated": true}`` so
markers and the candidate can see that something was lost. Both shapes are read everywhere.

Author form (see ``engine.author_forms`` for the conventions): ``stem``, ``marks``,
``mark_scheme``, ``max_words`` ("" for no guidance).
"""
from __future__ import annotations

import unicodedata
from decimal import Decimal
from pathlib import Path

from engine import author_forms as af
from engine.hookspecs import hookimpl
from engine.item_types import ItemType, Mark, Problem, common_problems, marks_of
from engine.sanitize import sanitise_html

MAX_CHARS = 20_000


def response_text(response: object) -> str:
    """The text of a response in either stored shape ("" for anything else)."""
    if isinstance(response, str):
        return response
    if isinstance(response, dict) and isinstance(response.get("text"), str):
        return response["text"]
    return ""


def is_truncated(response: object) -> bool:
    return isinstance(response, dict) and response.get("truncated") is True


def word_count(text: str) -> int:
    return len(text.split())


def truncate(text: str, limit: int = MAX_CHARS) -> str:
    """``text`` cut to ``limit`` characters without leaving a base character without its accents."""
    if len(text) <= limit:
        return text
    cut = limit
    while cut > 0 and unicodedata.combining(text[cut]):
        cut -= 1
    return text[:cut]


class ExtendedResponse(ItemType):
    type_name = "extended_response"
    label = "Extended response (marked by a person)"
    template_folder = Path(__file__).parent / "templates"
    auto_marked = False

    def validate_definition(self, defn):
        problems = common_problems(defn)
        scheme = defn.get("mark_scheme")
        if not isinstance(scheme, str) or not scheme.strip():
            problems.append(Problem("mark_scheme", "is required: how markers award the marks"))
        if "max_words" in defn:
            max_words = defn["max_words"]
            if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1:
                problems.append(Problem("max_words", f"must be a whole number of words above 0, not {max_words!r}"))
            elif max_words > MAX_CHARS // 2:
                problems.append(Problem("max_words", f"is more than an answer of {MAX_CHARS:,} characters can hold"))
        return problems

    def sanitise_definition(self, defn):
        cleaned = super().sanitise_definition(defn)
        if isinstance(cleaned.get("mark_scheme"), str):
            cleaned["mark_scheme"] = sanitise_html(cleaned["mark_scheme"])
        return cleaned

    def candidate_context(self, defn, state, response):
        # Built field by field, never from a copy of defn: the mark scheme must not reach the page.
        text = response_text(response)
        max_words = defn.get("max_words")
        return {
            "stem": defn["stem"],
            "typed": text,
            "max_words": max_words if isinstance(max_words, int) and not isinstance(max_words, bool) else None,
            "words": word_count(text),
            "cut_short": is_truncated(response),
            "max_chars": MAX_CHARS,
        }

    def parse_response(self, defn, state, fields):
        values = fields.get("answer") or [""]
        text = values[0] if isinstance(values, list) and values and isinstance(values[0], str) else ""
        # Browsers post a textarea's line breaks as CRLF; maxlength counts each as one character.
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if not text.strip():
            return None
        if len(text) > MAX_CHARS:
            return {"text": truncate(text), "truncated": True}
        return text

    def fields_for_response(self, defn, state, response):
        text = response_text(response)
        return {"answer": [text]} if text else {}

    def mark(self, defn, response):
        available = marks_of(defn)
        if not response_text(response).strip():
            return Mark(Decimal(0), available, "blank")
        return Mark(Decimal(0), available, "needs_marking")

    def correct_response(self, defn):
        """The mark scheme: what a marker needs to award full marks."""
        return defn["mark_scheme"]

    def summarise_response(self, defn, response):
        text = response_text(response).strip()
        if text and is_truncated(response):
            return f"{text} [cut at {MAX_CHARS:,} characters]"
        return text

    def parse_author_form(self, form):
        defn: dict = {}
        for name in ("stem", "mark_scheme"):
            af.put_if(defn, name, af.text(form, name))
        for name in ("marks", "max_words"):
            af.put_if(defn, name, af.number(form, name))
        return defn

    def author_form_data(self, defn):
        return {
            "stem": [af.text_of(defn, "stem")], "marks": [af.number_text(defn.get("marks"))],
            "mark_scheme": [af.text_of(defn, "mark_scheme")], "max_words": [af.number_text(defn.get("max_words"))],
        }


@hookimpl
def register_item_types():
    return [ExtendedResponse]
