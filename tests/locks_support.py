"""Helpers for the lock tests: configure a sitting's locks, a centre's network, a working
candidate, and a second app on the same database behind a reverse proxy."""
from __future__ import annotations

import hashlib

from sqlalchemy import select

from engine import create_app, db, models

from conftest import TEST_SETTINGS
from invigilation_support import HX, attempt_of, sign_in_anywhere  # noqa: F401  (re-exported)

CENTRE_NET = "10.20.0.0/16"
INSIDE, OUTSIDE = "10.20.3.4", "203.0.113.9"


def set_locks(app, sitting_id: int, spec_locks: dict | None = None, sitting_locks: dict | None = None) -> None:
    """Give the sitting's specification ``spec_locks`` and the sitting ``sitting_locks``."""
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            sitting = session.get(models.Sitting, sitting_id)
            if spec_locks is not None:
                sitting.specification.locks = spec_locks
            sitting.locks = sitting_locks
        session.close()


def set_centre_ranges(app, centre_number: str, ranges: list[str]) -> None:
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            centre = session.scalar(select(models.Centre).where(models.Centre.number == centre_number))
            centre.network_ranges = ranges
        session.close()


def from_address(browser, address: str):
    browser.client.environ_base["REMOTE_ADDR"] = address
    return browser


def working(candidate_factory, invigilator, sitting_id: int, number: str = "0001", start: bool = True):
    browser = candidate_factory(number)
    browser.sign_in()
    browser.confirm()
    if start:
        invigilator.start(sitting_id)
    return browser


def proxied_app(app, clock, hops: int = 1):
    """Another app on the same database that trusts ``hops`` reverse proxies."""
    return create_app({**TEST_SETTINGS, "DATABASE_URL": app.config["DATABASE_URL"], "CLOCK": clock,
                       "PROXY_HOPS": hops})


def seb_hash(url: str, key: str) -> str:
    """What Safe Exam Browser sends: SHA-256 of the absolute URL followed by the key (hex)."""
    return hashlib.sha256((url + key).encode()).hexdigest()


def audit_actions(app, attempt_id: int) -> list[tuple[str, str | None]]:
    with app.app_context():
        session = db.new_session(app)
        found = [(e.action, e.reason) for e in session.scalars(
            select(models.AuditEvent).where(models.AuditEvent.subject == f"attempt:{attempt_id}")
            .order_by(models.AuditEvent.id))]
        session.close()
        return found
