"""Make a database ready for a run: migrated, the banks and the demo loaded, ``n`` extra
candidates entered in a fresh sitting, everyone signed in over HTTP, and the room started."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from engine import attempts, clock, create_app, db, migrations, models
from engine.config import REPO_ROOT
from engine.demo import CENTRE, DEMO_SPECIFICATION, create_demo

SETTINGS = {"TESTING": True, "SECRET_KEY": "reliability-prepare"}


@dataclass
class Room:
    sitting_id: int
    keycode: str
    centre: str
    numbers: list[str]


def app_for(url: str):
    return create_app({**SETTINGS, "DATABASE_URL": url})


def build(url: str, candidates: int, *, fresh: bool = True) -> Room:
    """Migrate, load the demo (once) and open a sitting for ``candidates`` candidates."""
    app = app_for(url)
    if fresh:
        migrations.upgrade(app)
        create_demo(app, REPO_ROOT / "item_banks")
    session = db.new_session(app)
    try:
        with app.app_context(), db.writing(session):
            now = clock.now(session)
            centre = session.scalar(select(models.Centre).where(models.Centre.number == CENTRE["number"]))
            spec = session.scalar(select(models.TestSpecification).where(
                models.TestSpecification.code == DEMO_SPECIFICATION))
            people = []
            for index in range(candidates):
                number = f"7{index:03d}"
                person = session.scalar(select(models.Candidate).where(
                    models.Candidate.centre_id == centre.id, models.Candidate.candidate_number == number))
                if person is None:
                    person = models.Candidate(centre_id=centre.id, candidate_number=number, first_name="Load",
                                              last_name=f"Candidate {index}", access_arrangements={})
                    session.add(person)
                    session.flush()
                people.append(person)
            sitting = attempts.open_sitting(session, centre=centre, specification=spec, candidates=people,
                                            title="reliability run", actor="reliability", staff_id=None, now=now)
            session.flush()
            room = Room(sitting.id, sitting.keycode, centre.number, [p.candidate_number for p in people])
    finally:
        session.close()
        db.engine_for(app).dispose()
    return room


def start_room(url: str, sitting_id: int) -> int:
    """Start the sitting (as the invigilator would) once the candidates are waiting."""
    app = app_for(url)
    session = db.new_session(app)
    try:
        with app.app_context(), db.writing(session):
            return attempts.start_sitting(session, session.get(models.Sitting, sitting_id), "reliability",
                                          clock.now(session))
    finally:
        session.close()
        db.engine_for(app).dispose()


def positions(url: str, sitting_id: int) -> int:
    """How many questions each form of the sitting has (the smallest, if they differ)."""
    from sqlalchemy import func
    app = app_for(url)
    session = db.new_session(app)
    try:
        counts = session.execute(
            select(func.count()).select_from(models.FormItem)
            .join(models.Attempt, models.FormItem.attempt_id == models.Attempt.id)
            .join(models.Entry, models.Attempt.entry_id == models.Entry.id)
            .where(models.Entry.sitting_id == sitting_id).group_by(models.FormItem.attempt_id)).scalars().all()
        return min(counts)
    finally:
        session.close()
        db.engine_for(app).dispose()
