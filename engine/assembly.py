"""Form assembly: pick item versions that meet a specification's rules, reproducibly.

Foundation rules: the form's marks equal the total exactly, every learning outcome is
represented (``every_learning_outcome``), and no two enemy items appear together.
Randomised construction with retries: cover each outcome first, then fill with items that
still fit. The same seed and pool always give the same form.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class PoolItem:
    version_id: int
    key: str
    outcome: str
    criterion_position: tuple[int, int]
    marks: Decimal
    enemies: frozenset[str] = field(default_factory=frozenset)


class AssemblyError(ValueError):
    """The pool cannot meet a rule; the message names the rule."""


def assemble(pool: list[PoolItem], total: Decimal, outcomes: list[str], every_outcome: bool,
             seed: int, tries: int = 200) -> list[PoolItem]:
    """Return the form's items in the unit's order, or raise :class:`AssemblyError`."""
    pool = sorted(pool, key=lambda p: p.key)  # the seed, not the pool's order, decides
    if sum((p.marks for p in pool), Decimal(0)) < total:
        raise AssemblyError(f"total marks: the pool has fewer than {total} marks")
    if every_outcome:
        missing = [o for o in outcomes if not any(p.outcome == o for p in pool)]
        if missing:
            raise AssemblyError(f"every learning outcome: no live items for outcome(s) {', '.join(missing)}")
    rng = random.Random(seed)
    for _ in range(tries):
        form = _try_once(pool, total, outcomes if every_outcome else [], rng)
        if form is not None:
            return sorted(form, key=lambda p: (p.criterion_position, p.key))
    raise AssemblyError(
        f"total marks: no combination of live items found that makes exactly {total} marks"
        + (" while covering every learning outcome" if every_outcome else "")
    )


def _try_once(pool, total, outcomes, rng) -> list[PoolItem] | None:
    chosen: list[PoolItem] = []
    keys: set[str] = set()
    remaining = total

    def fits(p: PoolItem) -> bool:
        return p.key not in keys and p.marks <= remaining and not (p.enemies & keys) and not any(
            p.key in c.enemies for c in chosen)

    def take(p: PoolItem) -> None:
        nonlocal remaining
        chosen.append(p)
        keys.add(p.key)
        remaining -= p.marks

    for outcome in outcomes:
        options = [p for p in pool if p.outcome == outcome and fits(p)]
        if not options:
            return None
        take(rng.choice(options))
    order = pool[:]
    rng.shuffle(order)
    for p in order:
        if remaining == 0:
            break
        if fits(p):
            take(p)
    return chosen if remaining == 0 else None
