"""The one clock that decides time: the database's, never the browser's.

PostgreSQL is asked for ``now()`` (the transaction's time, shared by every app server);
SQLite lives on the app server's own disk, so its clock is this host's. Tests install a
controlled clock with ``app.config["CLOCK"] = callable``.
"""
from __future__ import annotations

import datetime as dt

from flask import current_app, has_app_context
from sqlalchemy import text
from sqlalchemy.orm import Session


def now(db: Session) -> dt.datetime:
    """The current time as naive UTC."""
    if has_app_context() and current_app.config.get("CLOCK"):
        return current_app.config["CLOCK"]()
    if db.get_bind().dialect.name == "postgresql":
        return db.scalar(text("SELECT now() AT TIME ZONE 'UTC'"))
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
