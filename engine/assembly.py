"""Form assembly: choose live item versions that meet a blueprint, reproducibly.

``assemble(pool, blueprint, seed, seen=..., usage=...)`` returns a form that meets every rule of
the :class:`~engine.blueprint.Blueprint` (exact total, marks per LO, limits per AC, item-type mix,
difficulty band, coverage) and never puts enemy items together, or raises :class:`AssemblyError`
naming the rule the pool cannot meet, with its numbers.

How (docs/assembly.md says why): randomised construction with repair. A construction fills the
rules' needs first (uncovered outcomes, criteria short of items, outcomes short of marks), then
fills to the total, choosing among the items that still fit with weights that favour little-used
items; an item that would break a maximum, or leave too few marks for the minimums still open, is
never a choice. If the result misses (a mark short, difficulty off the band), a repair step
removes one to three items and fills again, keeping changes that do not make things worse. When
that fails, an exact depth-first search with bounds takes over: on small or tight pools it
either finds a form or proves there is none, and then relaxing one rule at a time shows which
rule is to blame. Every search budget is a count of steps, never a time, so the same seed and
inputs always give the same form.

Exposure and resits are tiers over the same search: first without the candidate's seen items and
without items over the exposure cap; then with the cap relaxed; then, if the bank cannot give a
fresh form at all, with the fewest seen items possible. The result says which tier was needed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping

from engine.assembly_search import Model, Search, fmt_marks, marks_word
from engine.blueprint import Blueprint, check_form


@dataclass(frozen=True)
class PoolItem:
    version_id: int
    key: str
    outcome: str
    criterion_position: tuple[int, int]
    marks: Decimal
    enemies: frozenset[str] = field(default_factory=frozenset)
    #: The assessment criterion's number, e.g. "1.2".
    criterion: str = ""
    type_name: str = ""
    #: 0 (easy) to 1 (hard); None is treated as 0.5.
    difficulty: Decimal | None = None
    #: True when ``difficulty`` was measured from attempts (engine/item_statistics.py), not estimated.
    measured: bool = False


@dataclass(frozen=True)
class Usage:
    """Exposure so far in the window: forms made, and how many of them used each item (by key)."""

    uses: Mapping[str, int] = field(default_factory=dict)
    forms: int = 0

    def plus(self, form: list[PoolItem] | tuple[PoolItem, ...]) -> "Usage":
        uses = dict(self.uses)
        for item in form:
            uses[item.key] = uses.get(item.key, 0) + 1
        return Usage(uses, self.forms + 1)


@dataclass(frozen=True)
class Assembly:
    #: The form's items in the unit's order.
    items: tuple[PoolItem, ...]
    #: Items the candidate had seen on an earlier form of this unit (0 unless the bank forced it).
    overlap: int = 0
    #: Items above the exposure cap (0 unless the bank forced it).
    over_cap: int = 0
    #: True when the exposure cap had to be relaxed for this form.
    exposure_relaxed: bool = False
    #: True when the bank could not give a form free of seen items.
    resit_overlap_forced: bool = False


class AssemblyError(ValueError):
    """The pool cannot meet a rule. ``rule`` is its name in the specification (e.g.
    ``rules.difficulty``); the message gives the numbers."""

    def __init__(self, rule: str, message: str):
        super().__init__(f"{rule}: {message}")
        self.rule, self.detail = rule, message


@dataclass(frozen=True)
class Effort:
    """Search budgets, as step counts (never times, so results do not depend on the machine)."""

    restarts: int = 8
    repairs: int = 60
    exact_nodes: int = 60_000


#: Tiers that may fail quietly get a smaller budget than the last one, which must answer.
TIER_EFFORT = Effort(restarts=4, repairs=40, exact_nodes=20_000)
FINAL_EFFORT = Effort(restarts=10, repairs=80, exact_nodes=300_000)
DIAGNOSIS_NODES = 100_000
#: Weight factor per use above the least-used item's (see ``assemble``).
PREFER_LESS_USED = 0.2

#: Rules whose relaxation is tried to explain a proven infeasibility, in reporting order.
RELAXABLE = ("rules.every_learning_outcome", "rules.outcome_marks", "rules.criterion_limits",
             "rules.item_types", "rules.difficulty", "enemies")


class Assembler:
    """A pool and a blueprint prepared once, for making many forms (a sitting's register, a report).

    :param pool: the live items of the unit; their order does not matter.
    """

    def __init__(self, pool: list[PoolItem], blueprint: Blueprint):
        self.items = sorted(pool, key=lambda p: p.key)  # the seed, not the pool's order, decides
        self.blueprint = blueprint
        self.problem: AssemblyError | None = None
        if not self.items:
            self.problem = AssemblyError("pool", "there are no live items for this unit")
        elif len({p.key for p in self.items}) != len(self.items):
            self.problem = AssemblyError("pool", "an item appears twice in the pool")
        else:
            self.model = Model(self.items, blueprint)
            reason = self.model.necessary([True] * self.model.n)
            if reason is not None:
                self.problem = AssemblyError(*reason)

    def assemble(self, seed: int, *, seen: frozenset[str] | set[str] = frozenset(), usage: Usage | None = None,
                 effort: Effort = FINAL_EFFORT) -> Assembly:
        """Build a form meeting the blueprint, or raise :class:`AssemblyError`.

        :param seen: keys of items the candidate has met on an earlier form of this unit; avoided
            entirely when the pool allows it, otherwise kept to the fewest possible.
        :param usage: exposure so far in the window (this sitting's earlier forms included); items
            over ``blueprint.exposure_cap`` are left out when the pool allows it, and less-used
            items are preferred.
        :return: the form and how far the exposure and resit preferences could be kept.
        """
        if self.problem is not None:
            raise self.problem
        items, model, blueprint = self.items, self.model, self.blueprint
        usage = usage or Usage()
        rng = random.Random(seed)
        everything = [True] * model.n
        uses = [int(usage.uses.get(p.key, 0)) for p in items]
        cap = blueprint.exposure_cap(usage.forms)
        over = [cap is not None and u + 1 > cap for u in uses]
        is_seen = [p.key in seen for p in items]
        # Less-used items are preferred in every tier: each use more than the least-used item of
        # the same learning outcome divides an item's chance by five, so a window's forms cycle
        # through the bank instead of repeating its favourites (and consecutive forms share few
        # items). Compared within an outcome, not across the bank, so an outcome with many items
        # is not pushed above its share of the marks just to even out use.
        least = {}
        for p, u in zip(items, uses):
            least[p.outcome] = min(u, least.get(p.outcome, u))
        weights = [(0.01 if o else 1.0) * PREFER_LESS_USED ** min(u - least[p.outcome], 50)
                   for p, u, o in zip(items, uses, over)]

        def done(order: list[int]) -> Assembly:
            form = sorted((items[i] for i in order), key=lambda p: (p.criterion_position, p.key))
            violations = check_form(blueprint, form)
            if violations:  # the search and the independent check disagree: a bug, never a form
                raise RuntimeError(f"assembler produced a form that breaks {violations[0]}")
            overlap, over_cap = sum(is_seen[i] for i in order), sum(over[i] for i in order)
            return Assembly(tuple(form), overlap=overlap, over_cap=over_cap,
                            exposure_relaxed=over_cap > 0, resit_overlap_forced=overlap > 0)

        if any(is_seen) or any(over):
            fresh = [not s and not o for s, o in zip(is_seen, over)]
            if model.necessary(fresh) is None:
                found = Search(model, fresh, weights, rng).run(TIER_EFFORT)
                if found is not None:
                    return done(found)
            if any(over) and any(is_seen):
                unseen = [not s for s in is_seen]
                if model.necessary(unseen) is None:
                    found = Search(model, unseen, weights, rng).run(TIER_EFFORT)
                    if found is not None:
                        return done(found)
        if not any(is_seen):
            found = Search(model, everything, weights, rng).run(effort)
            if found is None:
                raise _diagnose(model, blueprint, rng, effort)
            return done(found)
        # A resit the bank cannot keep fresh: the fewest seen items possible.
        shy = [w * 1e-4 if s else w for w, s in zip(weights, is_seen)]
        found = Search(model, everything, shy, rng).run(effort)
        if found is None:
            raise _diagnose(model, blueprint, rng, effort)
        best = sum(is_seen[i] for i in found)
        for limit in range(model.overlap_lower_bound(is_seen), best):
            fewer = Search(model, everything, shy, rng, seen=is_seen, max_seen=limit).run(TIER_EFFORT)
            if fewer is not None:
                found = fewer
                break
        return done(found)


def assemble(pool: list[PoolItem], blueprint: Blueprint, seed: int, *, seen: frozenset[str] | set[str] = frozenset(),
             usage: Usage | None = None, effort: Effort = FINAL_EFFORT) -> Assembly:
    """One form: ``Assembler(pool, blueprint).assemble(seed, ...)``."""
    return Assembler(pool, blueprint).assemble(seed, seen=seen, usage=usage, effort=effort)


# --- explaining a failure ----------------------------------------------------------------------------


def _diagnose(model: Model, bp: Blueprint, rng: random.Random, effort: Effort) -> AssemblyError:
    """Why no form could be found: prove it and name the rule, or report the nearest miss."""
    allowed = [True] * model.n
    weights = [1.0] * model.n
    search = Search(model, allowed, weights, rng)
    found, complete = search.exact(effort.exact_nodes)
    if found is not None:  # pragma: no cover - the caller's search would have found it
        return AssemblyError("search", "a form exists but the search budget ran out; raise the effort")
    if complete:
        blame = []
        for rule in RELAXABLE:
            relaxed = model.without(rule)
            if relaxed.necessary(allowed) is not None:
                continue
            witness, _ = Search(relaxed, allowed, weights, rng).exact(DIAGNOSIS_NODES)
            if witness is not None:
                blame.append(rule)
        total = fmt_marks(model.T)
        if blame:
            first = blame[0]
            also = f" (relaxing {', '.join(blame[1:])} would also allow a form)" if len(blame) > 1 else ""
            return AssemblyError(first, _impossible(first, bp, model, total) + also)
        return AssemblyError("blueprint", f"no combination of live items makes exactly {total} marks while meeting "
                                          f"these rules together: {'; '.join(bp.describe()[1:-1])}")
    # Not proven: the nearest miss of the randomised search says which rule is hardest.
    nearest = search.best
    if nearest is None:
        restart = Search(model, allowed, weights, rng)
        restart.run(Effort(restarts=2, repairs=20, exact_nodes=0))
        nearest = restart.best or []
    form = [model.items[i] for i in nearest]
    violations = check_form(bp, form)
    where = str(violations[0]) if violations else "no rule"
    rule = violations[0].rule if violations else "search"
    return AssemblyError(rule, f"no form found within the search budget; the nearest form breaks {where}")


def _impossible(rule: str, bp: Blueprint, model: Model, total: str) -> str:
    lead = f"no form of exactly {total} marks that meets the other rules"
    if rule == "rules.every_learning_outcome":
        return f"{lead} has an item from every learning outcome ({', '.join(bp.outcome_numbers)})"
    if rule == "rules.outcome_marks":
        ranges = ", ".join(f"LO{n} {r}" for n, r in bp.outcome_marks.items())
        return f"{lead} keeps every learning outcome within its marks ({ranges})"
    if rule == "rules.criterion_limits":
        parts = []
        if bp.criterion_max_marks is not None:
            parts.append(f"at most {marks_word(model.ac_cap)} per criterion")
        if bp.criterion_min_items:
            parts.append(f"at least {bp.criterion_min_items} item(s) for each of the {len(bp.criterion_numbers)} criteria")
        return f"{lead} has {' and '.join(parts)}"
    if rule == "rules.item_types":
        limits = ", ".join(f"{t} at most {marks_word(model.ty_cap[k])}" for k, t in enumerate(model.types)
                           if model.ty_cap[k] < model.T)
        return f"{lead} keeps the item-type mix within {limits or 'its limits'}"
    if rule == "rules.difficulty":
        return f"{lead} has a mean item difficulty within {bp.difficulty}"
    if rule == "enemies":
        return f"every form of exactly {total} marks that meets the other rules puts enemy items together"
    return lead


