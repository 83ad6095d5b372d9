"""Models for exam-condition locks (issue 7), kept beside engine.models and imported at its end
so one metadata holds all.

The locks' configuration lives on the specification (``TestSpecification.locks``) and, when a
sitting overrides it, on the sitting (``Sitting.locks``); these tables hold what the locks
remember about one attempt: the browser it is bound to, the lockouts the invigilator must
lift, and every signal the candidate's browser reported.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base


class DeviceBinding(Base):
    """The one browser an attempt is bound to (the one-device lock). Removed when the
    invigilator moves the candidate, so the next browser to sign in is bound instead."""

    __tablename__ = "device_bindings"
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), primary_key=True)
    #: A random id, new at every binding, carried by the browser in a signed cookie.
    device_id: Mapped[str] = mapped_column(String(64))
    bound_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Lockout(Base):
    """An attempt locked by a lock's policy until the invigilator unlocks it (with a reason)."""

    __tablename__ = "lockouts"
    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    lock_name: Mapped[str] = mapped_column(String(64))
    #: What the candidate and the invigilator read: why the test is locked.
    reason: Mapped[str] = mapped_column(Text)
    locked_at: Mapped[dt.datetime] = mapped_column(DateTime)
    #: True when the lock paused the clock (policy ``clock: stop``); the unlock resumes it.
    clock_stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    unlocked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    unlocked_by: Mapped[str | None] = mapped_column(String(120), default=None)
    unlock_reason: Mapped[str | None] = mapped_column(Text, default=None)


class BrowserSignal(Base):
    """A report from the candidate's browser (left full screen, lost focus, tried to copy...).

    Only a report: the server decides what it means (``engine.lock_signals``).
    """

    __tablename__ = "browser_signals"
    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    #: What the server did: "incident", "locked", "counted" (an incident for it was recent).
    action: Mapped[str] = mapped_column(String(16))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), default=None)
