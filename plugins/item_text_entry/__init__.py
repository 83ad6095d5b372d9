"""Gap fill, typed (text entry): the candidate types a word or phrase into each gap in a passage.

A definition::

    stem: <p>Complete the sentence.</p>
    marks: 2
    text: <p>... within [[g1]] days of supply, under the [[g2]].</p>
    gaps:
      - {id: g1, answers: ["30", "thirty"]}
      - {id: g2, answers: ["Consumer Rights Act 2015", "Consumer Rights Act"]}
    case_sensitive: false         # default false
    normalise_whitespace: true    # default true
    ignore_punctuation: false     # default false

Every ``[[id]]`` in ``text`` has a gap and every gap a marker. Typed text matches an accepted
answer under the rules in :mod:`engine.text_matching`. The marks are split equally between the
gaps (to the hundredth).

The browser sees the gaps by reading order only: fields ``gap-1``, ``gap-2``... (the author's gap
ids never reach the page). The response is ``{gap_id: typed text}`` for the gaps typed in.

Author form (see ``engine.author_forms`` for the conventions): ``stem``, ``marks``, ``text``;
rows ``gap-<n>-id`` and ``gap-<n>-answers`` (accepted answers, one per line; a blank id becomes
``g1``…); ``case_sensitive``, ``normalise_whitespace``, ``ignore_punctuation`` as settings
("" for the default, "true", "false").
"""
from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

from engine import author_forms as af
from engine import text_matching
from engine.hookspecs import hookimpl
from engine.item_types import ItemType, Mark, Problem, clamp, common_problems, marks_of
from engine.options import OPTION_ID, id_problem
from engine.sanitize import sanitise_html

#: What a gap is allowed to hold, as the input's maxlength says.
GAP_MAX_CHARS = 200
#: Anything that looks like a marker, so a malformed one ("[[ g1 ]]") is reported, not shown.
MARKER_LIKE = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
#: A tag or a well-formed marker: tags are skipped whole, so only markers in text become inputs.
_TAG_OR_MARKER = re.compile(r"<[^>]*>|\[\[([A-Za-z0-9_-]{1,32})\]\]")


def split_text(html: str) -> list[str | tuple[str]]:
    """``html`` as a list of HTML pieces (str) and gap markers (a 1-tuple holding the gap id)."""
    pieces: list[str | tuple[str]] = []
    last = 0
    for match in _TAG_OR_MARKER.finditer(html):
        if match.group(1) is None:
            continue
        pieces.append(html[last:match.start()])
        pieces.append((match.group(1),))
        last = match.end()
    pieces.append(html[last:])
    return pieces


def marker_ids(html: str) -> list[str]:
    """Gap ids in reading order, as written in ``text`` (repeats kept)."""
    return [piece[0] for piece in split_text(html) if isinstance(piece, tuple)]


class _AttributeMarkers(HTMLParser):
    """Finds markers written inside a tag (e.g. in an image's alt text), where no input can go."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.found = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        if any(value and "[[" in value for _, value in attrs):
            self.found = True

    handle_startendtag = handle_starttag


def field_name(number: int) -> str:
    return f"gap-{number}"


class TextEntry(ItemType):
    type_name = "text_entry"
    label = "Gap fill (typed)"
    template_folder = Path(__file__).parent / "templates"

    # --- definition ---------------------------------------------------------------------------

    def validate_definition(self, defn):
        problems = common_problems(defn) + text_matching.rule_problems(defn)
        rules = text_matching.rules_from(defn)
        text = defn.get("text")
        gaps = defn.get("gaps")
        gap_ids: set[str] = set()
        if not isinstance(gaps, list) or not gaps:
            problems.append(Problem("gaps", "needs a list of at least one gap (id and answers)"))
            gaps = []
        for index, gap in enumerate(gaps):
            where = f"gaps[{index}]"
            if not isinstance(gap, dict):
                problems.append(Problem(where, "must be a mapping with id and answers"))
                continue
            problem = id_problem(gap.get("id"), where, gap_ids, "gap")
            if problem:
                problems.append(problem)
            problems += text_matching.answer_problems(gap.get("answers"), f"{where}.answers", rules, GAP_MAX_CHARS)

        if not isinstance(text, str) or not text.strip():
            problems.append(Problem("text", "is required: the passage with a [[id]] marker for each gap"))
            return problems
        for inner in MARKER_LIKE.findall(text):
            if not OPTION_ID.match(inner):
                problems.append(Problem("text", f"[[{inner}]] is not a gap marker: write [[id]] with a gap's id"))
        if _AttributeMarkers(text).found:
            problems.append(Problem("text", "a [[id]] marker is inside an HTML tag (e.g. alt text); "
                                            "markers must be in the passage's text"))
        markers = marker_ids(text)
        for gap_id in sorted({m for m in markers if markers.count(m) > 1}):
            problems.append(Problem("text", f"[[{gap_id}]] appears more than once"))
        for gap_id in dict.fromkeys(markers):
            if gap_id not in gap_ids:
                problems.append(Problem("text", f"[[{gap_id}]] has no gap with that id in gaps"))
        for index, gap in enumerate(gaps):
            if isinstance(gap, dict) and gap.get("id") in gap_ids and gap["id"] not in markers:
                problems.append(Problem(f"gaps[{index}].id", f"{gap['id']!r} has no [[{gap['id']}]] marker in text"))
        return problems

    def sanitise_definition(self, defn):
        cleaned = super().sanitise_definition(defn)
        if isinstance(cleaned.get("text"), str):
            cleaned["text"] = sanitise_html(cleaned["text"])
        return cleaned

    def _gaps_in_order(self, defn: dict) -> list[dict]:
        """The gaps in reading order; anything malformed is left out, so nothing below raises."""
        gaps = defn.get("gaps")
        text = defn.get("text")
        if not isinstance(gaps, list) or not isinstance(text, str):
            return []
        by_id = {g["id"]: g for g in gaps if isinstance(g, dict) and isinstance(g.get("id"), str)}
        return [by_id[gap_id] for gap_id in dict.fromkeys(marker_ids(text)) if gap_id in by_id]

    # --- attempt -------------------------------------------------------------------------------

    def candidate_context(self, defn, state, response):
        typed = response if isinstance(response, dict) else {}
        numbers = {gap["id"]: n for n, gap in enumerate(self._gaps_in_order(defn), start=1)}
        parts, seen = [], set()
        text = defn.get("text")
        for piece in split_text(text if isinstance(text, str) else ""):
            if isinstance(piece, str):
                parts.append({"html": piece})
            elif piece[0] in numbers and piece[0] not in seen:
                seen.add(piece[0])
                value = typed.get(piece[0])
                number = numbers[piece[0]]
                parts.append({"gap": number, "field": field_name(number),
                              "value": value if isinstance(value, str) else ""})
        return {"stem": defn["stem"], "parts": parts, "gap_count": len(numbers), "max_chars": GAP_MAX_CHARS}

    def parse_response(self, defn, state, fields):
        response = {}
        for number, gap in enumerate(self._gaps_in_order(defn), start=1):
            values = fields.get(field_name(number)) or [""]
            value = values[0] if isinstance(values, list) and values and isinstance(values[0], str) else ""
            if value.strip():
                response[gap["id"]] = value[:GAP_MAX_CHARS]
        return response or None

    def fields_for_response(self, defn, state, response):
        typed = response if isinstance(response, dict) else {}
        return {field_name(number): [typed[gap["id"]]]
                for number, gap in enumerate(self._gaps_in_order(defn), start=1)
                if isinstance(typed.get(gap["id"]), str)}

    def mark(self, defn, response):
        available = marks_of(defn)
        gaps = self._gaps_in_order(defn)
        typed = response if isinstance(response, dict) else {}
        answered = [g for g in gaps if isinstance(typed.get(g["id"]), str) and typed[g["id"]].strip()]
        if not answered:
            return Mark(Decimal(0), available, "blank" if response in (None, {}) else "incorrect")
        rules = text_matching.rules_from(defn)
        right = sum(1 for g in answered if text_matching.matches(typed[g["id"]], g.get("answers"), rules))
        if right == len(gaps):
            return Mark(available, available, "correct")
        # Multiply before dividing so that every gap right gives exactly the available marks.
        awarded = clamp(available * right / len(gaps), available)
        return Mark(awarded, available, "partial" if awarded > 0 else "incorrect")

    def correct_response(self, defn):
        return {gap["id"]: gap["answers"][0] for gap in self._gaps_in_order(defn)}

    def summarise_response(self, defn, response):
        if not isinstance(response, dict):
            return ""
        gaps = self._gaps_in_order(defn)
        typed = [response.get(g["id"]) for g in gaps]
        typed = [value.strip() if isinstance(value, str) else "" for value in typed]
        if not any(typed):
            return ""
        return "; ".join(f"Gap {n}: {value or '(blank)'}" for n, value in enumerate(typed, start=1))

    # --- authoring -----------------------------------------------------------------------------

    def parse_author_form(self, form):
        defn: dict = {}
        for name in ("stem", "text"):
            af.put_if(defn, name, af.text(form, name))
        af.put_if(defn, "marks", af.number(form, "marks"))
        gap_rows = af.rows(form, "gap")
        gap_ids = af.row_ids(gap_rows, "g")
        if gap_rows:
            defn["gaps"] = [{"id": gap_ids[n], "answers": text_matching.answers_from_lines(row.get("answers", ""))}
                            for n, row in gap_rows]
        for name in text_matching.RULE_DEFAULTS:
            af.put_if(defn, name, af.flag(form, name))
        return defn

    def author_form_data(self, defn):
        form = {"stem": [af.text_of(defn, "stem")], "marks": [af.number_text(defn.get("marks"))],
                "text": [af.text_of(defn, "text")]}
        for n, gap in enumerate(defn.get("gaps") if isinstance(defn.get("gaps"), list) else []):
            gap = gap if isinstance(gap, dict) else {}
            form[f"gap-{n}-id"] = [af.text_of(gap, "id")]
            form[f"gap-{n}-answers"] = [text_matching.answers_as_lines(gap.get("answers"))]
        for name in text_matching.RULE_DEFAULTS:
            form[name] = [af.flag_text(defn, name)]
        return form


@hookimpl
def register_item_types():
    return [TextEntry]
