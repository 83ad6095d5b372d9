"""The time ledger (engine.timing): examples, the extra-time rule, and a state machine that
checks the ledger against a simple model under every order of events."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from engine import timing
from engine.timing import (
    BREAK_END, BREAK_START, CREDIT, EXTEND, FINISH, PAUSE, RESUME, START, ArrangementError, allowed_seconds, compute,
)

T0 = dt.datetime(2026, 11, 23, 9, 0, 0)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_running_clock_counts_down_and_has_an_exact_deadline():
    ledger = compute(2700, [(START, at(0), 0)], at(600))
    assert ledger.running and ledger.used_seconds == 600 and ledger.remaining_seconds == 2100
    assert ledger.deadline == at(2700)


def test_paused_and_break_time_is_never_counted_and_is_reported():
    events = [(START, at(0), 0), (PAUSE, at(100), 0), (RESUME, at(400), 0),
              (BREAK_START, at(500), 0), (BREAK_END, at(1100), 0)]
    ledger = compute(2700, events, at(1200))
    assert ledger.used_seconds == 100 + 100 + 100
    assert ledger.paused_seconds == 300 and ledger.break_seconds == 600 and ledger.breaks == 1
    assert ledger.deadline == at(1100 + 2700 - 200)


def test_an_emergency_during_a_break_ends_the_break_and_pauses():
    events = [(START, at(0), 0), (BREAK_START, at(60), 0), (PAUSE, at(120), 0), (RESUME, at(720), 0)]
    ledger = compute(600, events, at(780))
    assert (ledger.break_seconds, ledger.paused_seconds, ledger.used_seconds) == (60, 600, 120)


def test_extra_time_and_credit_add_to_the_total_separately():
    events = [(START, at(0), 0), (EXTEND, at(10), 300), (CREDIT, at(20), 120)]
    ledger = compute(600, events, at(30))
    assert (ledger.extra_seconds, ledger.credit_seconds, ledger.total_seconds) == (300, 120, 1020)
    assert ledger.remaining_seconds == 990


def test_remaining_never_negative_and_used_never_beyond_the_total():
    ledger = compute(600, [(START, at(0), 0)], at(5000))
    assert ledger.remaining_seconds == 0 and ledger.used_seconds == 600 and ledger.deadline == at(600)


def test_out_of_order_duplicate_and_future_events_change_nothing():
    events = [(RESUME, at(0), 0), (START, at(0), 0), (START, at(50), 0), (RESUME, at(60), 0),
              (BREAK_END, at(70), 0), (PAUSE, at(100), 0), (PAUSE, at(150), 0), (RESUME, at(200), 0),
              (EXTEND, at(10_000), 999)]
    ledger = compute(600, events, at(300))
    assert ledger.used_seconds == 200 and ledger.paused_seconds == 100 and ledger.extra_seconds == 0


def test_nothing_counts_after_finish():
    events = [(START, at(0), 0), (FINISH, at(100), 0), (RESUME, at(200), 0), (EXTEND, at(300), 600)]
    ledger = compute(600, events, at(1000))
    assert ledger.finished and ledger.used_seconds == 100 and ledger.extra_seconds == 0 and ledger.deadline is None


@pytest.mark.parametrize("minutes", range(1, 241))
def test_25_percent_gives_exactly_25_percent_more(minutes):
    assert allowed_seconds(minutes, 25) * 4 == minutes * 60 * 5
    assert allowed_seconds(minutes, 50) * 2 == minutes * 60 * 3
    assert allowed_seconds(minutes, 0) == minutes * 60


def test_rounding_never_takes_time_from_a_candidate():
    assert allowed_seconds(1, 33) == 80  # 79.8 s rounds up


@pytest.mark.parametrize("arrangements, percent", [
    ({}, 0), ({"extra_time_percent": 0}, 0), ({"extra_time_percent": 25}, 25), ({"extra_time_percent": "25"}, 25),
    ({"extra_time_percent": 10}, 10), ({"extra_time_percent": 40, "extra_time_reason": "Form 8, processing speed"}, 40),
    ({"extra_time_percent": 50, "extra_time_reason": "Form 8"}, 50), ({"extra_time_percent": None}, 0),
])
def test_extra_time_arrangements_that_apply(arrangements, percent):
    assert timing.extra_time_percent(arrangements) == percent


@pytest.mark.parametrize("arrangements, words", [
    ({"extra_time_percent": 30}, "no reason"), ({"extra_time_percent": 30, "extra_time_reason": "  "}, "no reason"),
    ({"extra_time_percent": 51, "extra_time_reason": "x"}, "outside 0 to 50%"),
    ({"extra_time_percent": -5}, "outside"), ({"extra_time_percent": 25.5}, "whole number"),
    ({"extra_time_percent": True}, "whole number"), ({"extra_time_percent": "lots"}, "whole number"),
])
def test_extra_time_arrangements_that_are_refused(arrangements, words):
    with pytest.raises(ArrangementError, match=words):
        timing.extra_time_percent(arrangements)


class LedgerMachine(RuleBasedStateMachine):
    """A model of the clock (plain counters) against the ledger replayed from events.

    The server's time-out is modelled as the sweeper does it: once time has run out, the
    attempt is finished with a ``finish`` event at the ledger's deadline.
    """

    @initialize(minutes=st.integers(1, 120), percent=st.sampled_from([0, 10, 25, 50]))
    def setup(self, minutes, percent):
        self.base = minutes * 60
        self.percent = percent
        self.allowed = allowed_seconds(minutes, percent)
        self.now = T0
        self.events: list[tuple[str, dt.datetime, int]] = []
        self.mode = timing.NOT_STARTED
        self.used = self.paused = self.on_break = 0
        self.added = 0
        self.finished_at = None

    def ledger(self):
        return compute(self.allowed, self.events, self.now)

    def add(self, kind, seconds=0, when=None):
        self.events.append((kind, when or self.now, seconds))

    @precondition(lambda self: self.mode == timing.NOT_STARTED)
    @rule()
    def start(self):
        self.add(START)
        self.mode = timing.RUNNING

    @rule(seconds=st.integers(0, 3000))
    def time_passes(self, seconds):
        before = self.ledger()
        if self.mode == timing.RUNNING and self.used + seconds >= self.allowed + self.added:
            # Time runs out: the server finishes the attempt at its deadline, not when it notices.
            left = self.allowed + self.added - self.used
            self.now += dt.timedelta(seconds=seconds)
            assert before.deadline == self.now - dt.timedelta(seconds=seconds - left)
            self.add(FINISH, when=before.deadline)
            self.used, self.mode, self.finished_at = self.allowed + self.added, timing.FINISHED, before.deadline
            return
        self.now += dt.timedelta(seconds=seconds)
        if self.mode == timing.RUNNING:
            self.used += seconds
        elif self.mode == timing.PAUSED:
            self.paused += seconds
        elif self.mode == timing.ON_BREAK:
            self.on_break += seconds
        if self.mode in (timing.PAUSED, timing.ON_BREAK):
            assert self.ledger().remaining_seconds == before.remaining_seconds  # stopped means stopped

    @precondition(lambda self: self.mode in (timing.RUNNING, timing.ON_BREAK))
    @rule()
    def pause(self):
        self.add(PAUSE)
        self.mode = timing.PAUSED

    @precondition(lambda self: self.mode == timing.PAUSED)
    @rule()
    def resume(self):
        self.add(RESUME)
        self.mode = timing.RUNNING

    @precondition(lambda self: self.mode == timing.RUNNING)
    @rule()
    def break_start(self):
        self.add(BREAK_START)
        self.mode = timing.ON_BREAK

    @precondition(lambda self: self.mode == timing.ON_BREAK)
    @rule()
    def break_end(self):
        self.add(BREAK_END)
        self.mode = timing.RUNNING

    @precondition(lambda self: self.mode != timing.FINISHED)
    @rule(kind=st.sampled_from([EXTEND, CREDIT]), minutes=st.integers(1, 30))
    def add_time(self, kind, minutes):
        self.add(kind, minutes * 60)
        self.added += minutes * 60

    @precondition(lambda self: self.mode in (timing.RUNNING, timing.PAUSED, timing.ON_BREAK))
    @rule()
    def finish(self):
        self.add(FINISH)
        self.mode, self.finished_at = timing.FINISHED, self.now

    @rule(kind=st.sampled_from([START, PAUSE, RESUME, BREAK_START, BREAK_END]))
    def stray_event(self, kind):
        """An event that does not fit the current mode is ignored by the ledger."""
        allowed_moves = {
            timing.NOT_STARTED: {START}, timing.RUNNING: {PAUSE, BREAK_START}, timing.PAUSED: {RESUME},
            timing.ON_BREAK: {PAUSE, BREAK_END}, timing.FINISHED: set(),
        }
        if kind not in allowed_moves[self.mode]:
            before = self.ledger()
            self.add(kind)
            assert self.ledger() == before

    @invariant()
    def ledger_matches_the_model(self):
        if not hasattr(self, "events"):
            return
        ledger = self.ledger()
        assert ledger.remaining_seconds >= 0
        assert ledger.mode == self.mode
        assert ledger.used_seconds == self.used
        assert ledger.paused_seconds == self.paused
        assert ledger.break_seconds == self.on_break
        assert ledger.remaining_seconds == self.allowed + self.added - self.used
        assert ledger.total_seconds == self.allowed + self.added
        if self.mode == timing.RUNNING:
            assert ledger.deadline == self.now + dt.timedelta(seconds=ledger.remaining_seconds)
        else:
            assert ledger.deadline is None
        if self.percent == 25:
            assert self.allowed * 4 == self.base * 5

    @invariant()
    def finished_at_the_right_moment(self):
        if getattr(self, "finished_at", None) is not None and self.used == self.allowed + self.added:
            # A time-out (or a finish exactly at the deadline) used exactly the total, never more.
            assert self.ledger().used_seconds == self.allowed + self.added


LedgerMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
TestLedgerMachine = LedgerMachine.TestCase
