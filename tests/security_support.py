"""Shared by the security suite (tests/test_security_*.py): the world the attacks run in, every
route of the app filled with real ids, principals, and the counts written to docs/security.md.

Routes are read from ``app.url_map`` at run time, so a route added later is attacked the moment
it exists. A route whose address takes an argument this module does not know how to fill makes
the suite fail with a message saying what to add (``ID_SOURCES`` / ``STRING_VALUES``), rather
than being skipped quietly.
"""
from __future__ import annotations

import itertools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from engine import models
from engine.models import Base

from centres_support import add_centre, add_membership, add_staff, read, staff_browser
from conftest import csrf_from
from test_sitting_end_to_end import correct_fields, form_of

ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
PASSWORD = "security-suite-password"
VICTIM_UCI = "990010260001V"
#: Routes with no state and nothing to protect; kept out of the matrices on purpose.
EXEMPT_ENDPOINTS = {
    "static",   # files shipped with the app (CSS, JS, fonts), the same for everyone
}
#: Where the figures of the latest run are collected (docs/security.md is written from them by hand).
FIGURES = Path(os.environ.get("ONSCREEN_SECURITY_FIGURES") or Path(
    os.environ.get("ONSCREEN_INSTANCE_PATH") or Path(__file__).parent.parent / "instance") / "security-figures.json")


def record_figure(name: str, **counts) -> None:
    """Keep one test's counts (tried, accepted, ...) for docs/security.md; the test asserts them."""
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    figures = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    figures[name] = counts
    FIGURES.write_text(json.dumps(figures, indent=2, sort_keys=True))


def scale(quick: int, long: int) -> int:
    """``make test`` runs the quick count; ``make security-long`` sets ONSCREEN_SECURITY_LONG=1."""
    return long if os.environ.get("ONSCREEN_SECURITY_LONG") == "1" else quick


# --- the world ---------------------------------------------------------------------------------------------


@dataclass
class World:
    """Centre A (the demo): a victim who has submitted (a marked result) and an attacker who is a
    candidate in the same sitting; centre B with staff of every role."""
    victim: dict[str, int]
    attacker_ids: dict[str, int]
    b_centre_id: int
    markers: list[str] = field(default_factory=list)


def build_world(app, demo, invigilator, candidate_factory) -> tuple[World, object, object]:
    """Returns the world, the victim's browser (finished) and the attacker's (in the test)."""
    victim = candidate_factory("0001")
    victim.sign_in()
    victim.confirm()
    attacker = candidate_factory("0002")
    attacker.sign_in()
    attacker.confirm()
    invigilator.start(demo["sitting_id"])
    for position, version, state in form_of(app, "0001"):
        assert victim.answer(position, correct_fields(app, version, state)).status_code == 200
    assert victim.submit().status_code == 303
    b_centre_id = add_centre(app, "99002", "Centre B")
    victim_ids, attacker_ids = ids_of(app, "0001"), ids_of(app, "0002")

    def mark_and_find(session):
        candidate = session.get(models.Candidate, victim_ids["candidate_id"])
        candidate.uci = VICTIM_UCI
        session.commit()
        return [candidate.full_name, f"{candidate.last_name}, {candidate.first_name}", VICTIM_UCI, demo["keycode"]]
    world = World(victim_ids, attacker_ids, b_centre_id, read(app, mark_and_find))
    return world, victim, attacker


def ids_of(app, candidate_number: str) -> dict[str, int]:
    """Every kind of id that reaches this candidate's data, by the name routes give it."""
    def find(session):
        centre = session.scalar(select(models.Centre).where(models.Centre.number == "99001"))
        candidate = session.scalar(select(models.Candidate).where(
            models.Candidate.centre_id == centre.id, models.Candidate.candidate_number == candidate_number))
        entry = session.scalar(select(models.Entry).where(models.Entry.candidate_id == candidate.id))
        attempt = entry.attempt
        form_item = attempt.form_items[0]
        officer = session.scalar(select(models.StaffUser).where(models.StaffUser.username == "officer"))
        found = {"centre_id": centre.id, "candidate_id": candidate.id, "sitting_id": entry.sitting_id,
                 "entry_id": entry.id, "attempt_id": attempt.id, "result_id": attempt.id,
                 "form_item_id": form_item.id, "version_id": form_item.item_version_id,
                 "item_version_id": form_item.item_version_id, "item_id": form_item.item_version.item_id,
                 "staff_id": officer.id, "position": form_item.position,
                 "specification_id": entry.sitting.specification_id, "unit_id": entry.sitting.specification.unit_id}
        incident = session.scalar(select(models.Incident).where(models.Incident.sitting_id == entry.sitting_id))
        if incident is not None:
            found["incident_id"] = incident.id
        return found
    return read(app, find)


# --- routes filled with ids ------------------------------------------------------------------------------------

#: Route argument names the suite knows, and what they identify. ``position`` counts from 1 within
#: the signed-in candidate's own form (the session says whose), so it is not a foreign id.
ID_SOURCES = {"centre_id", "candidate_id", "sitting_id", "entry_id", "attempt_id", "result_id", "form_item_id",
              "version_id", "item_version_id", "item_id", "staff_id", "incident_id", "position", "specification_id",
              "unit_id"}
#: Values for string arguments (not ids): each is tried.
STRING_VALUES = {
    "action": ["pause", "resume", "absent", "withdraw", "void", "break_start", "break_end", "extend", "credit",
               "move", "unlock"],
    "name": ["single_choice"],
    "filename": ["css/onscreen.css"],
}


def rules(app, *, methods: set[str] | None = None):
    """Every routed (rule, method) except the exempt endpoints, in a stable order."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint in EXEMPT_ENDPOINTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if methods is None or method in methods:
                yield rule, method


def arguments(rule) -> list[tuple[str, str]]:
    return ARGUMENT.findall(rule.rule)


def takes_ids(rule) -> bool:
    return any(name in ID_SOURCES - {"position"} or converter == "int" for converter, name in arguments(rule))


def fill(rule, ids: dict[str, int], *, every_string: bool = True) -> list[str]:
    """Concrete paths for ``rule`` with ``ids``; fails the test loudly for an argument it cannot fill."""
    choices = []
    for converter, name in arguments(rule):
        if name in ids:
            choices.append([ids[name]])
        elif name in STRING_VALUES:
            values = STRING_VALUES[name]
            choices.append(values if every_string else values[:1])
        else:
            kind = "id" if converter in ("int", "") or name.endswith("_id") else "value"
            pytest.fail(f"{rule.rule} ({rule.endpoint}) takes <{converter + ':' if converter else ''}{name}>, an "
                        f"{kind} the security suite cannot fill: add it to ID_SOURCES and ids_of() (or "
                        f"STRING_VALUES) in tests/security_support.py so this route is attacked too.")
    paths = []
    for combination in itertools.product(*choices):
        path = rule.rule
        for value in combination:
            path = ARGUMENT.sub(lambda m, v=value: str(v), path, count=1)
        paths.append(path)
    return paths


# --- principals ----------------------------------------------------------------------------------------------


def b_staff(app, world: World, roles: str, username: str, *, also_in_a: bool = False):
    user_id = add_staff(app, world.b_centre_id, username, PASSWORD, roles)
    if also_in_a:
        add_membership(app, user_id, world.victim["centre_id"])
    return staff_browser(app, username, PASSWORD)


class Anonymous:
    """A browser nobody signed in with; it still holds a CSRF token, so only the sign-in is missing."""

    def __init__(self, app):
        self.client = app.test_client()
        self.csrf = csrf_from(self.client.get("/start").get_data(as_text=True))


# --- what must not change --------------------------------------------------------------------------------------


def snapshot(app, skip: set[str] = frozenset({"audit_events", "sign_in_failures"})) -> dict[str, list[str]]:
    """Every row of every table (the audit log and failure counts may grow: refusals are recorded)."""
    def rows(session):
        return {table.name: sorted(map(repr, session.execute(select(table)).all()))
                for table in Base.metadata.sorted_tables if table.name not in skip}
    return read(app, rows)


def changed_tables(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]


def string_columns():
    """(model, column name, max length) of every string column, for the stored-input checks."""
    for mapper in Base.registry.mappers:
        for column in inspect(mapper.class_).columns:
            length = getattr(column.type, "length", None)
            python_type = None
            try:
                python_type = column.type.python_type
            except NotImplementedError:
                pass
            if python_type is str:
                yield mapper.class_, column, length
