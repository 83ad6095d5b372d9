"""Staff belonging to several centres (issue 13).

``StaffUser.centre_id`` stays the member's *home* centre (where a session starts); this table
lists every centre the member works for, the home centre included. An awarding-body
administrator has neither. Which centre a member is working in *now* is kept in their session
(``engine.staff_centres``), and every centre-scoped page is scoped to that one centre.
"""
from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base


class StaffCentre(Base):
    __tablename__ = "staff_centres"
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), primary_key=True, index=True)
