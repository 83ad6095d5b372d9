"""Helpers for the centre tests: centres and staff made directly, staff browsers, quick reads."""
from __future__ import annotations

from werkzeug.security import generate_password_hash

from engine import db, models

from conftest import Invigilator


def add_centre(app, number: str, name: str, timezone: str = "Europe/London") -> int:
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            centre = models.Centre(number=number, name=name, timezone=timezone)
            session.add(centre)
            session.flush()
            centre_id = centre.id
        session.close()
    return centre_id


def add_staff(app, centre_id: int | None, username: str, password: str, roles: str) -> int:
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            user = models.StaffUser(centre_id=centre_id, username=username, display_name=username.title(), roles=roles,
                                    password_hash=generate_password_hash(password, method=app.config["PASSWORD_HASH_METHOD"]))
            session.add(user)
            session.flush()
            user_id = user.id
        session.close()
    return user_id


def add_membership(app, staff_id: int, centre_id: int) -> None:
    """Make the member of staff work for another centre too (engine.staff_centres)."""
    from engine.models_staff import StaffCentre
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            session.add(StaffCentre(staff_id=staff_id, centre_id=centre_id))
        session.close()


def staff_browser(app, username: str, password: str) -> Invigilator:
    """A signed-in staff browser with ``.client``, ``.csrf`` and ``.post(url, **data)``."""
    return Invigilator(app, username, password)


def read(app, work):
    """Run ``work(session)`` and return its result (objects are detached afterwards)."""
    with app.app_context():
        session = db.new_session(app)
        try:
            return work(session)
        finally:
            session.close()
