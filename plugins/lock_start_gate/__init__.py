"""Start gate: no item is reachable before the invigilator starts the candidate, after they
finish, or while they are paused or on a rest break (JCQ: no candidate works before the start).

Always on; nothing to configure. The candidate's waiting, paused and finished pages already say
why, so a blocked request is sent there.
"""
from __future__ import annotations

from engine.attempt_states import FINISHED, IN_PROGRESS, ON_BREAK, PAUSED, READY, WAITING
from engine.hookspecs import hookimpl
from engine.locks import Lock

REASONS = {
    READY: "Your invigilator has not started your test yet: confirm your details first.",
    WAITING: "Your invigilator has not started your test yet.",
    PAUSED: "Your invigilator has paused your test.",
    ON_BREAK: "You are on a supervised rest break.",
    FINISHED: "Your test has finished.",
}


class StartGate(Lock):
    name = "start_gate"
    title = "Start gate"
    always = True
    defaults = {}

    def check(self, ctx):
        if not ctx.item_route or ctx.attempt.state == IN_PROGRESS:
            return None
        return REASONS.get(ctx.attempt.state, REASONS[WAITING])

    def explained_by_state_page(self, ctx):
        return True

    def summary(self):
        return "Items only between the invigilator's start and the finish; never while paused or on a break."


@hookimpl
def register_locks():
    return [StartGate]
