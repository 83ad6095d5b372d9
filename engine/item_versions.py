"""Item versions as the test-taking path reads them, kept in memory by each app server.

A version is never changed once written: a correction is a new version (engine/regrade.py,
engine/authoring_forms.py), so what a form item points at is fixed for good. Every save needs
its version's type and definition to parse the answer; asking the database each time cost a
statement and an ORM load per save, and marking an attempt loaded thirty versions with their
criteria and outcomes as ORM rows. A version's criterion and that criterion's learning outcome
are fixed too (a unit reload keeps criteria by number), so their numbers are kept with it.

Each app keeps its own cache (tests run several apps, each on its own database, in one process),
bounded so a long-running server cannot grow without end. Outside an app (a command-line tool
with no app context) nothing is cached.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import bindparam, select
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
    #: The assessment criterion the version assesses, and its learning outcome, by number
    #: (what marking needs to break a result down).
    criterion_number: str
    outcome_number: str


def view_of(version: models.ItemVersion) -> VersionView:
    """The view of a version already loaded as a row (e.g. a regrade's chosen version)."""
    return VersionView(version.id, version.type_name, version.definition, version.marks,
                       version.criterion.number, version.criterion.learning_outcome.number)


def get(db: Session, version_id: int) -> VersionView:
    return get_many(db, [version_id])[version_id]


def get_many(db: Session, version_ids) -> dict[int, VersionView]:
    """The views of ``version_ids``, with one statement for those not cached yet."""
    cache: dict[int, VersionView] = current_app.extensions.setdefault(_EXTENSION, {}) if has_app_context() else {}
    found = {i: cache[i] for i in version_ids if i in cache}
    missing = set(version_ids) - found.keys()
    if not missing:
        return found
    loaded = {row.id: VersionView(row.id, row.type_name, row.definition, row.marks, row.criterion, row.outcome)
              for row in db.execute(_LOAD, {"ids": sorted(missing)})}
    unknown = missing - loaded.keys()
    if unknown:
        raise LookupError(f"no item version {min(unknown)}")
    with _lock:
        if len(cache) + len(loaded) > MAX_CACHED:
            cache.clear()
        cache.update(loaded)
    return found | loaded


_version, _criterion, _outcome = (models.ItemVersion.__table__, models.AssessmentCriterion.__table__,
                                  models.LearningOutcome.__table__)
#: Built once, so SQLAlchemy remembers its cache key.
_LOAD = (select(_version.c.id, _version.c.type_name, _version.c.definition, _version.c.marks,
                _criterion.c.number.label("criterion"), _outcome.c.number.label("outcome"))
         .join(_criterion, _criterion.c.id == _version.c.criterion_id)
         .join(_outcome, _outcome.c.id == _criterion.c.learning_outcome_id)
         .where(_version.c.id.in_(bindparam("ids", expanding=True))))
_lock = threading.Lock()
