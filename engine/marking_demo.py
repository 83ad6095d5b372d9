"""The marking demo: a small ended sitting whose open responses wait for the demo marker.

``onscreen demo`` runs it after the main demo. It loads the demo unit in ``engine/demo_bank``
(every form has a 4-mark extended response, and one item's key is deliberately wrong so a key fix
and a regrade can be shown), enters four demo candidates of their own (0101-0104, so the main
demo sitting is untouched), and plays the sitting through the service layer with fixed answers,
finishing it a few minutes before now. Safe to run again: an existing marking demo is kept.
"""
from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from engine import attempts, banks, clock, db, models
from engine.demo import CENTRE, _candidate, _centre
from engine.plugins import item_types

BANK = Path(__file__).with_name("demo_bank")
SPECIFICATION = "demo-marking"
TITLE = "Marking demo: customer service in writing"
#: number, first name, last name, answers by item key.
CANDIDATES = [
    ("0101", "Hana", "Sato", {"u9-1.1-01": "b", "u9-1.1-02": "true", "u9-1.1-03": "b",
                              "u9-2.1-01": "I would listen to the customer without interrupting and apologise "
                                           "for the late delivery.\nThen I would offer a refund of the delivery "
                                           "charge, agree it with them, and record the complaint."}),
    ("0102", "Idris", "Bello", {"u9-1.1-01": "b", "u9-1.1-02": "true", "u9-1.1-03": "c",
                                "u9-2.1-01": "Say sorry and tell them it will be better next time."}),
    ("0103", "Jonas", "Berg", {"u9-1.1-01": "a", "u9-1.1-02": "false", "u9-1.1-03": "b",
                               "u9-2.1-01": "Listen, apologise and find a solution."}),
    ("0104", "Kira", "Patel", {"u9-1.1-01": "b", "u9-1.1-02": "false", "u9-1.1-03": "a"}),
]


def create_marking_demo(app: Flask) -> list[str]:
    session = db.new_session(app)
    try:
        with app.app_context(), db.writing(session):
            now = clock.now(session)
            banks.load(session, BANK, item_types(app), now)
            existing = session.scalar(select(models.Sitting).where(models.Sitting.title == TITLE))
            if existing is not None:
                return [f"Marking demo (sitting {existing.id}) already made: sign in as marker / mark-demo, "
                        "then Marking."]
            centre = _centre(session)
            spec = session.scalar(select(models.TestSpecification).where(
                models.TestSpecification.code == SPECIFICATION))
            people = [(_candidate(session, centre, number, first, last, {}), answers)
                      for number, first, last, answers in CANDIDATES]
            sitting = play(session, centre, spec, people, now)
        return [f"Marking demo (sitting {sitting.id}, ended): {len(people)} candidates whose open responses wait for "
                f"marker / mark-demo at /marking; centre {CENTRE['number']}, candidates 0101-0104. Item u9-1.1-03 "
                "has a deliberately wrong key (see docs/results.md to fix it and regrade)."]
    finally:
        session.close()


def play(session, centre, spec, people, now: dt.datetime) -> models.Sitting:
    """Open, start, answer and end a sitting in the recent past (so its times are all before now)."""
    start = now - dt.timedelta(minutes=15)
    sitting = attempts.open_sitting(session, centre=centre, specification=spec, candidates=[c for c, _ in people],
                                    title=TITLE, actor="demo", staff_id=None, now=start)
    session.flush()
    for entry in sitting.entries:
        attempts.confirm_details(session, entry.attempt, start)
    attempts.start_sitting(session, sitting, "demo", start)
    answers = {candidate.id: chosen for candidate, chosen in people}
    for entry in sitting.entries:
        attempt, chosen = entry.attempt, answers[entry.candidate_id]
        for step, form_item in enumerate(attempt.form_items, start=1):
            response = chosen.get(form_item.item_version.item.key)
            if response is not None:
                attempts.save_response(session, attempt, form_item.position, response, uuid.uuid4().hex,
                                       start + dt.timedelta(minutes=step * 2), grace_seconds=0)
    attempts.end_sitting(session, sitting, "demo", start + dt.timedelta(minutes=10), reason="marking demo")
    return sitting
