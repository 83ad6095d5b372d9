"""The attempt state machine: the only place that says which move is allowed from where.

ready        the form is made; the candidate has not signed in and confirmed
waiting      signed in, details confirmed, waiting for the invigilator's start
in_progress  the clock is running
paused       the invigilator has stopped the clock (the screen shows no item)
on_break     a supervised rest break: the clock is stopped and the screen shows no item
finished     submitted, timed out, ended by the invigilator, absent, withdrawn or voided

An emergency that catches a candidate on a break turns the break into a pause (on_break →
paused), so break time is only ever time the candidate actually rested.

A finished attempt has an **outcome** (``Attempt.outcome``): complete, absent, withdrawn or
voided. ``finish_reason`` says how the clock stopped; ``outcome`` says what the attempt
counts as in results, and a finished attempt can still be voided later (malpractice found
after submission) without rewriting how it finished.
"""
from __future__ import annotations

READY, WAITING, IN_PROGRESS, PAUSED, FINISHED = "ready", "waiting", "in_progress", "paused", "finished"
ON_BREAK = "on_break"
STATES = (READY, WAITING, IN_PROGRESS, PAUSED, ON_BREAK, FINISHED)

TRANSITIONS = {
    READY: {WAITING, FINISHED},
    WAITING: {IN_PROGRESS, FINISHED},
    IN_PROGRESS: {PAUSED, ON_BREAK, FINISHED},
    PAUSED: {IN_PROGRESS, FINISHED},
    ON_BREAK: {IN_PROGRESS, PAUSED, FINISHED},
    # Only an attempt marked absent by mistake, never started, goes back (see
    # ``invigilation_actions.reinstate``); nothing else leaves ``finished``.
    FINISHED: {READY},
}

#: The states in which the candidate has started and the test is not over.
STARTED = (IN_PROGRESS, PAUSED, ON_BREAK)

#: Why an attempt finished.
SUBMITTED, TIMED_OUT, ENDED, ABSENT = "submitted", "timed_out", "ended_by_invigilator", "absent"
WITHDRAWN, VOIDED = "withdrawn", "voided"

#: What a finished attempt counts as.
COMPLETE = "complete"
OUTCOMES = (COMPLETE, ABSENT, WITHDRAWN, VOIDED)


def outcome_for(finish_reason: str | None) -> str:
    """The outcome a finish reason gives: absent, withdrawn and voided are their own outcomes."""
    return finish_reason if finish_reason in (ABSENT, WITHDRAWN, VOIDED) else COMPLETE


class IllegalTransition(RuntimeError):
    def __init__(self, current: str, wanted: str):
        super().__init__(f"an attempt cannot go from {current} to {wanted}")
        self.current, self.wanted = current, wanted


def check_move(current: str, wanted: str) -> None:
    """Raise :class:`IllegalTransition` unless an attempt may go from ``current`` to ``wanted``."""
    if wanted not in TRANSITIONS[current]:
        raise IllegalTransition(current, wanted)


def move(attempt, wanted: str) -> None:
    """Set ``attempt.state`` to ``wanted`` or raise :class:`IllegalTransition`."""
    check_move(attempt.state, wanted)
    attempt.state = wanted
