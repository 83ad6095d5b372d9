"""The time ledger: remaining time derived only from an attempt's append-only time events.

This is the one module that knows the timing rule. Pure: give it the events and ``now``.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

#: Event kinds and what they do to the clock.
START, PAUSE, RESUME, EXTEND, FINISH = "start", "pause", "resume", "extend", "finish"
KINDS = (START, PAUSE, RESUME, EXTEND, FINISH)


@dataclass(frozen=True)
class Ledger:
    allowed_seconds: int
    extra_seconds: int
    used_seconds: float
    running: bool
    started: bool
    finished: bool
    #: When time runs out if nothing changes; None unless the clock is running.
    deadline: dt.datetime | None

    @property
    def remaining_seconds(self) -> float:
        return max(0.0, self.allowed_seconds + self.extra_seconds - self.used_seconds)


def allowed_seconds(duration_minutes: int, extra_time_percent: int) -> int:
    """The base time plus the candidate's extra-time arrangement, to the second."""
    return duration_minutes * 60 * (100 + extra_time_percent) // 100


def compute(allowed: int, events: Iterable[tuple[str, dt.datetime, int]], now: dt.datetime) -> Ledger:
    """Replay ``(kind, at, seconds)`` events in order up to ``now``.

    Time counts only while running (between start/resume and pause/finish). An ``extend``
    adds its seconds (a credit may be negative, but the total never goes below what is used).
    Events later than ``now`` are ignored, so a clock that steps back changes nothing.
    """
    extra, used = 0, 0.0
    running_since: dt.datetime | None = None
    started = finished = False
    for kind, at, seconds in events:
        if at > now or finished:
            continue
        if kind == START and not started:
            started, running_since = True, at
        elif kind == RESUME and started and running_since is None:
            running_since = at
        elif kind in (PAUSE, FINISH) and running_since is not None:
            used += (at - running_since).total_seconds()
            running_since = None
        elif kind == EXTEND:
            extra += seconds
        if kind == FINISH and started:
            finished = True
    if running_since is not None:
        used += (now - running_since).total_seconds()
    total = allowed + extra
    used = min(used, total)
    deadline = None
    if running_since is not None:
        deadline = now + dt.timedelta(seconds=total - used)
    return Ledger(allowed, extra, used, running_since is not None, started, finished, deadline)
