"""The candidate screens' polls, answered in front of Flask while nothing has changed.

Three screens poll all the time: the waiting screen (``/wait``, every 3 s, before a room
starts), the timer on every test page (``/test/time``, every 5 s) and the paused screen
(``/paused``, every 3 s, while a candidate is paused or on a break, or the whole room is stopped
in an emergency). 2,000 waiting candidates are about 670 requests a second, more than the
sign-ins of the login storm around them; 3,000 candidates in a test are 600 timer polls a
second, more than all their saves and item pages together. Each one went through Flask, the
session, the lock guard's six-entity load and a template, only to say "no change"
(docs/performance.md, sessions 7 and 8). This answers that common case with one indexed read
and a 204, which htmx takes as "nothing to swap", so the screen keeps polling (and the timer
keeps counting down in the browser, for display only). Two changes it answers too, each the
moment a whole room's screens poll at once: a waiting screen whose room has started, with no
answer saved yet, is sent to its first item (the route's answer); and a timer whose attempt's
time and the grace for saves in flight are over is sent to the done page, whose route finishes
the attempt (the timer's route did, only to send the screen there).

Otherwise it answers only when the full route would have changed nothing on screen and written
nothing: the signed-in attempt is in the state the screen shows, on this browser (its session
generation), and its last contact is recent; for the timer, also the deadline and the "hide
timer" choice the page was drawn with (its ``shown`` token), time still left, and no time
warning due that the session has not yet announced; for the paused screen, also which of a
break, a stopped room or a pause it shows. Anything else goes on to the route itself
(``engine.candidate.waiting``, ``time_left``, ``paused``): a started attempt with an answer
saved, the room paused or resumed, extra time was given, a warning is due, time is up but the
grace is not over, the candidate was signed out or moved, or the heartbeat is due (a timer
drawn that long ago, by its ``at``, or in the grace after the deadline it shows, goes to the
route without the read). So the route, with every exam-condition lock, still runs on each
polling screen at least once every ``HEARTBEAT_SECONDS`` and puts the server's time back on the
timer; a poll shows no item and takes no answer in between, and every item page and save (and
the done page that finishes a timed-out attempt) passes the locks as before.
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

from flask import Flask
from itsdangerous import BadSignature
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import DBAPIError
from werkzeug.http import parse_cookie

from engine import candidate_tools, db, models, security
from engine.attempt_states import FINISHED, IN_PROGRESS, ON_BREAK, PAUSED, WAITING
from engine.candidate import HEARTBEAT_SECONDS

#: The headers of every candidate answer (engine/security.py), on an empty one (a 204 carries no
#: Content-Length: RFC 9110, section 8.6).
NOTHING_CHANGED = [*security.HEADERS.items(), ("Cache-Control", "no-store"), ("Vary", "HX-Request")]
NOTHING = ("204 No Content", NOTHING_CHANGED)
#: The same headers on an empty answer whose ``HX-Redirect`` (added to it) moves the screen on.
MOVE_ON = [*NOTHING_CHANGED, ("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "0")]


class QuietPolls:
    """WSGI middleware around the Flask app: ``app.wsgi_app = QuietPolls(app, app.wsgi_app)``."""

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        #: path -> the answer to give in front of Flask (status, headers), or None for the route.
        self.answers = {"/wait": self.waiting_answer,
                        "/test/time": self.timer_answer,
                        "/paused": lambda environ: NOTHING if self.still_paused(environ) else None}

    def __call__(self, environ, start_response):
        answer_for = self.answers.get(environ.get("PATH_INFO"))
        if (answer_for is not None and environ.get("REQUEST_METHOD") == "GET"
                and environ.get("HTTP_HX_REQUEST") == "true"):
            answer = answer_for(environ)
            if answer is not None:
                start_response(*answer)
                return []
        return self.wsgi_app(environ, start_response)

    def waiting_answer(self, environ):
        """Still waiting: nothing changed. Just started, with nothing saved yet: on to the first
        item, as the route would send it. When a room starts, every waiting screen in it polls
        within 3 s, and this answer spares each of them the lock guard's load and a read of the
        form before its first item page, which passes the locks as every item page does
        (docs/performance.md, session 10). Anything else (a save made, paused, finished, signed
        out or moved, the heartbeat due) is the route's."""
        seen = self._attempt(environ, (WAITING, IN_PROGRESS))
        if seen is None:
            return None
        row = seen[0]
        if row.state == WAITING:
            return NOTHING
        if row.last_seq == 0:  # no answer saved, so every item is open: the first is position 1
            first = self.app.url_map.bind_to_environ(environ).build("candidate.item", {"position": 1})
            return "200 OK", [*MOVE_ON, ("HX-Redirect", first)]
        return None

    def still_paused(self, environ) -> bool:
        seen = self._attempt(environ, (PAUSED, ON_BREAK))
        # The screen says which of a break, a room stopped or a pause it shows (``shown``).
        return seen is not None and _shown(environ) == candidate_tools.paused_mode_of(seen[0].state,
                                                                                     seen[0].room_stopped_at)

    def timer_answer(self, environ):
        """Nothing changed: 204. Time up and the grace for saves in flight over: on to the done
        page, which finishes the attempt (``engine.candidate.done``, with every lock, as every
        page passes them). At a deadline every screen in the room polls within 5 s, and the route
        finished the attempt only to send the screen there: one request through Flask and the
        lock guard fewer for each (docs/performance.md, session 17). Anything else: the route."""
        if self._heartbeat_is_due(environ):
            return None
        shown_deadline = candidate_tools.token_deadline(_shown(environ))
        if shown_deadline is not None and shown_deadline <= self._now(None):
            return self._finish_answer(environ, shown_deadline)
        return NOTHING if self.timer_unchanged(environ) else None

    def _finish_answer(self, environ, shown_deadline: dt.datetime):
        """For a timer showing a deadline that has passed: on to the done page once the
        attempt's own deadline (extra time may have moved it) and the grace are over, or once it
        is finished (the first poll of the room finished the room's time-outs together:
        engine/time_outs.py), else None (the route shows 0 through the grace, or the new time).
        In the grace, by the deadline shown, without the read: the whole room polls then."""
        grace = dt.timedelta(seconds=self.app.config["SAVE_GRACE_SECONDS"])
        if shown_deadline + grace >= self._now(None):
            return None
        seen = self._attempt(environ, (IN_PROGRESS, FINISHED))
        if seen is None:
            return None
        row, now, _session = seen
        if row.state == IN_PROGRESS and (row.deadline_at is None or now <= row.deadline_at + grace):
            return None  # attempts.is_expired's rule
        done = self.app.url_map.bind_to_environ(environ).build("candidate.done")
        return "200 OK", [*MOVE_ON, ("HX-Redirect", done)]

    def timer_unchanged(self, environ) -> bool:
        """Whether a timer poll, its heartbeat not due and its deadline not passed, would change
        nothing on screen."""
        seen = self._attempt(environ, (IN_PROGRESS,))
        if seen is None:
            return False
        row, now, session = seen
        if row.deadline_at is None or row.deadline_at <= now:
            return False  # time is up: the route decides what the screen does now
        if _shown(environ) != candidate_tools.timer_token(row.deadline_at, row.timer_hidden):
            return False  # extra time, a pause since, or "hide timer": the page must be redrawn
        level = candidate_tools.warning_level((row.deadline_at - now).total_seconds())
        return level == candidate_tools.announced_level(session, row.id)

    def _heartbeat_is_due(self, environ) -> bool:
        """Whether the timer was drawn (``at``) a heartbeat's interval ago or more. Only a hint to
        skip the read: the browser's word can send a poll to the route, never keep it away."""
        now = self._now(None)
        try:
            drawn = int(_query(environ, "at"))
        except (TypeError, ValueError):  # none, or not a number (nor one too long to read)
            return False
        return now.replace(tzinfo=dt.UTC).timestamp() - drawn >= HEARTBEAT_SECONDS

    def _attempt(self, environ, states: tuple[str, ...]):
        """(the attempt's row, now, the session) when the browser's attempt is in ``states``, on
        this browser, with its heartbeat not yet due; else None (the route answers)."""
        session = self._session(environ)
        claim = session.get("candidate") if session is not None else None
        if not isinstance(claim, dict) or not isinstance(claim.get("attempt"), int):
            return None
        engine = db.engine_for(self.app)
        try:
            with engine.connect() as connection:
                if engine.dialect.name == "postgresql":
                    # One statement needs no transaction: without it, PostgreSQL is asked once,
                    # not three times (BEGIN, the read, COMMIT), on the most frequent request
                    # of the exam day. The pool gives the connection back to the next user as
                    # it was (a transaction per request).
                    connection.execution_options(isolation_level="AUTOCOMMIT")
                row = connection.execute(_statement(engine.dialect.name), {"attempt_id": claim["attempt"]}).first()
                connection.commit()  # not the ROLLBACK of closing: it keeps psycopg's prepared statements (db.end_read)
        except DBAPIError:
            return None  # the route answers, with the page it gives when the database is away
        if row is None or row.state not in states or row.session_generation != claim.get("gen"):
            return None
        now = self._now(row)
        if row.last_contact_at is None or (now - row.last_contact_at).total_seconds() >= HEARTBEAT_SECONDS:
            return None
        return row, now, session

    def _session(self, environ) -> dict | None:
        """The browser's signed session cookie, read as Flask reads it (engine.auth reads the
        attempt and generation from it); None when there is none or it does not verify."""
        cookie = parse_cookie(environ.get("HTTP_COOKIE", "")).get(self.app.session_interface.get_cookie_name(self.app))
        serializer = self.app.session_interface.get_signing_serializer(self.app)
        if not cookie or serializer is None:
            return None
        try:
            data = serializer.loads(cookie, max_age=int(self.app.permanent_session_lifetime.total_seconds()))
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None

    def _now(self, row) -> dt.datetime:
        """The one clock (engine/clock.py): a test's, else the database's (read with the row on
        PostgreSQL), else this host's (also without a row: only for the hint above)."""
        controlled = self.app.config.get("CLOCK")
        if controlled:
            return controlled()
        if getattr(row, "db_now", None) is not None:
            return row.db_now
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _query(environ, name: str) -> str | None:
    """A query argument, as Flask reads it (the first of its values)."""
    return parse_qs(environ.get("QUERY_STRING", "")).get(name, [None])[0]


def _shown(environ) -> str | None:
    """What the polling screen says it shows (its ``shown`` query argument)."""
    return _query(environ, "shown")


_COLUMNS = (models.Attempt.id, models.Attempt.state, models.Attempt.session_generation,
            models.Attempt.last_contact_at, models.Attempt.deadline_at, models.Attempt.timer_hidden,
            models.Attempt.last_seq,
            models.Sitting.stopped_at.label("room_stopped_at"))
_ATTEMPT = (select(*_COLUMNS).join(models.Entry, models.Entry.id == models.Attempt.entry_id)
            .join(models.Sitting, models.Sitting.id == models.Entry.sitting_id)
            .where(models.Attempt.id == bindparam("attempt_id")))
#: Built once per dialect (their cache keys are kept): PostgreSQL's clock is read in the same
#: round trip.
_STATEMENTS = {
    "postgresql": _ATTEMPT.add_columns(func.timezone("UTC", func.now()).label("db_now")),
    "other": _ATTEMPT,
}


def _statement(dialect: str):
    return _STATEMENTS["postgresql" if dialect == "postgresql" else "other"]


def init_app(app: Flask) -> None:
    app.wsgi_app = QuietPolls(app, app.wsgi_app)
