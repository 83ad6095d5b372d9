"""Item statistics over completed attempts: facility, discrimination, distractor choices, mean time;
test reliability (KR-20 / Cronbach's alpha); flags for items outside the set bounds.

* **facility**: the mean share of the item's marks candidates earned (0 hard .. 1 easy).
* **discrimination**: the corrected point-biserial, the Pearson correlation between the item's
  score and the rest of the test (total minus the item), so an item does not correlate with itself.
* **choices**: how often each option id was chosen (option-based types), and "(blank)".
* **mean time**: seconds from the candidate's previous save (or the start) to each save of this
  item, summed per attempt and averaged: an estimate, as the engine records saves, not views.
* **reliability**: over the items every attempt had (forms differ per candidate); KR-20 when every
  item is scored all-or-nothing, Cronbach's alpha otherwise (they agree on 0/1 data).

Only attempts that count are used: finished, outcome "complete", result confirmed (not
provisional). Statistics are floats (they are estimates); marks stay Decimal.
"""
from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import marking, models


@dataclass(frozen=True)
class Bounds:
    facility_min: float = 0.2
    facility_max: float = 0.9
    discrimination_min: float = 0.15
    #: Fewer attempts than this: figures are shown, but no item is flagged.
    min_attempts: int = 10


@dataclass
class ItemStatistics:
    item_id: int
    key: str
    n: int
    facility: float | None
    discrimination: float | None
    choices: dict[str, int] = field(default_factory=dict)
    mean_seconds: float | None = None
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Observation:
    """One attempt's score on one item."""

    attempt_id: int
    total: Decimal
    awarded: Decimal
    available: Decimal
    response: Any = None
    seconds: float | None = None


# --- the arithmetic (pure) ----------------------------------------------------------------------


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def pvariance(values: list[float]) -> float:
    m = mean(values) or 0.0
    return sum((v - m) ** 2 for v in values) / len(values) if values else 0.0


def pearson(xs: list[float], ys: list[float]) -> float | None:
    """None when either side does not vary (the correlation is undefined)."""
    if len(xs) < 2:
        return None
    mx, my = mean(xs), mean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def reliability(matrix: list[list[float]]) -> tuple[str, float] | None:
    """(name, value) for a persons x items matrix of marks; None if undefined (fewer than 2 items
    or persons, or totals that do not vary)."""
    if len(matrix) < 2 or len(matrix[0]) < 2:
        return None
    k = len(matrix[0])
    totals = [sum(r) for r in matrix]
    total_var = pvariance(totals)
    if total_var == 0:
        return None
    columns = [[r[j] for r in matrix] for j in range(k)]
    dichotomous = all(v in (0, 1) for col in columns for v in col)
    if dichotomous:
        pq = sum(mean(col) * (1 - mean(col)) for col in columns)
        return "KR-20", k / (k - 1) * (1 - pq / total_var)
    return "Cronbach's alpha", k / (k - 1) * (1 - sum(pvariance(c) for c in columns) / total_var)


def _choices(observations: list[Observation], option_ids: list[str]) -> dict[str, int]:
    counts = {option: 0 for option in option_ids}
    for o in observations:
        chosen = o.response if isinstance(o.response, list) else [o.response] if isinstance(o.response, str) else []
        chosen = [c for c in chosen if isinstance(c, str)]
        if not chosen:
            counts["(blank)"] = counts.get("(blank)", 0) + 1
        for c in chosen:
            counts[c] = counts.get(c, 0) + 1
    return counts


def item_figures(item_id: int, key: str, observations: list[Observation], option_ids: list[str] | None,
                 bounds: Bounds = Bounds()) -> ItemStatistics:
    scores = [float(o.awarded / o.available) if o.available else 0.0 for o in observations]
    rest = [float(o.total - o.awarded) for o in observations]
    times = [o.seconds for o in observations if o.seconds is not None]
    stats = ItemStatistics(item_id, key, len(observations), mean(scores), pearson(scores, rest),
                           _choices(observations, option_ids) if option_ids is not None else {}, mean(times))
    stats.flags = flags(stats, option_ids or [], bounds)
    return stats


def flags(stats: ItemStatistics, option_ids: list[str], bounds: Bounds) -> list[str]:
    if stats.n < bounds.min_attempts:
        return []
    found = []
    if stats.facility is not None and stats.facility < bounds.facility_min:
        found.append(f"hard: facility {stats.facility:.2f} is below {bounds.facility_min}")
    if stats.facility is not None and stats.facility > bounds.facility_max:
        found.append(f"easy: facility {stats.facility:.2f} is above {bounds.facility_max}")
    if stats.discrimination is not None and stats.discrimination < 0:
        found.append(f"negative discrimination {stats.discrimination:.2f}: check the key")
    elif stats.discrimination is not None and stats.discrimination < bounds.discrimination_min:
        found.append(f"weak discrimination {stats.discrimination:.2f} (below {bounds.discrimination_min})")
    unchosen = [o for o in option_ids if stats.choices.get(o, 0) == 0]
    if unchosen:
        found.append(f"option(s) never chosen: {', '.join(unchosen)}")
    return found


# --- from the database --------------------------------------------------------------------------


def _counting_attempts(centre_id: int | None = None):
    # A load test's scripted answers say nothing about an item: counted, a few thousand of them
    # made every item look hard, and the next real sitting's difficulty rule could not be met.
    query = (select(models.Attempt.id).join(models.Result, models.Result.attempt_id == models.Attempt.id)
             .join(models.Entry, models.Attempt.entry_id == models.Entry.id)
             .join(models.Sitting, models.Entry.sitting_id == models.Sitting.id)
             .join(models.Centre, models.Sitting.centre_id == models.Centre.id)
             .where(models.Attempt.state == "finished", models.Attempt.outcome == "complete",
                    models.Result.status == marking.CONFIRMED, models.Centre.load_test.is_(False)))
    if centre_id is not None:
        query = query.where(models.Sitting.centre_id == centre_id)
    return query


def _seconds_per_item(db: Session, attempt_ids: list[int]) -> dict[tuple[int, int], float]:
    """(attempt id, position) -> estimated seconds, from the gaps between saves."""
    starts = dict(db.execute(select(models.Attempt.id, models.Attempt.started_at)
                             .where(models.Attempt.id.in_(attempt_ids))).all())
    seconds: dict[tuple[int, int], float] = defaultdict(float)
    previous: dict[int, Any] = {}
    for attempt_id, position, at in db.execute(
            select(models.ResponseEvent.attempt_id, models.ResponseEvent.position, models.ResponseEvent.recorded_at)
            .where(models.ResponseEvent.attempt_id.in_(attempt_ids))
            .order_by(models.ResponseEvent.attempt_id, models.ResponseEvent.seq)):
        before = previous.get(attempt_id, starts.get(attempt_id))
        if before is not None and at >= before:
            seconds[(attempt_id, position)] += (at - before).total_seconds()
        previous[attempt_id] = at
    return seconds


def observations(db: Session, item_ids: Iterable[int], centre_id: int | None = None) -> dict[int, list[Observation]]:
    """item id -> one observation per counting attempt that had the item (of one centre, if given)."""
    item_ids = list(item_ids)
    rows = db.execute(
        select(models.ItemVersion.item_id, models.FormItem.attempt_id, models.FormItem.position,
               models.FormItem.marks_awarded, models.FormItem.marks_available, models.FormItem.current_response,
               models.Result.total)
        .join(models.ItemVersion, models.FormItem.item_version_id == models.ItemVersion.id)
        .join(models.Result, models.Result.attempt_id == models.FormItem.attempt_id)
        .where(models.ItemVersion.item_id.in_(item_ids), models.FormItem.attempt_id.in_(_counting_attempts(centre_id)))
    ).all() if item_ids else []
    times = _seconds_per_item(db, sorted({r.attempt_id for r in rows})) if rows else {}
    found: dict[int, list[Observation]] = {i: [] for i in item_ids}
    for r in rows:
        found[r.item_id].append(Observation(r.attempt_id, Decimal(r.total), Decimal(r.marks_awarded or 0),
                                            Decimal(r.marks_available or 0), r.current_response,
                                            times.get((r.attempt_id, r.position))))
    return found


def _option_ids(version: models.ItemVersion) -> list[str] | None:
    options = version.definition.get("options")
    if version.definition.get("preset") == "true_false" and options is None:
        return ["true", "false"]
    if not isinstance(options, list):
        return None
    return [o["id"] for o in options if isinstance(o, dict) and isinstance(o.get("id"), str)]


def statistics_for_items(db: Session, item_ids: Iterable[int], bounds: Bounds = Bounds(),
                         centre_id: int | None = None) -> dict[int, ItemStatistics]:
    """item id -> :class:`ItemStatistics` (with ``flags``) over every counting attempt (of one
    centre, if ``centre_id`` is given)."""
    item_ids = list(item_ids)
    items = {i.id: i for i in db.scalars(select(models.Item).where(models.Item.id.in_(item_ids)))} if item_ids else {}
    found = observations(db, items, centre_id)
    return {item_id: item_figures(item_id, item.key, found[item_id], _option_ids(item.latest), bounds)
            for item_id, item in items.items()}


def test_reliability(db: Session, specification: models.TestSpecification,
                     centre_id: int | None = None) -> tuple[str, float, int, int] | None:
    """(name, value, attempts, common items) over the specification's counting attempts."""
    attempts = db.scalars(select(models.Attempt).join(models.Entry).join(models.Sitting).where(
        models.Sitting.specification_id == specification.id, models.Attempt.id.in_(_counting_attempts(centre_id)))).all()
    if len(attempts) < 2:
        return None
    per_attempt = [{fi.item_version.item_id: fi for fi in a.form_items} for a in attempts]
    common = sorted(set.intersection(*(set(p) for p in per_attempt)))
    matrix = [[float(p[i].marks_awarded or 0) / float(p[i].marks_available or 1) for i in common] for p in per_attempt]
    figure = reliability(matrix) if common else None
    return None if figure is None else (figure[0], figure[1], len(attempts), len(common))


test_reliability.__test__ = False  # a library function, not a pytest test


def measured_difficulty(db: Session, item_ids: Iterable[int], minimum: int) -> dict[int, Decimal]:
    """item id -> 1 - facility, for items with at least ``minimum`` counting attempts (one
    grouped query: it runs when a sitting's forms are made)."""
    item_ids = list(item_ids)
    if not item_ids or minimum <= 0:
        return {}
    share = models.FormItem.marks_awarded * 1.0 / models.FormItem.marks_available
    rows = db.execute(
        select(models.ItemVersion.item_id, func.count(), func.avg(share))
        .join(models.ItemVersion, models.FormItem.item_version_id == models.ItemVersion.id)
        .where(models.ItemVersion.item_id.in_(item_ids), models.FormItem.marks_available > 0,
               models.FormItem.attempt_id.in_(_counting_attempts()))
        .group_by(models.ItemVersion.item_id).having(func.count() >= minimum)).all()
    return {item_id: (Decimal(1) - Decimal(str(facility))).quantize(Decimal("0.01"))
            for item_id, _n, facility in rows}


def with_measured_difficulty(db: Session, pool: list, minimum: int) -> list:
    """The assembler's pool with each item's measured difficulty where enough attempts exist
    (``PoolItem.measured`` set, so the form's audit record keeps the figure it was made with)."""
    if minimum <= 0 or not pool:
        return pool
    item_of = dict(db.execute(select(models.ItemVersion.id, models.ItemVersion.item_id)
                              .where(models.ItemVersion.id.in_([p.version_id for p in pool]))).all())
    measured = measured_difficulty(db, set(item_of.values()), minimum)
    return [dataclasses.replace(p, difficulty=measured[item_of[p.version_id]], measured=True)
            if item_of.get(p.version_id) in measured else p for p in pool]
