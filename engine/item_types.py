"""The item-type contract, modelled on Moodle's question types and XBlock scoring.

An item type is a class keyed by ``type_name`` and registered by a plugin through
``register_item_types``. The engine never branches on a type's name: it calls these methods.

The rules every type keeps:

* ``mark`` is pure: no database, request or clock; it never mutates its inputs; a blank or
  malformed response scores 0 without raising; marks stay within ``[0, available]``.
* The candidate view never carries the key or anything that reveals it: option values are
  display positions, not identifiers from the definition.
* ``parse_response`` sees only the item's own fields, with the engine's prefix removed.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from engine.sanitize import sanitise_html


@dataclass(frozen=True)
class Problem:
    """A problem with a definition: ``path`` names the field (e.g. ``options[2].text``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Mark:
    awarded: Decimal
    available: Decimal
    #: "correct", "partial", "incorrect", "blank" or "needs_marking"
    outcome: str


class ItemType:
    """Base class: optional methods have harmless defaults; the core ones must be written."""

    #: The stable key used in bank files and stored on item versions.
    type_name: str = ""
    #: What an item writer sees in menus.
    label: str = ""
    #: Folder holding ``candidate.html`` and ``review.html``; found by the app's template loader
    #: as ``item_types/<type_name>/...``.
    template_folder: Path | None = None
    #: False for types a person must mark (extended response).
    auto_marked: bool = True

    # --- definition -------------------------------------------------------------------------

    def validate_definition(self, defn: dict) -> list[Problem]:
        """Return every problem with ``defn``; an empty list means it is valid."""
        return common_problems(defn)

    def sanitise_definition(self, defn: dict) -> dict:
        """Return a copy with every authored HTML field passed through ``sanitise_html``."""
        cleaned = dict(defn)
        if isinstance(cleaned.get("stem"), str):
            cleaned["stem"] = sanitise_html(cleaned["stem"])
        return cleaned

    # --- attempt ----------------------------------------------------------------------------

    def start_attempt(self, defn: dict, rng: random.Random) -> dict:
        """Return the start state (e.g. a shuffled option order); called once per form."""
        return {}

    def candidate_context(self, defn: dict, state: dict, response: Any) -> dict:
        """Return what the candidate template needs, and nothing that reveals the key."""
        raise NotImplementedError

    def parse_response(self, defn: dict, state: dict, fields: dict[str, list[str]]) -> Any:
        """Turn the item's own form fields into a response (JSON-able) or ``None`` for blank."""
        raise NotImplementedError

    def mark(self, defn: dict, response: Any) -> Mark:
        raise NotImplementedError

    def correct_response(self, defn: dict) -> Any:
        """A response that earns full marks (for markers, reports and tests)."""
        raise NotImplementedError

    def summarise_response(self, defn: dict, response: Any) -> str:
        return "" if response is None else str(response)

    def fields_for_response(self, defn: dict, state: dict, response: Any) -> dict[str, list[str]]:
        """The form fields a browser would post for ``response``: the inverse of ``parse_response``."""
        raise NotImplementedError

    # --- authoring --------------------------------------------------------------------------

    def parse_author_form(self, form: dict[str, list[str]]) -> dict:
        raise NotImplementedError(f"{self.type_name} has no author form yet")

    def author_form_data(self, defn: dict) -> dict:
        return dict(defn)


def marks_of(defn: dict) -> Decimal:
    """The item's available marks as a Decimal (0 if missing or malformed)."""
    try:
        value = Decimal(str(defn.get("marks", 0)))
    except (InvalidOperation, ValueError):
        return Decimal(0)
    return value if value.is_finite() and value > 0 else Decimal(0)


def common_problems(defn: dict) -> list[Problem]:
    """Checks shared by every type: a stem, positive whole or half marks, and alt text on
    every image in any authored field."""
    problems = image_problems(defn)
    if not isinstance(defn.get("stem"), str) or not defn["stem"].strip():
        problems.append(Problem("stem", "is required and must be text"))
    raw = defn.get("marks")
    try:
        marks = Decimal(str(raw))
        if not marks.is_finite() or marks <= 0 or (marks * 2) % 1:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        problems.append(Problem("marks", f"must be a positive number of marks (whole or half), not {raw!r}"))
    return problems


_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)


def image_problems(value: Any, path: str = "") -> list[Problem]:
    """Every ``<img>`` in any text of the definition must say what it shows (WCAG 1.1.1)."""
    if isinstance(value, str):
        problems = []
        for tag in _IMG.findall(value):
            alt = _ALT.search(tag)
            if alt is None or not "".join(g or "" for g in alt.groups()).strip():
                problems.append(Problem(path or "stem", "every image needs alt text saying what it shows"))
        return problems
    if isinstance(value, dict):
        return [p for key, child in value.items() for p in image_problems(child, f"{path}.{key}" if path else str(key))]
    if isinstance(value, list):
        return [p for index, child in enumerate(value) for p in image_problems(child, f"{path}[{index}]")]
    return []


def clamp(awarded: Decimal, available: Decimal) -> Decimal:
    """Keep a mark within ``[0, available]``, to the hundredth that the database stores."""
    return max(Decimal(0), min(awarded, available)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
