"""The demo centre: staff, candidates with an access arrangement, and an open sitting.

Run by ``onscreen demo`` (and ``make run``). Safe to run again: what exists is kept, and a
fresh sitting is opened each time so there is always one ready to start.
"""
from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from engine import attempts, banks, clock, db, models
from engine.config import REPO_ROOT
from engine.plugins import item_types

CENTRE = {"number": "99001", "name": "Onscreen Demo Centre", "timezone": "Europe/London"}
#: username, password, display name, roles. Demo passwords are printed; never use them live.
STAFF = [
    ("invigilator", "invigilate-demo", "Demo Invigilator", "invigilator"),
    ("writer", "write-demo", "Demo Item Writer", "item_writer"),
    ("reviewer", "review-demo", "Demo Reviewer", "reviewer"),
    ("admin", "admin-demo", "Demo Administrator", "admin"),
    ("officer", "officer-demo", "Demo Exams Officer", "exams_officer"),
    ("marker", "mark-demo", "Demo Marker", "marker"),
]
CANDIDATES = [
    ("0001", "Aisha", "Khan", {}),
    ("0002", "Ben", "Okafor", {"extra_time_percent": 25}),
    ("0003", "Chloe", "Williams", {}),
    ("0004", "Dylan", "Evans", {}),
    ("0005", "Ewa", "Nowak", {}),
    ("0006", "Finn", "O'Brien", {}),
]
DEMO_SPECIFICATION = "unit-2"


def create_demo(app: Flask, bank_path: Path | None = None) -> list[str]:
    session = db.new_session(app)
    try:
        with app.app_context(), db.writing(session):
            now = clock.now(session)
            summary = banks.load(session, bank_path or REPO_ROOT / "item_banks", item_types(app), now)
            centre = _centre(session)
            for username, password, name, roles in STAFF:
                _staff(session, centre, username, password, name, roles)
            candidates = [_candidate(session, centre, *row) for row in CANDIDATES]
            specification = session.scalar(select(models.TestSpecification).where(
                models.TestSpecification.code == DEMO_SPECIFICATION))
            if specification is None:
                raise RuntimeError(f"the demo needs the test specification {DEMO_SPECIFICATION!r} in the banks")
            sitting = attempts.open_sitting(
                session, centre=centre, specification=specification, candidates=candidates,
                title=f"Demo sitting: {specification.title}", actor="demo", staff_id=None, now=now)
        return [
            f"Item banks: {summary.units} unit(s), {summary.items_added} new item(s), {summary.versions_added} new version(s).",
            f"Centre {centre.number} ({centre.name}).",
            "Staff sign-in at /staff/login:",
            *[f"  {u} / {p}  ({r})" for u, p, _n, r in STAFF],
            f"Sitting {sitting.id}: {sitting.title}; keycode {sitting.keycode}.",
            f"Candidate sign-in at /start: centre {centre.number}, candidate number 0001 to "
            f"{CANDIDATES[-1][0]}, keycode {sitting.keycode} (0002 has 25% extra time).",
        ]
    finally:
        session.close()


def _centre(session) -> models.Centre:
    centre = session.scalar(select(models.Centre).where(models.Centre.number == CENTRE["number"]))
    if centre is None:
        centre = models.Centre(**CENTRE)
        session.add(centre)
        session.flush()
    return centre


def _staff(session, centre, username, password, name, roles) -> None:
    if session.scalar(select(models.StaffUser).where(models.StaffUser.username == username)) is None:
        session.add(models.StaffUser(
            centre_id=centre.id, username=username, display_name=name, roles=roles,
            password_hash=generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])))


def _candidate(session, centre, number, first, last, arrangements) -> models.Candidate:
    candidate = session.scalar(select(models.Candidate).where(
        models.Candidate.centre_id == centre.id, models.Candidate.candidate_number == number))
    if candidate is None:
        candidate = models.Candidate(centre_id=centre.id, candidate_number=number, first_name=first,
                                     last_name=last, access_arrangements=arrangements)
        session.add(candidate)
        session.flush()
    return candidate
