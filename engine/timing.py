"""The time ledger: remaining time derived only from an attempt's append-only time events.

This is the one module that knows the timing rule. Pure: give it the events and ``now`` (the
database's time, from ``engine.clock``); the browser only ever displays what it says.

The clock runs between ``start``/``resume``/``break_end`` and the next ``pause``,
``break_start`` or ``finish``. Time while paused (an invigilator's pause, an emergency) and
time on a supervised rest break is never counted; each is totalled separately so it can be
reported. ``extend`` (extra time) and ``credit`` (time given back, e.g. after a technical
failure) add seconds to the total, each with a reason on the event.

Extra time from access arrangements is fixed into ``allowed_seconds`` when the form is made
(:func:`allowed_seconds`), so it applies to every sitting the candidate takes.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Event kinds and what they do to the clock.
START, PAUSE, RESUME, EXTEND, FINISH = "start", "pause", "resume", "extend", "finish"
BREAK_START, BREAK_END, CREDIT = "break_start", "break_end", "credit"
KINDS = (START, PAUSE, RESUME, BREAK_START, BREAK_END, EXTEND, CREDIT, FINISH)

#: The ledger's modes (what the clock is doing).
NOT_STARTED, RUNNING, PAUSED, ON_BREAK, FINISHED = "not_started", "running", "paused", "on_break", "finished"

#: Which event may move the clock from which mode. Anything else is ignored, so a duplicated
#: or out-of-order event can never make time run twice or run while stopped.
_MOVES = {
    (RUNNING, PAUSE): PAUSED, (ON_BREAK, PAUSE): PAUSED,
    (PAUSED, RESUME): RUNNING,
    (RUNNING, BREAK_START): ON_BREAK,
    (ON_BREAK, BREAK_END): RUNNING,
    (RUNNING, FINISH): FINISHED, (PAUSED, FINISH): FINISHED, (ON_BREAK, FINISH): FINISHED,
}

#: JCQ: 25 % is the usual award of extra time; more, up to 50 %, only with a recorded reason.
STANDARD_EXTRA_TIME_PERCENT = 25
MAX_EXTRA_TIME_PERCENT = 50


class ArrangementError(ValueError):
    """A candidate's extra-time arrangement cannot be applied; the message says why."""


@dataclass(frozen=True)
class Ledger:
    allowed_seconds: int
    #: Extra time granted by an invigilator (``extend`` events).
    extra_seconds: int
    #: Time given back (``credit`` events).
    credit_seconds: int
    #: Time counted against the candidate, never more than the total.
    used_seconds: float
    paused_seconds: float
    break_seconds: float
    breaks: int
    mode: str
    #: When time runs out if nothing changes (may be in the past); None unless running.
    deadline: dt.datetime | None

    @property
    def total_seconds(self) -> int:
        return self.allowed_seconds + self.extra_seconds + self.credit_seconds

    @property
    def remaining_seconds(self) -> float:
        return max(0.0, self.total_seconds - self.used_seconds)

    @property
    def running(self) -> bool:
        return self.mode == RUNNING

    @property
    def started(self) -> bool:
        return self.mode != NOT_STARTED

    @property
    def finished(self) -> bool:
        return self.mode == FINISHED


def extra_time_percent(arrangements: Mapping[str, Any]) -> int:
    """The extra time a candidate's arrangements award, checked against the JCQ limits.

    Reads only ``extra_time_percent`` and ``extra_time_reason`` (the candidate record's
    keys; ``engine.access_arrangements`` validates the whole record when it is entered).
    :raise ArrangementError: not a whole number, above 50 %, or above 25 % with no reason.
    """
    raw = arrangements.get("extra_time_percent") or 0
    percent = int(raw.strip()) if isinstance(raw, str) and raw.strip().isdigit() else raw
    if isinstance(percent, bool) or not isinstance(percent, int):
        raise ArrangementError(f"extra time {raw!r} is not a whole number of percent")
    if not 0 <= percent <= MAX_EXTRA_TIME_PERCENT:
        raise ArrangementError(f"{percent}% extra time is outside 0 to {MAX_EXTRA_TIME_PERCENT}%")
    if percent > STANDARD_EXTRA_TIME_PERCENT and not str(arrangements.get("extra_time_reason") or "").strip():
        raise ArrangementError(f"{percent}% extra time is above the standard {STANDARD_EXTRA_TIME_PERCENT}% "
                               "and the candidate's record has no reason for it")
    return percent


def allowed_seconds(duration_minutes: int, extra_time_percent: int) -> int:
    """The base time plus the candidate's extra-time arrangement, to the second.

    Rounded up, so a rounding never takes time from a candidate (25 % is always exact).
    """
    return -(-duration_minutes * 60 * (100 + extra_time_percent) // 100)


def compute(allowed: int, events: Iterable[tuple[str, dt.datetime, int]], now: dt.datetime) -> Ledger:
    """Replay ``(kind, at, seconds)`` events in recorded order up to ``now``.

    Events later than ``now`` are ignored, so a clock that steps back changes nothing; events
    after ``finish`` are ignored, so nothing can add time to a finished attempt.
    """
    extra = credit = breaks = 0
    used = paused = on_break = 0.0
    mode, since = NOT_STARTED, None
    for kind, at, seconds in events:
        if at > now or mode == FINISHED:
            continue
        if kind == EXTEND:
            extra += seconds
            continue
        if kind == CREDIT:
            credit += seconds
            continue
        if mode == NOT_STARTED:
            if kind == START:
                mode, since = RUNNING, at
            continue
        new_mode = _MOVES.get((mode, kind))
        if new_mode is None:
            continue
        spent = max(0.0, (at - since).total_seconds())
        if mode == RUNNING:
            used += spent
        elif mode == PAUSED:
            paused += spent
        else:
            on_break += spent
        if new_mode == ON_BREAK:
            breaks += 1
        mode, since = new_mode, at
    deadline = None
    if mode in (RUNNING, PAUSED, ON_BREAK):
        spent = max(0.0, (now - since).total_seconds())
        if mode == RUNNING:
            # The exact moment time runs out, from the last restart: never drifts with ``now``.
            deadline = since + dt.timedelta(seconds=allowed + extra + credit - used)
            used += spent
        elif mode == PAUSED:
            paused += spent
        else:
            on_break += spent
    used = min(used, float(max(0, allowed + extra + credit)))
    return Ledger(allowed, extra, credit, used, paused, on_break, breaks, mode, deadline)
