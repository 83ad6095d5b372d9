"""The attempt state machine: the only place that says which move is allowed from where.

ready        the form is made; the candidate has not signed in and confirmed
waiting      signed in, details confirmed, waiting for the invigilator's start
in_progress  the clock is running
paused       the invigilator has stopped the clock (the screen shows no item)
finished     submitted, timed out, ended by the invigilator, or absent
"""
from __future__ import annotations

READY, WAITING, IN_PROGRESS, PAUSED, FINISHED = "ready", "waiting", "in_progress", "paused", "finished"
STATES = (READY, WAITING, IN_PROGRESS, PAUSED, FINISHED)

TRANSITIONS = {
    READY: {WAITING, FINISHED},
    WAITING: {IN_PROGRESS, FINISHED},
    IN_PROGRESS: {PAUSED, FINISHED},
    PAUSED: {IN_PROGRESS, FINISHED},
    FINISHED: set(),
}

#: Why an attempt finished.
SUBMITTED, TIMED_OUT, ENDED, ABSENT = "submitted", "timed_out", "ended_by_invigilator", "absent"


class IllegalTransition(RuntimeError):
    def __init__(self, current: str, wanted: str):
        super().__init__(f"an attempt cannot go from {current} to {wanted}")
        self.current, self.wanted = current, wanted


def move(attempt, wanted: str) -> None:
    """Set ``attempt.state`` to ``wanted`` or raise :class:`IllegalTransition`."""
    if wanted not in TRANSITIONS[attempt.state]:
        raise IllegalTransition(attempt.state, wanted)
    attempt.state = wanted
