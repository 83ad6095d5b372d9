"""The candidate's time tools: the timer poll with its spoken warnings, "hide timer", the
rest-break request, and the heartbeat the invigilator sees as "last contact".

Time warnings (10, 5 and 1 minute left) are decided by the server from the ledger and sent
by the timer poll into a polite live region that stays in the page, so a screen reader says
them once without moving focus. Which warning was last announced is kept in the session, so
moving between questions does not repeat it and a warning crossed during a page load is
still announced by the next poll.
"""
from __future__ import annotations

import datetime as dt

from flask import redirect, request, session, url_for
from sqlalchemy import bindparam, update
from sqlalchemy.orm.attributes import set_committed_value

from engine import attempts, clock, db, invigilation_actions, models
from engine.attempt_states import IN_PROGRESS, ON_BREAK
from engine.candidate import HEARTBEAT_SECONDS, _route_for_state, bp, load_attempt
from engine.web import hx_redirect, is_htmx, render

#: (remaining seconds at or below which, minutes, what is said), smallest first.
WARNINGS = ((60, 1, "1 minute left."), (300, 5, "5 minutes left."), (600, 10, "10 minutes left."))
_ANNOUNCED = "time_warned"


def warning_level(remaining: float) -> int | None:
    for limit, minutes, _text in WARNINGS:
        if remaining <= limit:
            return minutes
    return None


def warning_text(level: int | None) -> str:
    return next((text for _limit, minutes, text in WARNINGS if minutes == level), "")


def announced_level(data, attempt_id: int) -> int | None:
    """The warning last announced on this browser for this attempt (``data``: its session)."""
    value = data.get(_ANNOUNCED)
    if isinstance(value, list) and len(value) == 2 and value[0] == attempt_id:
        return value[1]
    return None


def _announced(attempt: models.Attempt) -> int | None:
    return announced_level(session, attempt.id)


def timer_token(deadline_at: dt.datetime | None, hidden: bool) -> str:
    """What a timer on screen was drawn with: the deadline and "hide timer". Its poll sends it
    back (``shown``), so the poll can be answered "no change" without drawing the timer again
    while both still hold (engine/quiet_polls.py)."""
    deadline = deadline_at.strftime(_TOKEN_TIME) if deadline_at is not None else "none"
    return f"{deadline}{'h' if hidden else 's'}"


_TOKEN_TIME = "%Y%m%dT%H%M%S%f"


def token_deadline(token: str | None) -> dt.datetime | None:
    """The deadline a timer says it was drawn with (None when it says none, or nonsense)."""
    try:
        return dt.datetime.strptime((token or "")[:-1], _TOKEN_TIME)
    except ValueError:
        return None


@bp.app_template_global("timer_poll_url")
def timer_poll_url(attempt: models.Attempt) -> str:
    """Where the timer on screen polls: with what it was drawn with (``shown``) and when (``at``,
    seconds since the epoch). Once a heartbeat's interval has passed since then, the heartbeat is
    due, so the poll goes straight to the route without the read in front of it."""
    drawn = clock.now(db.session()).replace(tzinfo=dt.UTC)
    return url_for("candidate.time_left", shown=timer_token(attempt.deadline_at, attempt.timer_hidden),
                   at=int(drawn.timestamp()))


def remaining_now(attempt: models.Attempt) -> float:
    """Time left by the ledger; while running, from the deadline cache (one less query per poll)."""
    session_db = db.session()
    now = clock.now(session_db)
    if attempt.state == IN_PROGRESS and attempt.deadline_at is not None:
        return max(0.0, (attempt.deadline_at - now).total_seconds())
    return attempts.ledger(session_db, attempt, now).remaining_seconds


def heartbeat(attempt: models.Attempt) -> None:
    """Record "last contact", at most every HEARTBEAT_SECONDS, so a room of polling browsers
    does not become a write storm."""
    session_db = db.session()
    now = clock.now(session_db)
    if attempt.last_contact_at is None or (now - attempt.last_contact_at).total_seconds() >= HEARTBEAT_SECONDS:
        with db.writing(session_db):
            session_db.execute(_CONTACT, {"attempt_id": attempt.id, "now": now})
        set_committed_value(attempt, "last_contact_at", now)  # as written: nothing left to flush


_attempts = models.Attempt.__table__
#: Built once (its cache key is kept); a Core statement, so the session has nothing to synchronise.
_CONTACT = (update(_attempts).where(_attempts.c.id == bindparam("attempt_id"))
            .values(last_contact_at=bindparam("now", type_=_attempts.c.last_contact_at.type)))


def paused_mode(attempt: models.Attempt) -> str:
    """What the hidden screen says: a rest break, a stopped room, or a pause for this candidate."""
    return paused_mode_of(attempt.state, attempt.entry.sitting.stopped_at)


def paused_mode_of(state: str, room_stopped_at: dt.datetime | None) -> str:
    if state == ON_BREAK:
        return "break"
    return "stopped" if room_stopped_at is not None else "paused"


@bp.app_template_global("candidate_timer")
def timer_view(attempt: models.Attempt, remaining: float) -> dict:
    """What the timer area shows on a full page (the poll keeps it current)."""
    level = warning_level(remaining)
    return {
        "remaining": remaining,
        "hidden": attempt.timer_hidden,
        "warning": warning_text(level) if level is not None and level == _announced(attempt) else "",
        "rest_breaks": invigilation_actions.has_rest_breaks(attempt),
        "break_requested": attempt.break_requested_at is not None,
    }


def timer_poll(attempt: models.Attempt):
    remaining = remaining_now(attempt)
    level = warning_level(remaining)
    oob_warning = None
    if level != _announced(attempt):
        session[_ANNOUNCED] = [attempt.id, level]
        oob_warning = warning_text(level)
    return render("candidate/_timer_poll.html", attempt=attempt, remaining=remaining, oob_warning=oob_warning)


def _back() -> str:
    """Where a plain form post returns to: the test page it came from, never another site."""
    target = request.form.get("next") or ""
    return target if target.startswith("/test") and "//" not in target and "\\" not in target else url_for("candidate.test")


def _timer_area(attempt: models.Attempt):
    if attempt.state != IN_PROGRESS:
        return hx_redirect(_route_for_state(attempt) or url_for("candidate.test"))
    if is_htmx():
        return render("candidate/_timer.html", attempt=attempt, remaining=remaining_now(attempt))
    return redirect(_back(), code=303)


@bp.post("/test/timer")
def timer_visibility():
    """Hide or show the timer; remembered on the attempt (a new workstation keeps it)."""
    session_db = db.session()
    with db.writing(session_db):
        attempt = load_attempt(for_update=True)
        attempt.timer_hidden = request.form.get("hidden") == "1"
    return _timer_area(attempt)


@bp.post("/test/break-request")
def break_request():
    """Ask for a supervised rest break (or cancel the request); the invigilator starts it."""
    session_db = db.session()
    with db.writing(session_db):
        attempt = load_attempt(for_update=True)
        now = clock.now(session_db)
        try:
            if request.form.get("cancel") == "1":
                invigilation_actions.cancel_break_request(session_db, attempt, now)
            else:
                invigilation_actions.request_break(session_db, attempt, now)
        except invigilation_actions.Refused:
            pass  # no longer running: the redirect below takes the candidate where they belong
    return _timer_area(attempt)
