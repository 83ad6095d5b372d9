"""Matching: pair each premise with one of the responses.

Definition::

    premises:  [{id, text}, ...]        at least 2; text is authored HTML
    responses: [{id, text}, ...]        at least 2; may be more than the premises (distractors)
    pairs:     {premise_id: response_id}   every premise exactly once
    reuse_responses: false              true lets one response answer several premises
    scoring:   per_pair                 per_pair (marks / premises for each right pair) | all_or_nothing
    shuffle:   true                     false shows premises and responses as written

The candidate gets one ``<select>`` per premise (``match-<n>``, n the premise's display
position), listing "Choose…" and the responses in the attempt's order; values are display
positions. Responses appear in ``<option>``, which holds text only, so their HTML is shown as
plain text. The response is ``{premise_id: response_id}`` for the premises answered (``None`` if
none). ``per_pair`` awards ``marks × right / premises`` to the hundredth, and exactly ``marks``
when every pair is right.

Author form (see ``engine.author_forms`` for the conventions): ``stem``, ``marks``,
``scoring``, ``shuffle``, ``reuse_responses``; rows ``premise-<n>-id``, ``premise-<n>-text``,
``premise-<n>-response`` (``#<m>``: response row m) and ``response-<m>-id``,
``response-<m>-text``. Blank ids become ``p1``… and ``r1``….
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
from engine.sanitize import sanitise_html

SCORING = ("per_pair", "all_or_nothing")


class Matching(ItemType):
    type_name = "matching"
    label = "Matching (pair premises with responses)"
    template_folder = Path(__file__).parent / "templates"

    # --- definition -------------------------------------------------------------------------

    def validate_definition(self, defn):
        problems = common_problems(defn)
        problems += entries.entry_problems(defn, "premises", 2, "premise")
        problems += entries.entry_problems(defn, "responses", 2, "response")
        for name in ("shuffle", "reuse_responses"):
            if name in defn and not isinstance(defn[name], bool):
                problems.append(Problem(name, "must be true or false"))
        if defn.get("scoring", "per_pair") not in SCORING:
            problems.append(Problem("scoring", f"must be one of {', '.join(SCORING)}"))
        problems += self._pair_problems(defn)
        # Responses are shown in a drop-down, which holds text only: markup alone would show nothing.
        for index, entry in enumerate(defn.get("responses") if isinstance(defn.get("responses"), list) else []):
            if isinstance(entry, dict) and isinstance(entry.get("text"), str) and entry["text"].strip() \
                    and not plain_text(sanitise_html(entry["text"])):
                problems.append(Problem(f"responses[{index}].text", "has no words once its HTML is cleaned "
                                                                    "(a drop-down shows text only)"))
        return problems

    def _pair_problems(self, defn: dict) -> list[Problem]:
        pairs = defn.get("pairs")
        if not isinstance(pairs, dict):
            return [Problem("pairs", "must map every premise id to its response id, e.g. {p1: r1, p2: r2}")]
        premise_ids = entries.ids_of(defn, "premises")
        response_ids = entries.ids_of(defn, "responses")
        reuse = defn.get("reuse_responses") is True
        problems, answered_by = [], {}
        for premise in pairs:
            if premise not in premise_ids:
                problems.append(Problem(f"pairs.{premise}", f"{premise!r} is not the id of a premise"))
        for premise in dict.fromkeys(premise_ids):
            if premise not in pairs:
                problems.append(Problem(f"pairs.{premise}", "is missing: every premise needs its response"))
                continue
            response = pairs[premise]
            if not isinstance(response, str) or response not in response_ids:
                problems.append(Problem(f"pairs.{premise}", f"{response!r} is not the id of a response"))
            elif response in answered_by and not reuse:
                problems.append(Problem(
                    f"pairs.{premise}", f"{response!r} already answers {answered_by[response]!r}; a response is "
                    "used once unless reuse_responses: true"))
            else:
                answered_by.setdefault(response, premise)
        return problems

    def sanitise_definition(self, defn):
        cleaned = super().sanitise_definition(defn)
        for field in ("premises", "responses"):
            if field in cleaned:
                cleaned[field] = entries.sanitised(cleaned[field])
        return cleaned

    # --- attempt ----------------------------------------------------------------------------

    def start_attempt(self, defn, rng: random.Random):
        premises, responses = entries.ids_of(defn, "premises"), entries.ids_of(defn, "responses")
        if defn.get("shuffle", True):
            premises, responses = entries.shuffled(premises, rng), entries.shuffled(responses, rng)
        return {"premises": premises, "responses": responses}

    def _orders(self, defn: dict, state) -> tuple[list[str], list[str]]:
        return (entries.stored_order(state, "premises", entries.ids_of(defn, "premises")),
                entries.stored_order(state, "responses", entries.ids_of(defn, "responses")))

    def candidate_context(self, defn, state, response):
        premise_order, response_order = self._orders(defn, state)
        premise_text, response_text = entries.texts_of(defn, "premises"), entries.texts_of(defn, "responses")
        chosen = response if isinstance(response, dict) else {}
        labels = [plain_text(response_text.get(rid, "")) for rid in response_order]
        rows = []
        for number, pid in enumerate(premise_order, start=1):
            picked = chosen.get(pid)
            rows.append({
                "number": number,
                "html": premise_text.get(pid, ""),
                "choices": [{"value": position, "text": label, "selected": picked == rid}
                            for position, (rid, label) in enumerate(zip(response_order, labels))],
            })
        # Whether an answer may be used twice is part of the question, not a hint at the pairs.
        return {"stem": defn.get("stem", ""), "premises": rows, "may_reuse": defn.get("reuse_responses") is True}

    def parse_response(self, defn, state, fields):
        premise_order, response_order = self._orders(defn, state)
        response = {}
        for display, pid in enumerate(premise_order):
            picked = entries.position(entries.first_value(fields, f"match-{display}"), len(response_order))
            if picked is not None:
                response[pid] = response_order[picked]
        return response or None

    def fields_for_response(self, defn, state, response):
        premise_order, response_order = self._orders(defn, state)
        if not isinstance(response, dict):
            return {}
        fields = {}
        for display, pid in enumerate(premise_order):
            rid = response.get(pid)
            if isinstance(rid, str) and rid in response_order:
                fields[f"match-{display}"] = [str(response_order.index(rid))]
        return fields

    # --- marking ----------------------------------------------------------------------------

    def mark(self, defn, response):
        available = marks_of(defn)
        premise_ids = list(dict.fromkeys(entries.ids_of(defn, "premises")))
        answered = {pid: response[pid] for pid in premise_ids
                    if isinstance(response, dict) and isinstance(response.get(pid), str)}
        if not answered:
            return Mark(Decimal(0), available, "blank")
        pairs = defn.get("pairs") if isinstance(defn.get("pairs"), dict) else {}
        right = sum(1 for pid, rid in answered.items() if pairs.get(pid) == rid)
        if premise_ids and right == len(premise_ids):
            return Mark(available, available, "correct")
        if defn.get("scoring", "per_pair") == "per_pair" and right:
            # marks x right / n, not (marks / n) x right: one rounding, not n.
            return Mark(clamp(available * right / len(premise_ids), available), available, "partial")
        return Mark(Decimal(0), available, "incorrect")

    def correct_response(self, defn):
        return dict(defn["pairs"])

    def summarise_response(self, defn, response):
        if not isinstance(response, dict):
            return ""
        premise_text, response_text = entries.texts_of(defn, "premises"), entries.texts_of(defn, "responses")
        lines, any_answer = [], False
        for pid in entries.ids_of(defn, "premises"):
            rid = response.get(pid)
            answer = response_text.get(rid) if isinstance(rid, str) else None
            any_answer = any_answer or answer is not None
            lines.append(f"{plain_text(premise_text.get(pid, pid))} → {plain_text(answer) if answer else '(no answer)'}")
        return "; ".join(lines) if any_answer else ""

    # --- authoring --------------------------------------------------------------------------

    def parse_author_form(self, form):
        defn: dict = {}
        af.put_if(defn, "stem", af.text(form, "stem"))
        af.put_if(defn, "marks", af.number(form, "marks"))
        af.put_if(defn, "scoring", af.text(form, "scoring"))
        for name in ("shuffle", "reuse_responses"):
            af.put_if(defn, name, af.flag(form, name))
        premise_rows, response_rows = af.rows(form, "premise"), af.rows(form, "response")
        premise_ids, response_ids = af.row_ids(premise_rows, "p"), af.row_ids(response_rows, "r")
        if premise_rows:
            defn["premises"] = [{"id": premise_ids[n], "text": row.get("text", "")} for n, row in premise_rows]
        if response_rows:
            defn["responses"] = [{"id": response_ids[n], "text": row.get("text", "")} for n, row in response_rows]
        pairs = {}
        for n, row in premise_rows:
            af.put_if(pairs, premise_ids[n], af.resolve(row.get("response", ""), response_ids))
        if pairs or premise_rows:
            defn["pairs"] = pairs
        return defn

    def author_form_data(self, defn):
        form = {"stem": [af.text_of(defn, "stem")], "marks": [af.number_text(defn.get("marks"))],
                "scoring": [af.text_of(defn, "scoring")],
                "shuffle": [af.flag_text(defn, "shuffle")], "reuse_responses": [af.flag_text(defn, "reuse_responses")]}
        responses = defn.get("responses") if isinstance(defn.get("responses"), list) else []
        response_ids = [r.get("id") if isinstance(r, dict) else None for r in responses]
        for m, entry in enumerate(responses):
            entry = entry if isinstance(entry, dict) else {}
            form[f"response-{m}-id"] = [af.text_of(entry, "id")]
            form[f"response-{m}-text"] = [af.text_of(entry, "text")]
        pairs = defn.get("pairs") if isinstance(defn.get("pairs"), dict) else {}
        for n, entry in enumerate(defn.get("premises") if isinstance(defn.get("premises"), list) else []):
            entry = entry if isinstance(entry, dict) else {}
            form[f"premise-{n}-id"] = [af.text_of(entry, "id")]
            form[f"premise-{n}-text"] = [af.text_of(entry, "text")]
            pid = entry.get("id")
            form[f"premise-{n}-response"] = [af.reference_to(pairs.get(pid) if isinstance(pid, str) else None,
                                                             response_ids)]
        return form


@hookimpl
def register_item_types():
    return [Matching]
