"""The one clock that decides time: the database's, never the browser's.

PostgreSQL is asked for ``now()`` (the transaction's time, shared by every app server);
SQLite lives on the app server's own disk, so its clock is this host's. Tests install a
controlled clock with ``app.config["CLOCK"] = callable``.

Within one web request PostgreSQL is asked once: a request lasts milliseconds, and every
further ``SELECT now()`` was a round trip on the hottest paths (the lock guard, the save, the
timer). The request's time is therefore when it was first asked, a few milliseconds before its
write commits; a save that arrived in time is judged by its arrival. The lock guard asks it in
its own statement (``DATABASE_NOW``, ``remember``), so a candidate request pays no round trip
for the time at all.
"""
from __future__ import annotations

import datetime as dt

from flask import current_app, has_app_context, has_request_context, request
from sqlalchemy import DateTime, literal_column, text
from sqlalchemy.orm import Session

_REQUEST_NOW = "onscreen.now"
_NOW_SQL = "now() AT TIME ZONE 'UTC'"
#: PostgreSQL's time as a column, for a statement that reads something else as well.
DATABASE_NOW = literal_column(_NOW_SQL, DateTime)


def asks_database(db: Session) -> bool:
    """Whether :func:`now` asks the database (PostgreSQL, and no test clock installed)."""
    return not (has_app_context() and current_app.config.get("CLOCK")) and db.get_bind().dialect.name == "postgresql"


def remember(moment: dt.datetime) -> None:
    """Keep ``moment``, read with ``DATABASE_NOW`` in the request's transaction, as the
    request's time: what :func:`now` would have asked for (the transaction's start)."""
    if has_request_context():
        request.environ.setdefault(_REQUEST_NOW, moment)


def now(db: Session) -> dt.datetime:
    """The current time as naive UTC."""
    if has_app_context() and current_app.config.get("CLOCK"):
        return current_app.config["CLOCK"]()
    if db.get_bind().dialect.name == "postgresql":
        if not has_request_context():
            return db.scalar(text(f"SELECT {_NOW_SQL}"))
        # On the request itself, not on g: an app context may outlive one request (a test's).
        environ = request.environ
        if _REQUEST_NOW not in environ:
            environ[_REQUEST_NOW] = db.scalar(text(f"SELECT {_NOW_SQL}"))
        return environ[_REQUEST_NOW]
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
