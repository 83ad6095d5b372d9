"""Models for marking (kept beside engine.models, imported at its end so one metadata holds all).

* ``MarkingSettings``: per specification, whether open responses are second-marked and how far
  two markers may differ before a moderator decides. (Whether released results reach candidates
  is the ``read_only_after_submit`` lock's ``release_results`` setting: one place, docs/locks.md.)
* ``ManualMark``: a marker's mark for one form item, append-only; the mark in force is derived
  (``engine.marking_queue.mark_in_force``).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.models import MARKS, Base, FormItem, StaffUser, _refuse_change


class MarkingSettings(Base):
    """How one specification's open responses are marked; no row means the defaults."""

    __tablename__ = "marking_settings"
    specification_id: Mapped[int] = mapped_column(ForeignKey("test_specifications.id"), primary_key=True)
    #: Every open response is marked twice, by two different markers.
    second_marking: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Two marks this far apart or less agree (the first stands); further apart, a moderator decides.
    tolerance: Mapped[Decimal] = mapped_column(MARKS, default=Decimal(0))


class ManualMark(Base):
    """One marker's mark for one open response at one stage: first, second or moderation."""

    __tablename__ = "manual_marks"
    id: Mapped[int] = mapped_column(primary_key=True)
    form_item_id: Mapped[int] = mapped_column(ForeignKey("form_items.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    awarded: Mapped[Decimal] = mapped_column(MARKS)
    comment: Mapped[str] = mapped_column(Text, default="")
    marked_at: Mapped[dt.datetime] = mapped_column(DateTime)
    #: The item version whose mark scheme the marker saw.
    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"))

    form_item: Mapped[FormItem] = relationship()
    staff: Mapped[StaffUser] = relationship()


class ResultRelease(Base):
    """Results released to the centre (and, if the specification allows, to candidates): one row
    per release, append-only, so who released what and when is never lost."""

    __tablename__ = "result_releases"
    id: Mapped[int] = mapped_column(primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sittings.id"), index=True)
    released_at: Mapped[dt.datetime] = mapped_column(DateTime)
    released_by: Mapped[str] = mapped_column(String(120))
    attempts: Mapped[int] = mapped_column(Integer)


for _model in (ManualMark, ResultRelease):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)
