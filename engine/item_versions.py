"""Item versions as the test-taking path reads them, kept in memory by each app server.

A version is never changed once written: a correction is a new version (engine/regrade.py,
engine/authoring_forms.py), so what a form item points at is fixed for good. Every save needs
its version's type and definition to parse the answer; asking the database each time cost a
statement and an ORM load per save. Each app keeps its own cache (tests run several apps, each
on its own database, in one process), bounded so a long-running server cannot grow without end.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import models

_EXTENSION = "onscreen.item_versions"
#: Several sittings' forms fit many times over; a full cache is simply emptied and refilled.
MAX_CACHED = 20_000


@dataclass(frozen=True)
class VersionView:
    """What a candidate page needs of an item version. Treat ``definition`` as read-only."""

    id: int
    type_name: str
    definition: dict[str, Any]
    marks: Decimal


def get(db: Session, version_id: int) -> VersionView:
    cache: dict[int, VersionView] = current_app.extensions.setdefault(_EXTENSION, {})
    found = cache.get(version_id)
    if found is not None:
        return found
    table = models.ItemVersion.__table__
    row = db.execute(select(table.c.type_name, table.c.definition, table.c.marks)
                     .where(table.c.id == version_id)).one()
    found = VersionView(version_id, row.type_name, row.definition, row.marks)
    with _lock:
        if len(cache) >= MAX_CACHED:
            cache.clear()
        cache[version_id] = found
    return found


_lock = threading.Lock()
