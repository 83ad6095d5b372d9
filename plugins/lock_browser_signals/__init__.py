"""Browser signals: leaving full screen, losing focus, copy / cut / paste / print and the
right-click menu are reported by a small script (``static/signals.js``) on the item pages.

The browser only reports; the server decides (``engine.lock_state.report_signal``). Settings::

    policy: record          # record: an incident in the log (one per kind per minute)
                            # lock: also lock the test until the invigilator unlocks it
    clock: stop             # while locked: stop (the clock pauses, the unlock resumes it)
                            # or keep_running
    signals: [fullscreen_exit, focus_lost, copy, cut, paste, print, context_menu]

A locked candidate sees why on every test page (and the timer poll sends them there); the
invigilator sees an alert on the dashboard and an "Unlock" control (a reason is required).
"""
from __future__ import annotations

from pathlib import Path

from engine import lock_settings, lock_state
from engine.attempt_states import FINISHED, PAUSED
from engine.hookspecs import hookimpl
from engine.locks import Lock

POLICIES = ("record", "lock")
CLOCK_POLICIES = ("stop", "keep_running")
#: Besides the item pages, where a locked candidate must not be left without the reason.
LOCKED_ENDPOINTS = frozenset({"candidate.paused", "candidate.time_left", "candidate.timer_visibility",
                              "candidate.break_request"})


class BrowserSignals(Lock):
    name = "browser_signals"
    title = "Browser signals"
    defaults = {"policy": "record", "clock": "stop", "signals": sorted(lock_state.SIGNALS)}
    assets = ("signals.js",)
    static_folder = Path(__file__).parent / "static"

    @classmethod
    def validate(cls, settings):
        problems = lock_settings.one_of(settings, "policy", POLICIES) + lock_settings.one_of(settings, "clock", CLOCK_POLICIES)
        listed = lock_settings.string_list(settings, "signals")
        if not listed:
            listed = [(("signals", index), f"{kind!r} is not a signal; known: {', '.join(sorted(lock_state.SIGNALS))}")
                      for index, kind in enumerate(settings["signals"]) if kind not in lock_state.SIGNALS]
        return problems + listed

    def check(self, ctx):
        if ctx.stage != "page" or not (ctx.item_route or ctx.endpoint in LOCKED_ENDPOINTS):
            return None
        if ctx.attempt.locked_at is None or ctx.attempt.state == FINISHED:
            return None  # the flag is kept with the lockouts: no query for an unlocked attempt
        lockouts = lock_state.open_lockouts(ctx.db, [ctx.attempt.id]).get(ctx.attempt.id, [])
        mine = [lo for lo in lockouts if lo.lock_name == self.name]
        if not mine:
            return None
        clock = "Your clock is stopped until then." if ctx.attempt.state == PAUSED else "Your clock keeps running."
        return f"Your test is locked: {mine[0].reason} Put your hand up: your invigilator will unlock it. {clock}"

    def on_signal(self, ctx, kind):
        if kind not in self.settings["signals"]:
            return None
        return lock_state.report_signal(ctx.db, ctx.attempt, kind, ctx.now, lock_name=self.name,
                                        policy=self.settings["policy"],
                                        stop_clock=self.settings["clock"] == "stop").action

    def describe(self):
        what = ("is recorded for your invigilator" if self.settings["policy"] == "record"
                else "locks your test until your invigilator unlocks it")
        return ("This test runs in full screen. Leaving full screen, switching to another window, copying, pasting, "
                f"printing or opening the right-click menu {what}.")

    def summary(self):
        policy = ("record an incident" if self.settings["policy"] == "record"
                  else f"lock until the invigilator unlocks (clock: {self.settings['clock'].replace('_', ' ')})")
        return f"Reports {', '.join(self.settings['signals'])}; policy: {policy}."


@hookimpl
def register_locks():
    return [BrowserSignals]
