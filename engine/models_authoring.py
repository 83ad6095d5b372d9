"""Models for authoring (kept beside engine.models, imported at its end so one metadata holds all).

* ``ItemVersionReview``: where one item version stands in the review workflow (draft, in review,
  approved, returned). Item versions themselves are append-only, so their workflow state lives
  here, in a row that may change. A version loaded from the bank files has no row: its state
  follows the item's status in the files (see ``engine.authoring_workflow.version_state``).
* ``Asset``: an image kept by the SHA-256 of its bytes. The bytes live in the database, not in
  the instance folder, because app servers keep no state of their own: several servers share one
  database, and every one of them must serve every asset.
Comments and the history of an item are audit events (``subject = "item:<id>"``).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.models import Base, ItemVersion


class ItemVersionReview(Base):
    __tablename__ = "item_version_reviews"
    version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"), primary_key=True)
    #: "draft", "in_review", "approved" or "returned" (sent back to its writer with a comment).
    state: Mapped[str] = mapped_column(String(16), default="draft")
    written_by: Mapped[str] = mapped_column(String(120))
    submitted_by: Mapped[str | None] = mapped_column(String(120), default=None)
    approved_by: Mapped[str | None] = mapped_column(String(120), default=None)
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)

    version: Mapped[ItemVersion] = relationship()


class Asset(Base):
    """An image, named by the SHA-256 of its bytes: the same bytes are stored once."""

    __tablename__ = "assets"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Checked against the bytes on the way in; only types in ``engine.assets.MEDIA_TYPES``.
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    #: Where the bytes were first found beside the bank files (``assets/till.png``), so an export
    #: writes them back under the same name; ``None`` for an upload.
    bank_path: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
