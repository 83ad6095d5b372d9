"""The authoring page's form: the bank fields every item has, plus the item type's own author
form (``parse_author_form``), checked by the same rules as the bank loader, so an item saved here
is one ``bank load`` would accept back from its file.

Field names: the bank fields are plain (``key``, ``criterion``, ``topics``, ``difficulty``,
``enemies``); the item type's fields carry :data:`PREFIX` so they can never collide with them.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace

from engine import banks, models
from engine.assets import ASSET_URL
from engine.item_types import Problem, marks_of

PREFIX = "a-"
_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_ROW_PATH = re.compile(r"(?P<kind>[a-z_]+)\[(?P<n>[0-9]+)\]\.(?P<field>[a-z_]+)\Z")


@dataclass
class Draft:
    type_name: str
    key: str
    criterion: str
    topics: list[str]
    difficulty: Decimal | None
    enemies: list[str]
    definition: dict
    problems: list[Problem] = field(default_factory=list)


def criteria_of(unit: models.Unit) -> dict[str, models.AssessmentCriterion]:
    return {c.number: c for lo in unit.learning_outcomes for c in lo.criteria}


def read(form, unit: models.Unit, plugin, unit_keys: set[str], editing: models.Item | None) -> Draft:
    """Read and check the posted form (a werkzeug MultiDict); every problem names its field."""
    problems: list[Problem] = []
    key = editing.key if editing else form.get("key", "").strip()
    if editing is None:
        if not banks.ITEM_ID_PATTERN.match(key):
            problems.append(Problem("key", "must be a lower-case id: letters, digits, '.', '-' or '_' (such as u2-1.1-07)"))
        elif key in unit_keys:
            problems.append(Problem("key", f"{key!r} is already an item of this unit"))
    criteria = criteria_of(unit)
    criterion = form.get("criterion", "").strip()
    topics = [t for t in form.getlist("topics") if t]
    if criterion not in criteria:
        problems.append(Problem("criterion", "choose the assessment criterion the item tests"))
    else:
        allowed = {t["id"] for t in criteria[criterion].amplification}
        if not topics:
            problems.append(Problem("topics", f"tick at least one topic of criterion {criterion}"))
        for topic in topics:
            if topic not in allowed:
                problems.append(Problem("topics", f"{topic!r} is not a topic of criterion {criterion}"))
    difficulty = None
    written = form.get("difficulty", "").strip()
    if written:
        try:
            difficulty = Decimal(written).normalize()
            if not difficulty.is_finite() or not 0 <= difficulty <= 1:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            problems.append(Problem("difficulty", "must be a number from 0 (easy) to 1 (hard), such as 0.4"))
            difficulty = None
    enemies = [e for e in re.split(r"[\s,]+", form.get("enemies", "")) if e]
    for enemy in enemies:
        if enemy == key or enemy not in unit_keys:
            problems.append(Problem("enemies", f"{enemy!r} is not another item of this unit"))
    definition = plugin.parse_author_form(type_fields(form))
    problems += plugin.validate_definition(definition)
    problems += image_source_problems(definition)
    return Draft(plugin.type_name, key, criterion, topics, difficulty, enemies, definition, problems)


def image_source_problems(value, path: str = "") -> list[Problem]:
    """Images in authored items must be uploaded assets (``/assets/<sha256>.<ext>``)."""
    if isinstance(value, str):
        return [Problem(path or "stem", f"image {src!r}: upload it on the Images page and use the address it gives")
                for groups in _IMG_SRC.findall(value) for src in ["".join(groups)] if not ASSET_URL.match(src)]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in image_source_problems(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in image_source_problems(v, f"{path}[{i}]")]
    return []


def version_fields(draft: Draft, plugin, criterion: models.AssessmentCriterion) -> tuple[dict, str]:
    """The new ItemVersion's columns and its content hash (the bank loader's, so a load of the
    exported file finds it unchanged)."""
    definition = plugin.sanitise_definition(draft.definition)
    record = SimpleNamespace(type_name=draft.type_name, criterion=draft.criterion, topics=draft.topics,
                             difficulty=draft.difficulty, enemies=draft.enemies)
    digest = banks.content_hash(record, definition)
    return dict(type_name=draft.type_name, marks=marks_of(definition), criterion_id=criterion.id, topics=draft.topics,
                difficulty=draft.difficulty, enemies=draft.enemies, definition=definition), digest


def form_of(version: models.ItemVersion, plugin) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The bank fields and the item type's fields (without :data:`PREFIX`, as its author template
    reads them) for editing ``version``: the inverse of :func:`read`."""
    difficulty = "" if version.difficulty is None else f"{Decimal(version.difficulty).normalize():f}"
    meta = dict(key=[version.item.key], criterion=[version.criterion.number], topics=list(version.topics),
                difficulty=[difficulty], enemies=[", ".join(version.enemies)])
    return meta, plugin.author_form_data(version.definition)


def type_fields(form) -> dict[str, list[str]]:
    """The item type's own posted fields, :data:`PREFIX` removed."""
    return {name[len(PREFIX):]: form.getlist(name) for name in form if name.startswith(PREFIX)}


def field_name(path: str) -> str:
    """The form field a problem's path names: ``options[2].text`` -> ``option-2-text``."""
    match = _ROW_PATH.match(path)
    if not match:
        return path
    kind = match["kind"]
    kind = kind[:-3] + "y" if kind.endswith("ies") else kind[:-1] if kind.endswith("s") else kind
    return f"{kind}-{match['n']}-{match['field']}"


def errors_by_field(problems: list[Problem]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in problems:
        found.setdefault(field_name(problem.path), []).append(problem.message)
    return found


def preview_context(plugin, definition: dict) -> dict:
    """What the candidate template needs to show ``definition`` as a candidate sees it."""
    state = plugin.start_attempt(definition, random.Random(0))
    return plugin.candidate_context(definition, state, None)


def flatten(value, path: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        return {k: v for key, child in value.items() for k, v in flatten(child, f"{path}.{key}" if path else str(key)).items()}
    if isinstance(value, list):
        return {k: v for i, child in enumerate(value) for k, v in flatten(child, f"{path}[{i}]").items()} or {path: "(none)"}
    return {path: "" if value is None else str(value)}


def describe(version: models.ItemVersion) -> dict[str, str]:
    """A version as field -> text, for the diff view."""
    return flatten({"type": version.type_name, "criterion": version.criterion.number, "topics": list(version.topics),
                    "difficulty": None if version.difficulty is None else f"{Decimal(version.difficulty).normalize():f}",
                    "enemies": list(version.enemies), **version.definition})


def diff(old: models.ItemVersion, new: models.ItemVersion) -> list[tuple[str, str, str]]:
    """``(field, old text, new text)`` for every field that differs."""
    before, after = describe(old), describe(new)
    return [(name, before.get(name, ""), after.get(name, "")) for name in sorted(set(before) | set(after))
            if before.get(name) != after.get(name)]
