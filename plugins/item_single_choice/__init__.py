"""Single-answer multiple choice: one key among the options. True/false is a preset of it."""
from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

from engine import author_forms as af
from engine import options
from engine.hookspecs import hookimpl
from engine.item_types import ItemType, Mark, Problem, common_problems, marks_of

TRUE_FALSE_OPTIONS = [{"id": "true", "text": "True"}, {"id": "false", "text": "False"}]


class SingleChoice(ItemType):
    type_name = "single_choice"
    label = "Multiple choice (one answer)"
    template_folder = Path(__file__).parent / "templates"

    def _with_preset(self, defn: dict) -> dict:
        # A true/false item names the preset instead of listing the two options, in fixed order.
        if defn.get("preset") == "true_false" and "options" not in defn:
            return {**defn, "options": TRUE_FALSE_OPTIONS, "shuffle": False}
        return defn

    def validate_definition(self, defn):
        problems = common_problems(defn)
        if "preset" in defn and defn["preset"] != "true_false":
            problems.append(Problem("preset", "the only preset is 'true_false'"))
        if "shuffle" in defn and not isinstance(defn["shuffle"], bool):
            # Checked before the preset, which would otherwise hide it behind its own shuffle: false.
            problems.append(Problem("shuffle", "must be true or false"))
            defn = {k: v for k, v in defn.items() if k != "shuffle"}
        defn = self._with_preset(defn)
        problems += options.option_problems(defn)
        if defn.get("key") not in options.option_ids(defn):
            problems.append(Problem("key", f"must be the id of one of the options, not {defn.get('key')!r}"))
        return problems

    def sanitise_definition(self, defn):
        cleaned = super().sanitise_definition(defn)
        if isinstance(cleaned.get("options"), list):
            cleaned["options"] = options.sanitise_options(cleaned)
        return cleaned

    def start_attempt(self, defn, rng: random.Random):
        return {"order": options.shuffled_order(self._with_preset(defn), rng)}

    def candidate_context(self, defn, state, response):
        defn = self._with_preset(defn)
        selected = {response} if isinstance(response, str) else set()
        return {"stem": defn["stem"], "options": options.display_options(defn, state, selected)}

    def parse_response(self, defn, state, fields):
        chosen = options.ids_from_positions(self._with_preset(defn), state, fields.get("choice", [])[:1])
        return chosen[0] if chosen else None

    def fields_for_response(self, defn, state, response):
        return {"choice": options.positions_from_ids(self._with_preset(defn), state, [response])}

    def mark(self, defn, response):
        available = marks_of(defn)
        if response is None or response == "":
            return Mark(Decimal(0), available, "blank")
        if isinstance(response, str) and response == defn.get("key"):
            return Mark(available, available, "correct")
        return Mark(Decimal(0), available, "incorrect")

    def correct_response(self, defn):
        return defn["key"]

    def summarise_response(self, defn, response):
        defn = self._with_preset(defn)
        text = {o["id"]: o["text"] for o in defn.get("options", [])}
        return text.get(response, "") if isinstance(response, str) else ""

    # --- authoring --------------------------------------------------------------------------
    # Fields (conventions in engine.author_forms): stem, marks, preset ("" or true_false),
    # shuffle; rows option-<n>-id, option-<n>-text, option-<n>-pinned ("true" if ticked);
    # key: "#<n>" for option row n, or an id as written ("true"/"false" with the preset).

    def parse_author_form(self, form):
        defn: dict = {}
        af.put_if(defn, "stem", af.text(form, "stem"))
        af.put_if(defn, "marks", af.number(form, "marks"))
        af.put_if(defn, "preset", af.text(form, "preset"))
        af.put_if(defn, "shuffle", af.flag(form, "shuffle"))
        parsed, ids = af.parse_options(form)
        af.put_if(defn, "options", parsed)
        af.put_if(defn, "key", af.resolve(af.value(form, "key"), ids))
        return defn

    def author_form_data(self, defn):
        form = {"stem": [af.text_of(defn, "stem")], "marks": [af.number_text(defn.get("marks"))],
                "preset": [af.text_of(defn, "preset")], "shuffle": [af.flag_text(defn, "shuffle")]}
        ids = af.put_options(defn, form)
        form["key"] = [af.reference_to(defn.get("key"), ids)]
        return form


@hookimpl
def register_item_types():
    return [SingleChoice]
