"""The exam day's phases in seconds from the start of the run, and the candidate's profile.

setup   the invigilators sign in and open their rooms'
        registers, before any candidate arrives (as on an
        exam day: the room is staffed before candidates
        enter)                                               [0, staff_seconds)
login   every candidate signs in, confirms and waits        [staff_seconds, start_at)
start   the rooms start together; candidates open item 1    [start_at, start_at + 15)
steady  items, autosaves, flags, timer syncs                 [.., burst_start)
burst   every candidate saves; some submit; at the deadline
        (plus the grace for saves in flight) the server
        finishes the rest                                    [burst_start, end)

The optional reconnect storm falls in the middle of the steady phase: every candidate loses
their session within ``reconnect_seconds`` and signs in again.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

START_PHASE_SECONDS = 15


@dataclass
class Timeline:
    allowed_seconds: int
    grace_seconds: int = 10
    staff_seconds: float = 0
    login_seconds: float = 60
    reconnect: bool = False
    reconnect_seconds: float = 10
    timer_seconds: float = 30
    think: tuple[float, float] = (10, 40)
    resave: float = 0.3
    flag: float = 0.1
    submit_share: float = 0.25
    ramp_extra: float = 0
    t0: float | None = field(default=None)

    @classmethod
    def from_env(cls, plan: dict) -> Timeline:
        env = os.environ.get
        common = plan.get("scenario") == "common"  # no invigilators, so no setup phase
        return cls(allowed_seconds=int(plan["allowed_seconds"]), grace_seconds=int(plan.get("grace_seconds", 10)),
                   staff_seconds=0 if common else float(env("LOADTEST_STAFF_SECONDS", "20")),
                   login_seconds=float(env("LOADTEST_LOGIN_SECONDS", "60")),
                   reconnect=env("LOADTEST_RECONNECT", "0") == "1",
                   timer_seconds=float(env("LOADTEST_TIMER_SECONDS", "30")),
                   ramp_extra=float(env("LOADTEST_ITEMS", "30")) * 15 + 60 if common else 0)

    def begin(self) -> None:
        self.t0 = time.monotonic()

    def now(self) -> float:
        return 0.0 if self.t0 is None else time.monotonic() - self.t0

    @property
    def start_at(self) -> float:
        return self.staff_seconds + self.login_seconds + 5

    @property
    def deadline(self) -> float:
        return self.start_at + self.allowed_seconds

    @property
    def burst_start(self) -> float:
        return self.deadline - min(15.0, self.allowed_seconds / 4)

    @property
    def finish_check(self) -> float:
        return self.deadline + self.grace_seconds + 1

    @property
    def end(self) -> float:
        if self.ramp_extra:  # the common scenario: the ramp and the journey's longest run
            return self.staff_seconds + self.login_seconds + self.ramp_extra
        return self.finish_check + 20

    @property
    def reconnect_at(self) -> float:
        return (self.start_at + START_PHASE_SECONDS + self.burst_start) / 2

    def reconnect_due(self) -> bool:
        return self.reconnect and self.reconnect_at <= self.now() < self.reconnect_at + self.reconnect_seconds

    def phase(self) -> str:
        now = self.now()
        if now < self.staff_seconds:
            return "setup"
        if now < self.start_at:
            return "login"
        if now < self.start_at + START_PHASE_SECONDS:
            return "start"
        if now >= self.burst_start:
            return "burst"
        if self.reconnect and self.reconnect_at <= now < self.reconnect_at + self.reconnect_seconds + 10:
            return "reconnect"
        return "steady"

    def describe(self) -> dict:
        return {"setup": [0, self.staff_seconds] if self.staff_seconds else None,
                "login": [self.staff_seconds, self.start_at],
                "start": [self.start_at, self.start_at + START_PHASE_SECONDS],
                "steady": [self.start_at + START_PHASE_SECONDS, self.burst_start],
                "burst": [self.burst_start, self.end], "deadline": self.deadline,
                "reconnect": [self.reconnect_at, self.reconnect_at + self.reconnect_seconds + 10] if self.reconnect else None,
                "end": self.end}


def offered_rate(timeline: Timeline) -> float:
    """Requests per candidate per second the steady phase is meant to send (the profile).

    One item cycle: think, save, a second save with ``resave`` chance after 3-10 s, a flag
    with ``flag`` chance, the next item page (a review page once per form of ~20): plus a
    timer sync every ``timer_seconds``.
    """
    think = sum(timeline.think) / 2 + timeline.resave * 6.5
    per_cycle = 1 + 1 + timeline.resave + timeline.flag + 1 / 20
    return per_cycle / think + 1 / timeline.timer_seconds
