"""Who is asking: the staff member or the candidate behind a request.

Staff sign in with a username and a password (a slow hash: few staff, rare sign-ins).
Candidates sign in with centre number, candidate number and the sitting's keycode (a
constant-time check: a whole room signs in at once). Both are held in the signed session.
"""
from __future__ import annotations

import datetime as dt
import functools
import time

from flask import abort, current_app, g, redirect, request, session, url_for
from sqlalchemy import bindparam

from engine import attempts, db, models


#: The staff session's "last seen" is written at most this often. Written on every request, it
#: re-signed and re-sent the session cookie with every register poll (every 5 s per
#: invigilator); the idle limit is hours, so a minute's less precision costs nothing.
STAFF_SEEN_EVERY_SECONDS = 60


def current_staff() -> models.StaffUser | None:
    if "staff" not in g:
        g.staff = None
        staff_id = session.get("staff_id")
        idle_limit = current_app.config["STAFF_SESSION_IDLE_SECONDS"]
        idle = time.time() - session.get("staff_seen", 0)
        if staff_id and idle < idle_limit:
            user = db.session().get(models.StaffUser, staff_id)
            if user is not None and user.active:
                g.staff = user
                if idle >= min(STAFF_SEEN_EVERY_SECONDS, idle_limit / 10):
                    session["staff_seen"] = int(time.time())
    return g.staff


def staff_required(*roles: str):
    """Require a signed-in member of staff holding one of ``roles`` (admin holds them all)."""
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_staff()
            if user is None:
                return redirect(url_for("staff.login", next=request.full_path))
            if roles and not user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def staff_actor(user: models.StaffUser) -> str:
    return f"staff:{user.username}"


def current_centre_id(user: models.StaffUser | None = None) -> int | None:
    """The centre the signed-in member of staff is working in now (a member of several centres
    chooses one in the header); None for an awarding-body administrator. Scope every
    centre's query by this, never by ``StaffUser.centre_id`` (that is only the home centre)."""
    from engine import staff_centres
    return staff_centres.current_centre_id(user if user is not None else current_staff())


def can_see_centre(user: models.StaffUser, centre_id: int) -> bool:
    """Staff see the centre they are working in; an administrator without a centre sees every centre."""
    from engine import staff_centres
    return current_centre_id(user) == centre_id or staff_centres.is_awarding_body_admin(user)


def sign_in_candidate(attempt: models.Attempt) -> None:
    """Bind this browser to the attempt; an older browser session of it is cut off."""
    attempt.session_generation += 1
    session.pop("staff_id", None)
    session["candidate"] = {"attempt": attempt.id, "gen": attempt.session_generation}
    session.permanent = True


def current_attempt_id() -> tuple[int, int] | None:
    claim = session.get("candidate")
    if not isinstance(claim, dict):
        return None
    return claim.get("attempt"), claim.get("gen")


#: Built once (its cache key is kept): a whole room signs in within a minute.
_SIGN_IN_MATCHES = attempts.with_context_where(
    models.Centre.number == bindparam("centre_number"),
    models.Candidate.candidate_number == bindparam("candidate_number"),
    models.Sitting.state.in_(bindparam("states", expanding=True)),
).order_by(models.Sitting.id.desc())


def find_entry_for_sign_in(centre_number: str, candidate_number: str,
                           sitting_states=("open", "started")) -> list[models.Attempt]:
    """The candidate's attempts in open or running sittings, newest first, each with its entry,
    sitting, specification, candidate and centre: what the locks and the rate limit read next,
    in this one statement."""
    rows = db.session().execute(_SIGN_IN_MATCHES, {"centre_number": centre_number, "candidate_number": candidate_number,
                                                   "states": list(sitting_states)})
    return [attempts.linked(row) for row in rows]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
