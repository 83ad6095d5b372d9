"""Gap select (inline choice): a passage with a drop-down in each gap.

Definition::

    text: <p>... within [[g1]] days; after [[g2]] months ...</p>     authored HTML
    gaps:
      - {id: g1, options: ["14", "30", "60"], key: "30"}             options are text; key is one of them
    shuffle: true                                                     false shows each gap's options as written

Every ``[[id]]`` in ``text`` needs a gap and every gap its ``[[id]]``, once, in the words of the
passage (not inside a tag or attribute). Each gap earns an equal share of the marks:
``marks × right / gaps`` to the hundredth, exactly ``marks`` when every gap is right.

The passage is sanitised first and then split at its placeholders, looking only at text between
tags, so a ``<select>`` is never put inside an attribute. The ``<option>`` list of each gap is
built here with every option's text escaped; its values are display positions. Gaps are numbered
in the order they appear (``Gap 1`` is the first in the passage) and posted as ``gap-<n-1>``.
The response is ``{gap_id: option_text}`` for the gaps answered (``None`` if none).

Author form (see ``engine.author_forms``): ``stem``, ``marks``, ``shuffle``, ``text``; rows
``gap-<n>-id``, ``gap-<n>-options`` (one option a line), ``gap-<n>-key`` (the right option's text).
Blank ids become ``g1``, ``g2``….
"""
from __future__ import annotations

import random
import re
from decimal import Decimal
from pathlib import Path

from markupsafe import escape

from engine import author_forms as af
from engine import entries
from engine.hookspecs import hookimpl
from engine.item_types import ItemType, Mark, Problem, clamp, common_problems, marks_of
from engine.options import OPTION_ID, id_problem
from engine.plain_text import plain_text
from engine.sanitize import sanitise_html

PLACEHOLDER = re.compile(r"\[\[([^\[\]]{0,64})\]\]")
#: A tag in sanitised HTML: attribute values are quoted, and may hold ">" only inside the quotes.
TAG = re.compile(r"<(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")


def split_at_gaps(html: str, gap_ids: set[str] | None = None) -> tuple[list[str], list[str], list[str]]:
    """Split ``html`` at each ``[[name]]`` in its text, never inside a tag.

    :param gap_ids: if given, only the first ``[[name]]`` of each of these splits; the rest stay text.
    :return: ``(chunks, names, in_tags)`` with ``len(chunks) == len(names) + 1``; ``in_tags`` are
        the names found inside tags (the validator refuses them).
    """
    chunks: list[str] = []
    names: list[str] = []
    in_tags: list[str] = []
    current: list[str] = []

    def text_run(run: str) -> None:
        last = 0
        for match in PLACEHOLDER.finditer(run):
            name = match.group(1)
            if gap_ids is not None and (name not in gap_ids or name in names):
                continue
            current.append(run[last:match.start()])
            chunks.append("".join(current))
            current.clear()
            names.append(name)
            last = match.end()
        current.append(run[last:])

    position = 0
    for tag in TAG.finditer(html):
        text_run(html[position:tag.start()])
        in_tags.extend(match.group(1) for match in PLACEHOLDER.finditer(tag.group()))
        current.append(tag.group())
        position = tag.end()
    text_run(html[position:])
    chunks.append("".join(current))
    return chunks, names, in_tags


class GapSelect(ItemType):
    type_name = "gap_select"
    label = "Gap fill with a drop-down per gap"
    template_folder = Path(__file__).parent / "templates"

    # --- definition -------------------------------------------------------------------------

    def validate_definition(self, defn):
        problems = common_problems(defn)
        if "shuffle" in defn and not isinstance(defn["shuffle"], bool):
            problems.append(Problem("shuffle", "must be true or false"))
        if "scoring" in defn:
            problems.append(Problem("scoring", "is not a setting of gap_select items: each gap earns an equal "
                                               "share of the marks; remove it"))
        placed = self._text_problems(defn, problems)
        gaps = defn.get("gaps")
        if not isinstance(gaps, list) or not gaps:
            problems.append(Problem("gaps", "needs a list of gaps, each with an id, options and a key"))
            gaps = []
        gap_ids: set[str] = set()
        for index, gap in enumerate(gaps):
            where = f"gaps[{index}]"
            if not isinstance(gap, dict):
                problems.append(Problem(where, "must be a mapping with id, options and key"))
                continue
            gap_id = gap.get("id")
            problem = id_problem(gap_id, where, gap_ids, "gap")
            if problem:
                problems.append(problem)
            else:
                if placed is not None and gap_id not in placed:
                    problems.append(Problem(f"{where}.id", f"[[{gap_id}]] does not appear in the words of text"))
            problems += self._gap_option_problems(gap, where)
        for name in placed or []:
            if OPTION_ID.match(name) and name not in gap_ids:
                problems.append(Problem("text", f"[[{name}]] has no gap: add one with id {name} to gaps"))
        return problems

    def _text_problems(self, defn: dict, problems: list[Problem]) -> list[str] | None:
        """Check ``text`` and return the placeholder names in its words (None if there is no text)."""
        text = defn.get("text")
        if not isinstance(text, str) or not text.strip():
            problems.append(Problem("text", "is required: the passage, with [[gap_id]] where each gap goes"))
            return None
        # Checked as it will be shown: after sanitising, which may remove markup around a placeholder.
        _, names, in_tags = split_at_gaps(sanitise_html(text))
        for name in in_tags:
            problems.append(Problem("text", f"[[{name}]] is inside an HTML tag or attribute; put it in the words"))
        seen: list[str] = []
        for name in names:
            if not OPTION_ID.match(name):
                problems.append(Problem("text", f"[[{name}]] is not a gap id (letters, digits, - or _)"))
            elif name in seen:
                problems.append(Problem("text", f"[[{name}]] appears more than once; each gap appears once"))
            else:
                seen.append(name)
        if not names and not in_tags:
            problems.append(Problem("text", "has no gaps: write [[gap_id]] where each gap goes"))
        return seen

    @staticmethod
    def _gap_option_problems(gap: dict, where: str) -> list[Problem]:
        problems = []
        options = gap.get("options")
        if not isinstance(options, list) or len(options) < 2:
            return [Problem(f"{where}.options", "needs a list of at least 2 options")]
        shown: dict[str, int] = {}
        for index, option in enumerate(options):
            at = f"{where}.options[{index}]"
            if not isinstance(option, str):
                problems.append(Problem(at, 'must be text (put numbers in quotes: "30")'))
            elif not option.strip():
                problems.append(Problem(at, "is empty"))
            elif not (words := plain_text(sanitise_html(option))):
                problems.append(Problem(at, "has no words once its HTML is cleaned (a drop-down shows text only)"))
            elif words in shown:
                problems.append(Problem(at, f"reads the same as option {shown[words] + 1}"))
            else:
                shown[words] = index
        key = gap.get("key")
        if not isinstance(key, str):
            problems.append(Problem(f"{where}.key", 'must be the text of one of the options (put numbers in quotes: "30")'))
        elif key not in options:
            problems.append(Problem(f"{where}.key", f"{key!r} is not one of the options"))
        return problems

    def sanitise_definition(self, defn):
        cleaned = super().sanitise_definition(defn)
        if isinstance(cleaned.get("text"), str):
            cleaned["text"] = sanitise_html(cleaned["text"])
        if isinstance(cleaned.get("gaps"), list):
            # Options and key are cleaned alike, so the key still names one of the options.
            cleaned["gaps"] = [self._sanitised_gap(gap) for gap in cleaned["gaps"]]
        return cleaned

    @staticmethod
    def _sanitised_gap(gap):
        if not isinstance(gap, dict):
            return gap
        gap = dict(gap)
        if isinstance(gap.get("options"), list):
            gap["options"] = [sanitise_html(o) if isinstance(o, str) else o for o in gap["options"]]
        if isinstance(gap.get("key"), str):
            gap["key"] = sanitise_html(gap["key"])
        return gap

    # --- attempt ----------------------------------------------------------------------------

    @staticmethod
    def _gaps(defn: dict) -> dict[str, list[str]]:
        """Gap id -> its options (as text), for the well-formed gaps."""
        gaps = defn.get("gaps") if isinstance(defn.get("gaps"), list) else []
        found: dict[str, list[str]] = {}
        for gap in gaps:
            if isinstance(gap, dict) and isinstance(gap.get("id"), str) and isinstance(gap.get("options"), list):
                found.setdefault(gap["id"], [o if isinstance(o, str) else "" for o in gap["options"]])
        return found

    def _layout(self, defn: dict) -> tuple[list[str], list[str], dict[str, list[str]]]:
        """(chunks of the passage, gap ids in the order they appear, options per gap)."""
        options = self._gaps(defn)
        text = defn.get("text") if isinstance(defn.get("text"), str) else ""
        chunks, names, _ = split_at_gaps(text, set(options))
        return chunks, names, options

    def start_attempt(self, defn, rng: random.Random):
        orders = {}
        for gap_id, options in self._gaps(defn).items():
            order = list(range(len(options)))
            if defn.get("shuffle", True):
                rng.shuffle(order)
            orders[gap_id] = order
        return {"orders": orders}

    @staticmethod
    def _order(state, gap_id: str, size: int) -> list[int]:
        orders = state.get("orders") if isinstance(state, dict) else None
        order = orders.get(gap_id) if isinstance(orders, dict) else None
        if isinstance(order, list) and sorted(o for o in order if isinstance(o, int) and not isinstance(o, bool)) \
                == list(range(size)) and len(order) == size:
            return list(order)
        return list(range(size))

    def candidate_context(self, defn, state, response):
        chunks, names, options = self._layout(defn)
        chosen = response if isinstance(response, dict) else {}
        gaps = []
        for number, gap_id in enumerate(names, start=1):
            picked = chosen.get(gap_id)
            choices = options[gap_id]
            order = self._order(state, gap_id, len(choices))
            # Built here, each text escaped, so a gap's options are one piece of safe markup.
            options_html = "".join(
                f'<option value="{position}"{" selected" if picked == choices[i] else ""}>{escape(plain_text(choices[i]))}</option>'
                for position, i in enumerate(order))
            gaps.append({"number": number, "options_html": options_html,
                         "chosen": plain_text(picked) if isinstance(picked, str) and picked in choices else None})
        return {"stem": defn.get("stem", ""), "chunks": chunks, "gaps": gaps}

    def parse_response(self, defn, state, fields):
        _, names, options = self._layout(defn)
        response = {}
        for index, gap_id in enumerate(names):
            choices = options[gap_id]
            picked = entries.position(entries.first_value(fields, f"gap-{index}"), len(choices))
            if picked is not None:
                response[gap_id] = choices[self._order(state, gap_id, len(choices))[picked]]
        return response or None

    def fields_for_response(self, defn, state, response):
        _, names, options = self._layout(defn)
        if not isinstance(response, dict):
            return {}
        fields = {}
        for index, gap_id in enumerate(names):
            text, choices = response.get(gap_id), options[gap_id]
            if isinstance(text, str) and text in choices:
                fields[f"gap-{index}"] = [str(self._order(state, gap_id, len(choices)).index(choices.index(text)))]
        return fields

    # --- marking ----------------------------------------------------------------------------

    def mark(self, defn, response):
        available = marks_of(defn)
        keys = {}
        for gap in defn.get("gaps") if isinstance(defn.get("gaps"), list) else []:
            if isinstance(gap, dict) and isinstance(gap.get("id"), str):
                keys.setdefault(gap["id"], gap.get("key"))
        answered = {gid: response[gid] for gid in keys if isinstance(response, dict) and isinstance(response.get(gid), str)}
        if not answered:
            return Mark(Decimal(0), available, "blank")
        right = sum(1 for gid, text in answered.items() if text == keys[gid])
        if right == len(keys):
            return Mark(available, available, "correct")
        if right:
            return Mark(clamp(available * right / len(keys), available), available, "partial")
        return Mark(Decimal(0), available, "incorrect")

    def correct_response(self, defn):
        return {gap["id"]: gap["key"] for gap in defn["gaps"]}

    def summarise_response(self, defn, response):
        if not isinstance(response, dict):
            return ""
        _, names, options = self._layout(defn)
        parts, any_answer = [], False
        for number, gap_id in enumerate(names, start=1):
            text = response.get(gap_id)
            answered = isinstance(text, str) and text in options[gap_id]
            any_answer = any_answer or answered
            parts.append(f"Gap {number}: {plain_text(text) if answered else '(no answer)'}")
        return "; ".join(parts) if any_answer else ""

    # --- authoring --------------------------------------------------------------------------

    def parse_author_form(self, form):
        defn: dict = {}
        af.put_if(defn, "stem", af.text(form, "stem"))
        af.put_if(defn, "marks", af.number(form, "marks"))
        af.put_if(defn, "shuffle", af.flag(form, "shuffle"))
        af.put_if(defn, "text", af.text(form, "text"))
        gap_rows = af.rows(form, "gap")
        gap_ids = af.row_ids(gap_rows, "g")
        if gap_rows:
            gaps = []
            for n, row in gap_rows:
                gap = {"id": gap_ids[n],
                       "options": [line.strip() for line in row.get("options", "").split("\n") if line.strip()]}
                af.put_if(gap, "key", row.get("key", "").strip() or None)
                gaps.append(gap)
            defn["gaps"] = gaps
        return defn

    def author_form_data(self, defn):
        form = {"stem": [af.text_of(defn, "stem")], "marks": [af.number_text(defn.get("marks"))],
                "shuffle": [af.flag_text(defn, "shuffle")], "text": [af.text_of(defn, "text")]}
        for n, gap in enumerate(defn.get("gaps") if isinstance(defn.get("gaps"), list) else []):
            gap = gap if isinstance(gap, dict) else {}
            options = gap.get("options") if isinstance(gap.get("options"), list) else []
            form[f"gap-{n}-id"] = [af.text_of(gap, "id")]
            form[f"gap-{n}-options"] = ["\n".join(o if isinstance(o, str) else af.number_text(o) for o in options)]
            form[f"gap-{n}-key"] = [af.text_of(gap, "key")]
        return form


@hookimpl
def register_item_types():
    return [GapSelect]
