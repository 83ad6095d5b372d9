"""Helpers for item types whose answers are chosen from a list of options.

Options are shown in a per-attempt order made once at start (pinned options such as
"None of these" keep their place). The browser only ever sees display positions, so nothing
in the page says which option is which in the definition, let alone which is the key.
"""
from __future__ import annotations

import random
import re

from engine.item_types import Problem
from engine.sanitize import sanitise_html

# \Z, not $: "$" would let a trailing newline through ("a\n").
OPTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}\Z")
#: A posted display position: plain ASCII digits, nothing else.
POSITION = re.compile(r"[0-9]{1,4}")


def id_problem(value, where: str, seen: set[str], noun: str) -> Problem | None:
    """The problem with an entry's ``id`` (not a short identifier, or used twice), or None.

    A good id is added to ``seen``, so one set serves a whole list of entries.
    """
    if not isinstance(value, str) or not OPTION_ID.match(value):
        return Problem(f"{where}.id", "must be a short identifier (letters, digits, - or _)")
    if value in seen:
        return Problem(f"{where}.id", f"{value!r} is used by another {noun}")
    seen.add(value)
    return None


def option_problems(defn: dict, minimum: int = 2) -> list[Problem]:
    options = defn.get("options")
    if not isinstance(options, list) or len(options) < minimum:
        return [Problem("options", f"needs a list of at least {minimum} options")]
    problems, seen = [], set()
    for index, option in enumerate(options):
        where = f"options[{index}]"
        if not isinstance(option, dict):
            problems.append(Problem(where, "must be a mapping with id and text"))
            continue
        problem = id_problem(option.get("id"), where, seen, "option")
        if problem:
            problems.append(problem)
        if not isinstance(option.get("text"), str) or not option["text"].strip():
            problems.append(Problem(f"{where}.text", "is required"))
        if "pinned" in option and not isinstance(option["pinned"], bool):
            problems.append(Problem(f"{where}.pinned", "must be true or false"))
    if "shuffle" in defn and not isinstance(defn["shuffle"], bool):
        problems.append(Problem("shuffle", "must be true or false"))
    return problems


def option_ids(defn: dict) -> list[str]:
    return [o["id"] for o in defn.get("options", []) if isinstance(o, dict) and "id" in o]


def sanitise_options(defn: dict) -> list[dict]:
    return [{**o, "text": sanitise_html(o["text"])} if isinstance(o.get("text"), str) else o for o in defn["options"]]


def shuffled_order(defn: dict, rng: random.Random) -> list[str]:
    """Option ids in display order: shuffled unless ``shuffle: false``; pinned ones stay put."""
    ids = option_ids(defn)
    if not defn.get("shuffle", True):
        return ids
    pinned = {i for i, o in enumerate(defn["options"]) if o.get("pinned")}
    movable = [oid for i, oid in enumerate(ids) if i not in pinned]
    rng.shuffle(movable)
    order, movable_iter = [], iter(movable)
    for i, oid in enumerate(ids):
        order.append(oid if i in pinned else next(movable_iter))
    return order


def display_options(defn: dict, state: dict, selected: set[str]) -> list[dict]:
    """Options in the attempt's order as {value, html, checked}; value is the display position."""
    text_by_id = {o["id"]: o["text"] for o in defn["options"]}
    order = [oid for oid in state.get("order", []) if oid in text_by_id] or list(text_by_id)
    return [
        {"value": str(position), "html": text_by_id[oid], "checked": oid in selected}
        for position, oid in enumerate(order)
    ]


def ids_from_positions(defn: dict, state: dict, values: list[str]) -> list[str]:
    """Map posted display positions back to option ids, ignoring anything out of range."""
    order = state.get("order") or option_ids(defn)
    chosen = []
    for value in values:
        # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses.
        if isinstance(value, str) and POSITION.fullmatch(value) and int(value) < len(order) \
                and order[int(value)] not in chosen:
            chosen.append(order[int(value)])
    return chosen


def positions_from_ids(defn: dict, state: dict, ids: list[str]) -> list[str]:
    order = state.get("order") or option_ids(defn)
    return [str(order.index(oid)) for oid in ids if oid in order]
