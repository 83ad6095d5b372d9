"""The waiting screen's poll, answered in front of Flask while nothing has changed.

Before a room starts, every waiting screen polls ``/wait`` every 3 s: 2,000 candidates are
about 670 requests a second, more than the sign-ins of the login storm around them, and each
one went through Flask, the session, the lock guard's six-entity load and a template, only to
say "not yet" (docs/performance.md, session 7). This answers that common case with one
indexed read and a 204, which htmx takes as "nothing to swap", so the screen keeps polling.

It answers only when the full route would have said "still waiting" without writing anything:
the signed-in attempt is still waiting, on this browser (its session generation), and its last
contact is recent. Anything else goes on to the route itself (``engine.candidate.waiting``):
the room has started (the route sends the screen to its first item), the candidate was
signed out or moved, or the heartbeat is due. So the route, with every exam-condition lock,
still runs on each waiting screen at least once every ``HEARTBEAT_SECONDS``; the screen shows
no item and takes no answer in between.
"""
from __future__ import annotations

import datetime as dt

from flask import Flask
from itsdangerous import BadSignature
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import DBAPIError
from werkzeug.http import parse_cookie

from engine import db, models, security
from engine.attempt_states import WAITING
from engine.candidate import HEARTBEAT_SECONDS

#: The headers of every candidate answer (engine/security.py), on an empty one (a 204 carries no
#: Content-Length: RFC 9110, section 8.6).
NOTHING_CHANGED = [*security.HEADERS.items(), ("Cache-Control", "no-store"), ("Vary", "HX-Request")]


class WaitingPoll:
    """WSGI middleware around the Flask app: ``app.wsgi_app = WaitingPoll(app, app.wsgi_app)``."""

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if (environ.get("PATH_INFO") == "/wait" and environ.get("REQUEST_METHOD") == "GET"
                and environ.get("HTTP_HX_REQUEST") == "true" and self.still_waiting(environ)):
            start_response("204 No Content", NOTHING_CHANGED)
            return []
        return self.wsgi_app(environ, start_response)

    def still_waiting(self, environ) -> bool:
        claim = self._claim(environ)
        if claim is None:
            return False
        attempt_id, generation = claim
        engine = db.engine_for(self.app)
        try:
            with engine.connect() as connection:
                row = connection.execute(_statement(engine.dialect.name), {"attempt_id": attempt_id}).first()
        except DBAPIError:
            return False  # the route answers, with the page it gives when the database is away
        if row is None or row.state != WAITING or row.session_generation != generation:
            return False
        now = self._now(row)
        return row.last_contact_at is not None and (now - row.last_contact_at).total_seconds() < HEARTBEAT_SECONDS

    def _claim(self, environ) -> tuple[int, int] | None:
        """The attempt and generation in the browser's signed session cookie, read as Flask reads
        it (engine.auth.current_attempt_id); None when there is none or it does not verify."""
        cookie = parse_cookie(environ.get("HTTP_COOKIE", "")).get(self.app.session_interface.get_cookie_name(self.app))
        serializer = self.app.session_interface.get_signing_serializer(self.app)
        if not cookie or serializer is None:
            return None
        try:
            data = serializer.loads(cookie, max_age=int(self.app.permanent_session_lifetime.total_seconds()))
        except BadSignature:
            return None
        claim = data.get("candidate") if isinstance(data, dict) else None
        if not isinstance(claim, dict) or not isinstance(claim.get("attempt"), int):
            return None
        return claim["attempt"], claim.get("gen")

    def _now(self, row) -> dt.datetime:
        """The one clock (engine/clock.py): a test's, else the database's (read with the row on
        PostgreSQL), else this host's."""
        controlled = self.app.config.get("CLOCK")
        if controlled:
            return controlled()
        if getattr(row, "db_now", None) is not None:
            return row.db_now
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)


_COLUMNS = (models.Attempt.state, models.Attempt.session_generation, models.Attempt.last_contact_at)
#: Built once per dialect (their cache keys are kept): PostgreSQL's clock is read in the same
#: round trip.
_STATEMENTS = {
    "postgresql": select(*_COLUMNS, func.timezone("UTC", func.now()).label("db_now"))
    .where(models.Attempt.id == bindparam("attempt_id")),
    "other": select(*_COLUMNS).where(models.Attempt.id == bindparam("attempt_id")),
}


def _statement(dialect: str):
    return _STATEMENTS["postgresql" if dialect == "postgresql" else "other"]


def init_app(app: Flask) -> None:
    app.wsgi_app = WaitingPoll(app, app.wsgi_app)
