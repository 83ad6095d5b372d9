"""Ordering: put the items in order.

Definition::

    items:   [{id, text}, ...]      at least 3, written in the CORRECT order; text is authored HTML
    scoring: exact                  exact (all or nothing) | per_position (marks / n per item in place)

The attempt always shows the items shuffled, and never in the correct order (a fresh shuffle is
drawn until it differs), so there is no ``shuffle`` setting. Nothing is dragged (WCAG 2.2 SC
2.5.7): each item, in display order, has a labelled ``<select>`` ``position-<d>`` (d its display
position) offering "Position…" and 1..n.

The response is the list of item ids in the candidate's order, ``None`` standing for a position
no item was given; ``None`` as a whole if no item was placed. When two items are given the same
position, the one shown first keeps it and the other counts as not placed: a deterministic
reading of an impossible answer, and one the candidate sees when the page is shown again.

``per_position`` awards ``marks × in place / n`` to the hundredth (exactly ``marks`` when all are
in place). A stored list longer than n, or naming an item twice, cannot come from the form and
scores 0.

Author form (see ``engine.author_forms``): ``stem``, ``marks``, ``scoring``; rows
``item-<n>-id``, ``item-<n>-text`` in the correct order. Blank ids become ``s1``, ``s2``….
"""
from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

from engine import author_forms as af
from engine import entries
from engine.hookspecs import hookimpl
from engine.item_types import ItemType, Mark, Problem, clamp, common_problems, marks_of
from engine.plain_text import plain_text

SCORING = ("exact", "per_position")
#: Draws of a shuffle that may all come out in the correct order before we rotate instead.
MAX_DRAWS = 50


class Ordering(ItemType):
    type_name = "ordering"
    label = "Ordering (put in sequence)"
    template_folder = Path(__file__).parent / "templates"

    # --- definition -------------------------------------------------------------------------

    def validate_definition(self, defn):
        problems = common_problems(defn) + entries.entry_problems(defn, "items", 3, "item")
        if defn.get("scoring", "exact") not in SCORING:
            problems.append(Problem("scoring", f"must be one of {', '.join(SCORING)}"))
        if "shuffle" in defn:
            problems.append(Problem("shuffle", "is not a setting of ordering items: they are always shown "
                                               "shuffled, never in the correct order; remove it"))
        return problems

    def sanitise_definition(self, defn):
        cleaned = super().sanitise_definition(defn)
        if "items" in cleaned:
            cleaned["items"] = entries.sanitised(cleaned["items"])
        return cleaned

    # --- attempt ----------------------------------------------------------------------------

    def start_attempt(self, defn, rng: random.Random):
        ids = entries.ids_of(defn, "items")
        order = list(ids)
        for _ in range(MAX_DRAWS):
            rng.shuffle(order)
            if order != ids or len(set(ids)) < 2:
                break
        else:
            order = order[1:] + order[:1]
        return {"order": order}

    def _ids_and_order(self, defn: dict, state) -> tuple[list[str], list[str]]:
        ids = entries.ids_of(defn, "items")
        return ids, entries.stored_order(state, "order", ids)

    def candidate_context(self, defn, state, response):
        ids, order = self._ids_and_order(defn, state)
        text = entries.texts_of(defn, "items")
        placed = self._positions(response, ids)
        return {
            "stem": defn.get("stem", ""),
            "rows": [{"html": text.get(iid, ""), "selected": placed.get(iid)} for iid in order],
            "positions": list(range(1, len(ids) + 1)),
        }

    @staticmethod
    def _positions(response, ids: list[str]) -> dict[str, int]:
        """Item id -> 1-based position in a stored response (first place wins if listed twice)."""
        placed: dict[str, int] = {}
        if isinstance(response, list) and len(response) <= len(ids):
            for index, iid in enumerate(response):
                if isinstance(iid, str) and iid in ids and iid not in placed:
                    placed[iid] = index + 1
        return placed

    def parse_response(self, defn, state, fields):
        ids, order = self._ids_and_order(defn, state)
        slots: list[str | None] = [None] * len(ids)
        for display, iid in enumerate(order):
            raw = entries.first_value(fields, f"position-{display}")
            # Positions are 1..n; position(raw, n + 1) accepts 0..n, so 0 is refused here.
            chosen = entries.position(raw, len(ids) + 1)
            if chosen and slots[chosen - 1] is None:  # shown first keeps a duplicated position
                slots[chosen - 1] = iid
        return slots if any(slots) else None

    def fields_for_response(self, defn, state, response):
        ids, order = self._ids_and_order(defn, state)
        return {f"position-{order.index(iid)}": [str(place)] for iid, place in self._positions(response, ids).items()}

    # --- marking ----------------------------------------------------------------------------

    def mark(self, defn, response):
        available = marks_of(defn)
        ids = entries.ids_of(defn, "items")
        if not isinstance(response, list):
            return Mark(Decimal(0), available, "blank")
        placed = [r for r in response if isinstance(r, str) and r in ids]
        if not placed:
            return Mark(Decimal(0), available, "blank")
        if len(response) > len(ids) or len(set(placed)) != len(placed):
            return Mark(Decimal(0), available, "incorrect")
        in_place = sum(1 for index, iid in enumerate(response) if iid == ids[index])
        if in_place == len(ids):
            return Mark(available, available, "correct")
        if defn.get("scoring", "exact") == "per_position" and in_place:
            return Mark(clamp(available * in_place / len(ids), available), available, "partial")
        return Mark(Decimal(0), available, "incorrect")

    def correct_response(self, defn):
        return [item["id"] for item in defn["items"]]

    def summarise_response(self, defn, response):
        ids = entries.ids_of(defn, "items")
        placed = self._positions(response, ids)
        if not placed:
            return ""
        text = entries.texts_of(defn, "items")
        by_place = {place: iid for iid, place in placed.items()}
        return "; ".join(f"{place}. {plain_text(text.get(by_place[place], '')) if place in by_place else '(empty)'}"
                         for place in range(1, len(ids) + 1))

    # --- authoring --------------------------------------------------------------------------

    def parse_author_form(self, form):
        defn: dict = {}
        af.put_if(defn, "stem", af.text(form, "stem"))
        af.put_if(defn, "marks", af.number(form, "marks"))
        af.put_if(defn, "scoring", af.text(form, "scoring"))
        item_rows = af.rows(form, "item")
        item_ids = af.row_ids(item_rows, "s")
        if item_rows:
            defn["items"] = [{"id": item_ids[n], "text": row.get("text", "")} for n, row in item_rows]
        return defn

    def author_form_data(self, defn):
        form = {"stem": [af.text_of(defn, "stem")], "marks": [af.number_text(defn.get("marks"))],
                "scoring": [af.text_of(defn, "scoring")]}
        for n, entry in enumerate(defn.get("items") if isinstance(defn.get("items"), list) else []):
            entry = entry if isinstance(entry, dict) else {}
            form[f"item-{n}-id"] = [af.text_of(entry, "id")]
            form[f"item-{n}-text"] = [af.text_of(entry, "text")]
        return form


@hookimpl
def register_item_types():
    return [Ordering]
