"""Audit events: who did what, when and why. Append-only."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import insert
from sqlalchemy.orm import Session

from engine import models


def record(db: Session, actor: str, action: str, subject: str, now: dt.datetime,
           reason: str | None = None, detail: dict | None = None) -> None:
    db.add(models.AuditEvent(at=now, actor=actor, action=action, subject=subject, reason=reason, detail=detail or {}))


_INSERT = insert(models.AuditEvent.__table__)


def record_written_many(db: Session, rows: list[dict]) -> None:
    """Records (each a dict of ``at``, ``actor``, ``action``, ``subject``, ``reason`` and ``detail``)
    written at once in the caller's write transaction, in one INSERT, nothing left for the
    session to flush: for the finish, which writes all its rows this way because at a deadline a
    whole room finishes at once and the unit of work's flush of them cost more than the
    statements (docs/performance.md, sessions 17 and 19). Only inside ``db.writing``, whose
    rollback undoes them: the session does not know of the rows."""
    if rows:
        db.connection().execute(_INSERT, rows)
