"""The assembler's search: the pool and a blueprint as integer arrays, and the search over them.

Used by :mod:`engine.assembly`, which holds the public API and explains the approach. Marks and
difficulties are whole hundredths here (the database keeps two decimal places), so every
comparison is exact and cheap.
"""
from __future__ import annotations

import random
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from engine.blueprint import Blueprint, difficulty_of

if TYPE_CHECKING:
    from engine.assembly import Effort, PoolItem

SCALE = Decimal(100)


def hundredths(value: Decimal, rounding=ROUND_FLOOR) -> int:
    return int((Decimal(value) * SCALE).to_integral_value(rounding=rounding))


class Model:
    """The pool and the blueprint as integer arrays; ``off`` switches rules off (for diagnosis)."""

    def __init__(self, items: list["PoolItem"], bp: Blueprint, off: frozenset[str] = frozenset()):
        self.items, self.bp, self.off = items, bp, off
        self.n = n = len(items)
        self.T = hundredths(bp.total_marks)
        self.m = [hundredths(p.marks) for p in items]
        outcomes = list(bp.outcome_numbers)
        for p in items:
            if p.outcome not in outcomes:
                outcomes.append(p.outcome)
        self.outcomes = outcomes
        lo_index = {o: k for k, o in enumerate(outcomes)}
        self.lo = [lo_index[p.outcome] for p in items]
        ranges = bp.outcome_marks
        marks_rule = "rules.outcome_marks" not in off
        self.lo_min = [hundredths(ranges[o].min, ROUND_CEILING) if marks_rule and o in ranges else 0 for o in outcomes]
        self.lo_max = [hundredths(ranges[o].max) if marks_rule and o in ranges else self.T for o in outcomes]
        # The middle of each range: where construction aims (see ``State._pick``).
        self.lo_target = [(low + high) // 2 for low, high in zip(self.lo_min, self.lo_max)]
        cover = bp.every_outcome and "rules.every_learning_outcome" not in off
        self.lo_need = [cover and o in ranges for o in outcomes]
        criteria = list(bp.criterion_numbers)
        for p in items:
            if p.criterion not in criteria:
                criteria.append(p.criterion)
        self.criteria = criteria
        ac_index = {c: k for k, c in enumerate(criteria)}
        self.ac = [ac_index[p.criterion] for p in items]
        limits = "rules.criterion_limits" not in off
        self.ac_cap = hundredths(bp.criterion_max_marks) if limits and bp.criterion_max_marks is not None else self.T
        unit_criteria = set(bp.criterion_numbers)
        self.ac_min = [bp.criterion_min_items if limits and c in unit_criteria else 0 for c in criteria]
        self.types = sorted({p.type_name for p in items})
        ty_index = {t: k for k, t in enumerate(self.types)}
        self.ty = [ty_index[p.type_name] for p in items]
        type_limits = [None if "rules.item_types" in off else bp.type_share_limit(t) for t in self.types]
        self.ty_cap = [self.T if s is None else hundredths(s * bp.total_marks) for s in type_limits]
        self.d = [hundredths(difficulty_of(p), ROUND_FLOOR) for p in items]
        band = bp.difficulty if "rules.difficulty" not in off else None
        self.band = None if band is None else (hundredths(band.min, ROUND_CEILING), hundredths(band.max))
        key_index = {p.key: k for k, p in enumerate(items)}
        enemies: list[set[int]] = [set() for _ in range(n)]
        if "enemies" not in off:
            for i, p in enumerate(items):
                for other in p.enemies:
                    j = key_index.get(other)
                    if j is not None and j != i:
                        enemies[i].add(j)
                        enemies[j].add(i)
        self.enemies = [sorted(e) for e in enemies]
        self.by_lo = [[i for i in range(n) if self.lo[i] == k] for k in range(len(outcomes))]
        self.by_ac = [[i for i in range(n) if self.ac[i] == k] for k in range(len(criteria))]

    def without(self, rule: str) -> "Model":
        return Model(self.items, self.bp, self.off | {rule})

    # -- quick, exact-enough reasons a pool cannot serve the blueprint ----------------------

    def necessary(self, allowed: list[bool]) -> tuple[str, str] | None:
        """``(rule, reason)`` if the allowed items certainly cannot meet the rules, else None
        (perhaps they can: the search decides)."""
        bp, T = self.bp, self.T
        idx = [i for i in range(self.n) if allowed[i]]
        marks = sum(self.m[i] for i in idx)
        if marks < T:
            return ("total_marks", f"the live items carry {fmt_marks(marks)} marks, fewer than the "
                                   f"{fmt_marks(T)} the test needs")
        for k, outcome in enumerate(self.outcomes):
            if self.lo_need[k] and not any(allowed[i] for i in self.by_lo[k]):
                return ("rules.every_learning_outcome", f"learning outcome {outcome} has no live items")
        ac_room = [min(self.ac_cap, sum(self.m[i] for i in group if allowed[i])) for group in self.by_ac]
        if self.ac_cap < T and sum(ac_room) < T:
            return ("rules.criterion_limits", f"with at most {marks_word(self.ac_cap)} per criterion, the live "
                                              f"items give at most {marks_word(sum(ac_room))}; the test needs {fmt_marks(T)}")
        for a, criterion in enumerate(self.criteria):
            have = sum(1 for i in self.by_ac[a] if allowed[i])
            if have < self.ac_min[a]:
                return ("rules.criterion_limits", f"criterion {criterion} needs at least {self.ac_min[a]} item(s) "
                                                  f"on every form but has {have} live item(s)")
        lo_room = []
        for k, outcome in enumerate(self.outcomes):
            room = sum(ac_room[a] for a in {self.ac[i] for i in self.by_lo[k]})
            if room < self.lo_min[k]:
                capped = " within the criterion limit" if self.ac_cap < T else ""
                return ("rules.outcome_marks", f"learning outcome {outcome} needs at least "
                                               f"{marks_word(self.lo_min[k])} (range {bp.outcome_marks[outcome]}) but "
                                               f"its live items can give only {fmt_marks(room)}{capped}")
            lo_room.append(min(self.lo_max[k], room))
        if sum(self.lo_min) > T:
            return ("rules.outcome_marks", f"the outcomes' minimum marks add up to {fmt_marks(sum(self.lo_min))}, "
                                           f"more than the {fmt_marks(T)}-mark total")
        if sum(lo_room) < T:
            ranges = ", ".join(f"LO{o} {bp.outcome_marks[o]}" for o in self.outcomes if o in bp.outcome_marks)
            return ("rules.outcome_marks", f"within each outcome's maximum ({ranges}) the live items give at most "
                                           f"{marks_word(sum(lo_room))}; the test needs {fmt_marks(T)}")
        type_room = [min(self.ty_cap[t], sum(self.m[i] for i in idx if self.ty[i] == t)) for t in range(len(self.types))]
        if sum(type_room) < T:
            limits = ", ".join(f"{self.types[t]} at most {marks_word(self.ty_cap[t])}" for t in range(len(self.types))
                               if self.ty_cap[t] < T)
            return ("rules.item_types", f"with {limits}, the live items give at most {marks_word(sum(type_room))}; "
                                        f"the test needs {fmt_marks(T)}")
        if self.band is not None:
            low, high = self.band
            easiest, hardest = min(self.d[i] for i in idx), max(self.d[i] for i in idx)
            if easiest > high:
                return ("rules.difficulty", f"every live item is harder than the band's top {fmt_difficulty(high)} "
                                            f"(the easiest is {fmt_difficulty(easiest)})")
            if hardest < low:
                return ("rules.difficulty", f"every live item is easier than the band's bottom {fmt_difficulty(low)} "
                                            f"(the hardest is {fmt_difficulty(hardest)})")
        # Exact total: can any subset of the marks add up to it? (a bitset of reachable sums)
        reach = 1
        for i in idx:
            reach |= reach << self.m[i]
        if not (reach >> T) & 1:
            values = ", ".join(fmt_marks(v) for v in sorted({self.m[i] for i in idx}))
            return ("total_marks", f"no combination of the live items' marks ({values}) adds up to "
                                   f"exactly {fmt_marks(T)}")
        return None

    def overlap_lower_bound(self, is_seen: list[bool]) -> int:
        """Fewest seen items any form must contain, from what the unseen items can give."""
        fresh = [not s for s in is_seen]
        ac_room = [min(self.ac_cap, sum(self.m[i] for i in g if fresh[i])) for g in self.by_ac]
        lo_room = [min(self.lo_max[k], sum(ac_room[a] for a in {self.ac[i] for i in g}))
                   for k, g in enumerate(self.by_lo)]
        type_room = [min(self.ty_cap[t], sum(self.m[i] for i in range(self.n) if fresh[i] and self.ty[i] == t))
                     for t in range(len(self.types))]
        room = min(sum(lo_room), sum(type_room), sum(ac_room))
        biggest_seen = max((self.m[i] for i in range(self.n) if is_seen[i]), default=1)
        by_marks = -(-(self.T - room) // biggest_seen) if room < self.T else 0
        by_outcome = sum(1 for k, g in enumerate(self.by_lo) if self.lo_need[k] and not any(fresh[i] for i in g))
        by_criterion = sum(max(0, self.ac_min[a] - sum(1 for i in g if fresh[i])) for a, g in enumerate(self.by_ac))
        return max(by_marks, by_outcome, by_criterion)


# --- the search -------------------------------------------------------------------------------------


class Search:
    """One search over the allowed items: randomised construction with repair, then exact."""

    def __init__(self, model: Model, allowed: list[bool], weights: list[float], rng: random.Random,
                 seen: list[bool] | None = None, max_seen: int | None = None):
        self.model, self.allowed, self.weights, self.rng = model, allowed, weights, rng
        self.seen = seen or [False] * model.n
        self.max_seen = model.n if max_seen is None else max_seen
        self.candidates = [i for i in range(model.n) if allowed[i]]
        self.facts = [(model.m[i], model.lo[i], model.ac[i], model.ty[i], allowed[i], self.seen[i]) for i in range(model.n)]
        self.smallest = min((model.m[i] for i in self.candidates), default=1)
        self.best: list[int] | None = None
        self.best_score: int | None = None

    def run(self, effort: "Effort") -> list[int] | None:
        for _ in range(effort.restarts):
            state = State(self)
            state.fill()
            score = state.score()
            for _ in range(effort.repairs):
                if score == 0:
                    return list(state.order)
                before = list(state.order)
                state.perturb()
                state.fill()
                new = state.score()
                # Keep a change that is no worse; keep a worse one now and then to leave a plateau.
                if new > score and self.rng.random() < 0.85:
                    state.reset(before)
                else:
                    score = new
            if score == 0:
                return list(state.order)
            self._remember(state, score)
        found, _exhausted = self.exact(effort.exact_nodes)
        return found

    def _remember(self, state: "State", score: int) -> None:
        if self.best_score is None or score < self.best_score:
            self.best, self.best_score = list(state.order), score

    def exact(self, budget: int) -> tuple[list[int] | None, bool]:
        """Depth-first search with bounds. Returns (form or None, True if the search was complete)."""
        model = self.model
        band = model.band
        order = sorted(self.candidates, key=lambda i: (-self.weights[i], i))
        length = len(order)
        n_lo, n_ac = len(model.outcomes), len(model.criteria)
        # What the items from position p on could still add, for the bounds.
        suf_total = [0] * (length + 1)
        suf_lo = [[0] * (length + 1) for _ in range(n_lo)]
        suf_lo_count = [[0] * (length + 1) for _ in range(n_lo)]
        suf_ac_count = [[0] * (length + 1) for _ in range(n_ac)]
        suf_up = [0] * (length + 1)
        suf_down = [0] * (length + 1)
        for p in range(length - 1, -1, -1):
            i = order[p]
            suf_total[p] = suf_total[p + 1] + model.m[i]
            for k in range(n_lo):
                suf_lo[k][p] = suf_lo[k][p + 1] + (model.m[i] if model.lo[i] == k else 0)
                suf_lo_count[k][p] = suf_lo_count[k][p + 1] + (model.lo[i] == k)
            for a in range(n_ac):
                suf_ac_count[a][p] = suf_ac_count[a][p + 1] + (model.ac[i] == a)
            if band is not None:
                suf_up[p] = suf_up[p + 1] + max(0, model.d[i] - band[0])
                suf_down[p] = suf_down[p + 1] + max(0, band[1] - model.d[i])
        need_lo = [k for k in range(n_lo) if model.lo_min[k] > 0 or model.lo_need[k]]
        need_ac = [a for a in range(n_ac) if model.ac_min[a] > 0]
        state = State(self)
        nodes = 0

        class _Spent(Exception):
            pass

        def hopeless(p: int) -> bool:
            if state.total + suf_total[p] < model.T:
                return True
            for k in need_lo:
                if state.lo_marks[k] + suf_lo[k][p] < model.lo_min[k]:
                    return True
                if model.lo_need[k] and state.lo_count[k] == 0 and suf_lo_count[k][p] == 0:
                    return True
            for a in need_ac:
                if state.ac_count[a] + suf_ac_count[a][p] < model.ac_min[a]:
                    return True
            if band is not None:
                if state.sum_d - band[0] * len(state.order) + suf_up[p] < 0:
                    return True
                if band[1] * len(state.order) - state.sum_d + suf_down[p] < 0:
                    return True
            return False

        def search(p: int) -> bool:
            nonlocal nodes
            # The "leave item out" branch is this loop; only "take it" recurses, so the depth
            # is the size of a form, not of the pool.
            while True:
                nodes += 1
                if nodes > budget:
                    raise _Spent
                if state.total == model.T:
                    return state.score() == 0
                if p >= length or hopeless(p):
                    return False
                i = order[p]
                if state.can_add(i):
                    state.add(i)
                    if search(p + 1):
                        return True
                    state.remove(i)
                p += 1

        try:
            if search(0):
                return list(state.order), True
            return None, True
        except _Spent:
            return None, False


class State:
    """A partial form with running totals; ``can_add`` keeps every maximum and leaves room for
    every minimum, so only totals, minimums and the difficulty band can still be unmet."""

    def __init__(self, search: Search):
        model = search.model
        self.search, self.model = search, model
        self.chosen = [False] * model.n
        self.blocked = [0] * model.n
        self.order: list[int] = []
        self.total = 0
        self.lo_marks = [0] * len(model.outcomes)
        self.lo_count = [0] * len(model.outcomes)
        self.ac_marks = [0] * len(model.criteria)
        self.ac_count = [0] * len(model.criteria)
        self.ty_marks = [0] * len(model.types)
        self.sum_d = 0
        self.seen_count = 0
        self.deficit = sum(model.lo_min)
        self.lo_missing = sum(model.lo_need)
        self.ac_missing = sum(model.ac_min)
        # Copies of what ``can_add`` reads, one attribute lookup each.
        self.facts, self.smallest, self.max_seen = search.facts, search.smallest, search.max_seen
        self.T, self.lo_min, self.lo_max, self.lo_need = model.T, model.lo_min, model.lo_max, model.lo_need
        self.ac_cap, self.ac_min, self.ty_cap = model.ac_cap, model.ac_min, model.ty_cap

    def can_add(self, i: int) -> bool:
        # The hot path of the whole search: plain locals and one tuple per item.
        if self.chosen[i] or self.blocked[i]:
            return False
        mi, k, a, t, allowed, seen = self.facts[i]
        if not allowed:
            return False
        rem = self.T - self.total - mi
        if rem < 0 or 0 < rem < self.smallest:
            return False
        lo_marks = self.lo_marks[k]
        if lo_marks + mi > self.lo_max[k] or self.ac_marks[a] + mi > self.ac_cap \
                or self.ty_marks[t] + mi > self.ty_cap[t]:
            return False
        if seen and self.seen_count >= self.max_seen:
            return False
        deficit = self.deficit
        short = self.lo_min[k] - lo_marks
        if short > 0:
            deficit -= mi if mi < short else short
        if deficit > rem:
            return False
        # Items still needed: one per uncovered outcome, and one per item a criterion is short
        # of. One item can do both (an outcome's only criterion), so the bound is the larger of
        # the two, not their sum: the sum refused forms that exist (two half-mark items, each
        # the only one of its outcome and criterion, for a one-mark test).
        lo_missing = self.lo_missing - (1 if self.lo_need[k] and self.lo_count[k] == 0 else 0)
        ac_missing = self.ac_missing - (1 if self.ac_count[a] < self.ac_min[a] else 0)
        return max(lo_missing, ac_missing) * self.smallest <= rem

    def add(self, i: int) -> None:
        model = self.model
        mi, k, a = model.m[i], model.lo[i], model.ac[i]
        short = model.lo_min[k] - self.lo_marks[k]
        if short > 0:
            self.deficit -= min(mi, short)
        if model.lo_need[k] and self.lo_count[k] == 0:
            self.lo_missing -= 1
        if self.ac_count[a] < model.ac_min[a]:
            self.ac_missing -= 1
        self.chosen[i] = True
        self.order.append(i)
        self.total += mi
        self.lo_marks[k] += mi
        self.lo_count[k] += 1
        self.ac_marks[a] += mi
        self.ac_count[a] += 1
        self.ty_marks[model.ty[i]] += mi
        self.sum_d += model.d[i]
        self.seen_count += self.search.seen[i]
        for j in model.enemies[i]:
            self.blocked[j] += 1

    def remove(self, i: int) -> None:
        model = self.model
        mi, k, a = model.m[i], model.lo[i], model.ac[i]
        self.chosen[i] = False
        self.order.remove(i)
        self.total -= mi
        self.lo_marks[k] -= mi
        self.lo_count[k] -= 1
        self.ac_marks[a] -= mi
        self.ac_count[a] -= 1
        self.ty_marks[model.ty[i]] -= mi
        self.sum_d -= model.d[i]
        self.seen_count -= self.search.seen[i]
        for j in model.enemies[i]:
            self.blocked[j] -= 1
        short = model.lo_min[k] - self.lo_marks[k]
        if short > 0:
            self.deficit += min(mi, short)
        if model.lo_need[k] and self.lo_count[k] == 0:
            self.lo_missing += 1
        if self.ac_count[a] < model.ac_min[a]:
            self.ac_missing += 1

    def reset(self, order: list[int]) -> None:
        for i in list(self.order):
            self.remove(i)
        for i in order:
            self.add(i)

    def band_excess(self) -> int:
        band = self.model.band
        if band is None or not self.order:
            return 0
        count = len(self.order)
        return max(0, band[0] * count - self.sum_d, self.sum_d - band[1] * count)

    def score(self) -> int:
        """0 when the form meets every rule; otherwise how far it is from doing so."""
        return (self.model.T - self.total) + self.deficit + 100 * (self.lo_missing + self.ac_missing) \
            + self.band_excess()

    # -- construction and repair ------------------------------------------------------------------

    def _pick(self, options: list[int]) -> int:
        """A weighted random choice, steered towards the middle of every outcome's range and
        into the difficulty band: an item that would overshoot is still possible, only less
        likely, so forms stay varied but centre on the blueprint (equivalent forms)."""
        weights, model = self.search.weights, self.model
        lo, m, d, target, lo_marks = model.lo, model.m, model.d, model.lo_target, self.lo_marks
        band = model.band
        if band is not None:
            count, total_d = len(self.order) + 1, self.sum_d
            low, high = band[0] * count, band[1] * count
            scaled = [weights[i] * (1.0 if low <= total_d + d[i] <= high else 0.15)
                      * (1.0 if lo_marks[lo[i]] + m[i] <= target[lo[i]] else 0.3) for i in options]
        else:
            scaled = [weights[i] * (1.0 if lo_marks[lo[i]] + m[i] <= target[lo[i]] else 0.3) for i in options]
        point = self.search.rng.random() * sum(scaled)
        for i, w in zip(options, scaled):
            point -= w
            if point < 0:
                return i
        return options[-1]

    def _needs(self) -> list[tuple[tuple[str, int], list[int]]]:
        """The groups of items a rule still needs one of: (name, items)."""
        model = self.model
        groups = []
        for k, group in enumerate(model.by_lo):
            if (model.lo_need[k] and self.lo_count[k] == 0) or self.lo_marks[k] < model.lo_min[k]:
                groups.append((("lo", k), group))
        for a, group in enumerate(model.by_ac):
            if self.ac_count[a] < model.ac_min[a]:
                groups.append((("ac", a), group))
        return groups

    def fill(self) -> None:
        rng = self.search.rng
        # Every maximum only tightens as items are added, so an item that cannot be added now
        # (almost) never can later: each list of options is filtered as it shrinks, not rebuilt.
        shrinking: dict[tuple[str, int], list[int]] = {}
        while True:
            needs = self._needs()
            if not needs:
                break
            name, group = needs[rng.randrange(len(needs))]
            options = shrinking[name] = [i for i in shrinking.get(name, group) if self.can_add(i)]
            if not options:
                break
            self.add(self._pick(options))
        options = self.search.candidates
        while self.total < self.model.T:
            options = [i for i in options if self.can_add(i)]
            if not options:
                break
            self.add(self._pick(options))

    def perturb(self) -> None:
        if not self.order:
            return
        rng = self.search.rng
        model = self.model
        count = min(len(self.order), 1 + rng.randrange(3))
        pool = list(self.order)
        band = model.band
        if band is not None and self.band_excess():
            # Off the band: take out items that pull the mean the wrong way first.
            too_hard = self.sum_d > band[1] * len(self.order)
            mean = self.sum_d / len(self.order)
            wrong = [i for i in pool if (model.d[i] > mean if too_hard else model.d[i] < mean)]
            if wrong:
                pool = wrong
        for _ in range(count):
            if not pool:
                break
            victim = pool.pop(rng.randrange(len(pool)))
            self.remove(victim)




def fmt_marks(hundredths: int) -> str:
    return f"{(Decimal(hundredths) / SCALE).normalize():f}"


def fmt_difficulty(hundredths: int) -> str:
    return f"{Decimal(hundredths) / SCALE:.2f}"


def marks_word(hundredths: int) -> str:
    return f"{fmt_marks(hundredths)} mark{'' if hundredths == 100 else 's'}"
