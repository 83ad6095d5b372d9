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


def record_written(db: Session, actor: str, action: str, subject: str, now: dt.datetime,
                   reason: str | None = None, detail: dict | None = None) -> None:
    """:func:`record`, written at once in the caller's write transaction (one INSERT, nothing
    left for the session to flush): for a write that makes no other ORM change, where the unit
    of work's flush of a handful of rows cost more than the statements (docs/performance.md,
    session 17). Only inside ``db.writing``: the row is not the session's to roll back."""
    db.connection().execute(_INSERT, {"at": now, "actor": actor, "action": action, "subject": subject,
                                      "reason": reason, "detail": detail or {}})
