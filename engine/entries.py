"""Lists of ``{id, text}`` entries that are not choice options: matching premises and responses,
ordering items. Validated with field paths (``premises[1].id``) and sanitised like options.

Display orders made from them hold ids only on the server (in the attempt's start state);
the browser sees display positions.
"""
from __future__ import annotations

import random

from engine.item_types import Problem
from engine.options import POSITION, id_problem
from engine.sanitize import sanitise_html


def entry_problems(defn: dict, field: str, minimum: int, noun: str) -> list[Problem]:
    """Problems with ``defn[field]``: a list of at least ``minimum`` mappings with a unique id and text."""
    entries = defn.get(field)
    if not isinstance(entries, list) or len(entries) < minimum:
        return [Problem(field, f"needs a list of at least {minimum} {noun}s, each with an id and text")]
    problems, seen = [], set()
    for index, entry in enumerate(entries):
        where = f"{field}[{index}]"
        if not isinstance(entry, dict):
            problems.append(Problem(where, "must be a mapping with id and text"))
            continue
        problem = id_problem(entry.get("id"), where, seen, noun)
        if problem:
            problems.append(problem)
        if not isinstance(entry.get("text"), str) or not entry["text"].strip():
            problems.append(Problem(f"{where}.text", "is required"))
    return problems


def ids_of(defn: dict, field: str) -> list[str]:
    """The string ids of ``defn[field]``, in written order (malformed entries skipped)."""
    entries = defn.get(field)
    if not isinstance(entries, list):
        return []
    return [e["id"] for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)]


def texts_of(defn: dict, field: str) -> dict[str, str]:
    entries = defn.get(field)
    if not isinstance(entries, list):
        return {}
    return {e["id"]: e["text"] for e in entries
            if isinstance(e, dict) and isinstance(e.get("id"), str) and isinstance(e.get("text"), str)}


def sanitised(entries) -> list:
    """A copy of an entry list with every ``text`` cleaned; anything malformed is left for the validator."""
    if not isinstance(entries, list):
        return entries
    return [{**e, "text": sanitise_html(e["text"])} if isinstance(e, dict) and isinstance(e.get("text"), str) else e
            for e in entries]


def shuffled(ids: list[str], rng: random.Random) -> list[str]:
    order = list(ids)
    rng.shuffle(order)
    return order


def stored_order(state, name: str, ids: list[str]) -> list[str]:
    """The display order saved in the start state, or the written order if it does not fit the
    definition (a state is only ever made by ``start_attempt``, but is not trusted to be)."""
    order = state.get(name) if isinstance(state, dict) else None
    if isinstance(order, list) and len(order) == len(ids) and all(isinstance(i, str) for i in order) \
            and set(order) == set(ids):
        return list(order)
    return list(ids)


def position(raw, size: int) -> int | None:
    """A posted display position as an int in ``[0, size)``, or None (plain ASCII digits only)."""
    if isinstance(raw, str) and POSITION.fullmatch(raw) and int(raw) < size:
        return int(raw)
    return None


def first_value(fields, name: str):
    values = fields.get(name) if isinstance(fields, dict) else None
    return values[0] if isinstance(values, list) and values else None
