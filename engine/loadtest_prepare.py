"""Data for a load run: a load-test centre, N candidates in rooms, one sitting per room with
every form already made, one invigilator per room, and the plan file Locust reads.

A run uses up its sittings (every attempt finishes), so each ``prepare`` opens fresh ones;
the centre, candidates and invigilators are kept and reused. The sittings' time allowed is
set short (``allowed_seconds``) so the deadline burst falls inside a run of a few minutes.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import select, update
from werkzeug.security import generate_password_hash

from engine import attempts, banks, clock, db, models
from engine.config import REPO_ROOT
from engine.plugins import item_types

CENTRE_NAME = "Load Test Centre"
#: Scenarios: the exam day (login storm, synchronised start, steady, deadline burst) and the
#: common comparison scenario (sign in, start, 30 x (item, think, save), submit).
SCENARIOS = ("examday", "common")


class PrepareError(RuntimeError):
    """The run cannot be prepared; the message names the setting."""


@dataclass(frozen=True)
class PrepareOptions:
    candidates: int
    scenario: str = "examday"
    room_size: int = 30
    allowed_seconds: int = 180
    centre_number: str = "98001"
    specification: str = "unit-2"
    bank_path: Path | None = None


def prepare(app: Flask, options: PrepareOptions) -> dict:
    """Create everything the run needs and return the plan (also what ``write_plan`` saves)."""
    _check(options)
    session = db.new_session(app)
    try:
        with app.app_context():
            if session.scalar(select(models.TestSpecification.id).limit(1)) is None:
                with db.writing(session):
                    banks.load(session, options.bank_path or REPO_ROOT / "item_banks", item_types(app), clock.now(session))
            with db.writing(session):
                plan = _prepare(app, session, options)
        return plan
    except attempts.NotAccepted as refusal:
        # Candidates reused across many runs have seen most of the bank, and every form counts
        # towards the exposure window: a fresh centre (new candidates) or database avoids it.
        raise PrepareError(f"{refusal} (after earlier load runs: use another --centre, or a fresh database)") from refusal
    finally:
        session.close()


def _check(options: PrepareOptions) -> None:
    if options.scenario not in SCENARIOS:
        raise PrepareError(f"--scenario must be one of {', '.join(SCENARIOS)}, not {options.scenario!r}")
    if options.candidates < 1:
        raise PrepareError("--candidates must be at least 1")
    if options.room_size < 1:
        raise PrepareError("--room-size must be at least 1")
    if options.allowed_seconds < 30:
        raise PrepareError("--allowed-seconds must be at least 30 (the run needs a steady phase)")


def _prepare(app: Flask, session, options: PrepareOptions) -> dict:
    now = clock.now(session)
    specification = session.scalar(select(models.TestSpecification).where(
        models.TestSpecification.code == options.specification))
    if specification is None:
        raise PrepareError(f"--specification: there is no test specification {options.specification!r}")
    centre = session.scalar(select(models.Centre).where(models.Centre.number == options.centre_number))
    if centre is None:
        centre = models.Centre(number=options.centre_number, name=CENTRE_NAME, timezone="Europe/London",
                               load_test=True)
        session.add(centre)
        session.flush()
    elif not centre.load_test:
        raise PrepareError(f"--centre: {options.centre_number} is a real centre ({centre.name}); the load test "
                           "makes a centre of its own: choose a number no centre uses")
    candidates = _candidates(session, centre, options.candidates)
    rooms = [candidates[i:i + options.room_size] for i in range(0, len(candidates), options.room_size)]
    password = secrets.token_urlsafe(12)
    # One hash for every invigilator: the staff hash is deliberately slow, and the run signs
    # in one invigilator per room (a real cost the run keeps), but prepare need not pay it per room.
    password_hash = generate_password_hash(password, method=app.config["PASSWORD_HASH_METHOD"])
    plan_rooms = []
    for index, register in enumerate(rooms, start=1):
        sitting = attempts.open_sitting(
            session, centre=centre, specification=specification, candidates=register,
            title=f"Load test room {index}", actor="loadtest", staff_id=None, now=now)
        username = f"loadtest-{centre.number}-room{index}"
        _invigilator(session, centre, username, password_hash)
        plan_rooms.append({"sitting_id": sitting.id, "keycode": sitting.keycode, "invigilator": username,
                           "candidates": [c.candidate_number for c in register]})
    session.flush()
    sitting_ids = [room["sitting_id"] for room in plan_rooms]
    # The run is minutes long: the time allowed is cut so the deadline falls inside it.
    entry_ids = select(models.Entry.id).where(models.Entry.sitting_id.in_(sitting_ids))
    session.execute(update(models.Attempt).where(models.Attempt.entry_id.in_(entry_ids))
                    .values(allowed_seconds=options.allowed_seconds))
    if options.scenario == "common":
        # The common scenario has no invigilator: the room is running before anyone signs in,
        # so confirming one's details starts the test at once.
        for sitting in session.scalars(select(models.Sitting).where(models.Sitting.id.in_(sitting_ids))):
            attempts.start_sitting(session, sitting, "loadtest", now)
    items = session.scalar(select(models.FormItem.position).join(models.Attempt).join(models.Entry)
                           .where(models.Entry.sitting_id == sitting_ids[0])
                           .order_by(models.FormItem.position.desc()).limit(1))
    return {
        "scenario": options.scenario, "centre": centre.number, "candidates": len(candidates),
        "room_size": options.room_size, "allowed_seconds": options.allowed_seconds,
        "grace_seconds": app.config["SAVE_GRACE_SECONDS"],
        "items_per_form": items, "specification": specification.code,
        "invigilator_password": password, "rooms": plan_rooms, "prepared_at": now.isoformat(),
    }


def synthetic_plan(options: PrepareOptions) -> dict:
    """A plan for the ceiling app, which has no database: the same shape, nothing behind it."""
    _check(options)
    numbers = [f"{n:04d}" for n in range(1, options.candidates + 1)]
    rooms = [{"sitting_id": index, "keycode": "CEILING", "invigilator": f"ceiling-room{index}",
              "candidates": numbers[i:i + options.room_size]}
             for index, i in enumerate(range(0, len(numbers), options.room_size), start=1)]
    return {"scenario": options.scenario, "centre": options.centre_number, "candidates": len(numbers),
            "room_size": options.room_size, "allowed_seconds": options.allowed_seconds, "grace_seconds": 10,
            "items_per_form": 20, "specification": options.specification, "invigilator_password": "ceiling",
            "rooms": rooms, "prepared_at": None}


def _candidates(session, centre: models.Centre, count: int) -> list[models.Candidate]:
    numbers = [f"{n:04d}" for n in range(1, count + 1)]
    existing = {c.candidate_number: c for c in session.scalars(select(models.Candidate).where(
        models.Candidate.centre_id == centre.id, models.Candidate.candidate_number.in_(numbers)))}
    missing = [models.Candidate(centre_id=centre.id, candidate_number=n, first_name="Load",
                                last_name=f"Candidate {n}", access_arrangements={})
               for n in numbers if n not in existing]
    session.add_all(missing)
    session.flush()
    existing.update((c.candidate_number, c) for c in missing)
    return [existing[n] for n in numbers]


def _invigilator(session, centre: models.Centre, username: str, password_hash: str) -> None:
    user = session.scalar(select(models.StaffUser).where(models.StaffUser.username == username))
    if user is None:
        session.add(models.StaffUser(centre_id=centre.id, username=username, display_name=f"Load {username}",
                                     roles="invigilator", password_hash=password_hash))
    else:
        user.password_hash, user.active = password_hash, True


def write_plan(plan: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan, indent=1), encoding="utf-8")
    return path


def read_plan(path: Path) -> dict:
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PrepareError(f"--plan: {path} does not exist; run `onscreen loadtest prepare` first") from exc
    except json.JSONDecodeError as exc:
        raise PrepareError(f"--plan: {path} is not a plan file ({exc})") from exc
    for key in ("scenario", "rooms", "allowed_seconds", "centre"):
        if key not in plan:
            raise PrepareError(f"--plan: {path} has no {key!r}; prepare it again")
    return plan
