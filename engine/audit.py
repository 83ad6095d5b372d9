"""Audit events: who did what, when and why. Append-only."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from engine import models


def record(db: Session, actor: str, action: str, subject: str, now: dt.datetime,
           reason: str | None = None, detail: dict | None = None) -> None:
    db.add(models.AuditEvent(at=now, actor=actor, action=action, subject=subject, reason=reason, detail=detail or {}))
