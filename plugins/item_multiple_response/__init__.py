"""Multiple response: choose every correct option.

Scoring ``all_or_nothing`` (the default) gives the marks only for exactly the keyed set;
``per_option`` gives marks / number of keys for each keyed option chosen, takes the same off
for each wrong option chosen, and never goes below 0.
"""
from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

from engine import author_forms as af
from engine import options
from engine.hookspecs import hookimpl
from engine.item_types import ItemType, Mark, Problem, clamp, common_problems, marks_of

SCORING = ("all_or_nothing", "per_option")


class MultipleResponse(ItemType):
    type_name = "multiple_response"
    label = "Multiple response (several answers)"
    template_folder = Path(__file__).parent / "templates"

    def validate_definition(self, defn):
        problems = common_problems(defn) + options.option_problems(defn, minimum=3)
        keys, ids = defn.get("keys"), options.option_ids(defn)
        if not isinstance(keys, list) or not keys:
            problems.append(Problem("keys", "must list the ids of the correct options"))
        else:
            for index, key in enumerate(keys):
                if key not in ids:
                    problems.append(Problem(f"keys[{index}]", f"{key!r} is not the id of an option"))
            if len(set(map(str, keys))) != len(keys):
                problems.append(Problem("keys", "lists an option twice"))
            if ids and len(set(map(str, keys))) >= len(ids):
                problems.append(Problem("keys", "at least one option must be wrong"))
        if defn.get("scoring", "all_or_nothing") not in SCORING:
            problems.append(Problem("scoring", f"must be one of {', '.join(SCORING)}"))
        if "show_count" in defn and not isinstance(defn["show_count"], bool):
            problems.append(Problem("show_count", "must be true or false"))
        return problems

    def sanitise_definition(self, defn):
        cleaned = super().sanitise_definition(defn)
        if isinstance(cleaned.get("options"), list):
            cleaned["options"] = options.sanitise_options(cleaned)
        return cleaned

    def start_attempt(self, defn, rng: random.Random):
        return {"order": options.shuffled_order(defn, rng)}

    def candidate_context(self, defn, state, response):
        selected = {r for r in response if isinstance(r, str)} if isinstance(response, list) else set()
        return {
            "stem": defn["stem"],
            "options": options.display_options(defn, state, selected),
            # How many to choose is part of the question, not a hint at which.
            "select_count": len(defn["keys"]) if defn.get("show_count", True) else None,
        }

    def parse_response(self, defn, state, fields):
        chosen = options.ids_from_positions(defn, state, fields.get("choice", []))
        return sorted(chosen) or None

    def fields_for_response(self, defn, state, response):
        return {"choice": options.positions_from_ids(defn, state, list(response or []))}

    def mark(self, defn, response):
        available = marks_of(defn)
        if not isinstance(response, list) or not response:
            return Mark(Decimal(0), available, "blank")
        keys = {k for k in defn.get("keys", []) if isinstance(k, str)}
        chosen = {r for r in response if isinstance(r, str)}
        if not keys:
            return Mark(Decimal(0), available, "incorrect")
        if chosen == keys:
            return Mark(available, available, "correct")
        if defn.get("scoring") == "per_option":
            each = available / len(keys)
            awarded = clamp(each * len(chosen & keys) - each * len(chosen - keys), available)
            return Mark(awarded, available, "partial" if awarded > 0 else "incorrect")
        return Mark(Decimal(0), available, "incorrect")

    def correct_response(self, defn):
        return sorted(defn["keys"])

    def summarise_response(self, defn, response):
        text = {o["id"]: o["text"] for o in defn.get("options", [])}
        if not isinstance(response, list):
            return ""
        # A stored response is not trusted to be a list of ids: skip what cannot be one.
        return "; ".join(text.get(r, "") for r in response if isinstance(r, str))

    # --- authoring --------------------------------------------------------------------------
    # Fields (conventions in engine.author_forms): stem, marks, scoring, show_count, shuffle;
    # rows option-<n>-id, option-<n>-text, option-<n>-pinned ("true" if ticked); keys: one value
    # per key, "#<n>" for option row n or an id as written, kept in the order given.

    def parse_author_form(self, form):
        defn: dict = {}
        af.put_if(defn, "stem", af.text(form, "stem"))
        af.put_if(defn, "marks", af.number(form, "marks"))
        af.put_if(defn, "scoring", af.text(form, "scoring"))
        for name in ("show_count", "shuffle"):
            af.put_if(defn, name, af.flag(form, name))
        parsed, ids = af.parse_options(form)
        af.put_if(defn, "options", parsed)
        written = form.get("keys") if isinstance(form.get("keys"), list) else []
        keys = [af.resolve(k, ids) for k in written if isinstance(k, str)]
        af.put_if(defn, "keys", [k for k in keys if k is not None] or None)
        return defn

    def author_form_data(self, defn):
        form = {"stem": [af.text_of(defn, "stem")], "marks": [af.number_text(defn.get("marks"))],
                "scoring": [af.text_of(defn, "scoring")], "show_count": [af.flag_text(defn, "show_count")],
                "shuffle": [af.flag_text(defn, "shuffle")]}
        ids = af.put_options(defn, form)
        keys = defn.get("keys")
        form["keys"] = [af.reference_to(k, ids) for k in keys] if isinstance(keys, list) else []
        return form


@hookimpl
def register_item_types():
    return [MultipleResponse]
