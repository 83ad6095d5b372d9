"""Sitting window: candidates sign in and work only during the sitting's scheduled window.

Settings::

    minutes_before_start: 30   # sign-in opens this long before the scheduled start (0-240)
    minutes_after_end: 0       # and closes this long after the scheduled end (0-240)
    finish_after_end: true     # a candidate already working may finish their own time
                               # (extra time, a rest break) after the window closes

A sitting opened on the spot has no schedule, and so no window to keep.
"""
from __future__ import annotations

import datetime as dt

from engine import lock_settings
from engine.attempt_states import FINISHED
from engine.hookspecs import hookimpl
from engine.locks import Lock
from engine.web import local_time


class SittingWindow(Lock):
    name = "sitting_window"
    title = "Sitting window"
    defaults = {"minutes_before_start": 30, "minutes_after_end": 0, "finish_after_end": True}

    @classmethod
    def validate(cls, settings):
        return (lock_settings.whole_number(settings, "minutes_before_start", 0, 240)
                + lock_settings.whole_number(settings, "minutes_after_end", 0, 240)
                + lock_settings.boolean(settings, "finish_after_end"))

    def window(self, sitting) -> tuple[dt.datetime, dt.datetime] | None:
        if sitting.scheduled_start is None or sitting.scheduled_end is None:
            return None
        return (sitting.scheduled_start - dt.timedelta(minutes=self.settings["minutes_before_start"]),
                sitting.scheduled_end + dt.timedelta(minutes=self.settings["minutes_after_end"]))

    def check(self, ctx):
        window = self.window(ctx.sitting)
        if window is None or ctx.attempt.state == FINISHED:
            return None
        opens, closes = window
        timezone = ctx.centre.timezone
        if ctx.now < opens:
            return (f"This test's sitting opens at {local_time(opens, timezone, '%H:%M')} on "
                    f"{local_time(opens, timezone, '%d %B %Y')}. Wait until then.")
        if ctx.now > closes:
            started = ctx.attempt.started_at is not None
            if started and self.settings["finish_after_end"] and ctx.stage == "page":
                return None
            return (f"This test's sitting closed at {local_time(closes, timezone, '%H:%M')} on "
                    f"{local_time(closes, timezone, '%d %B %Y')}. Speak to your invigilator.")
        return None

    def summary(self):
        after = "; candidates already working may finish their time" if self.settings["finish_after_end"] else ""
        return (f"Only in the scheduled window: from {self.settings['minutes_before_start']} min before the start "
                f"to {self.settings['minutes_after_end']} min after the end{after}.")


@hookimpl
def register_locks():
    return [SittingWindow]
