"""The locks on the web: the guard before every candidate request, the check at sign-in, the
blocked page, browser signal reports, lock assets, and what the invigilator sees and does.

The guard asks every lock that applies (``engine.locks.reasons``) and the server decides: a
block the candidate's own state page explains (not started, paused, finished) sends them there;
any other block sends them to the blocked page, which lists every reason and is recorded for
the invigilator (at most once a minute per attempt, so a polling page is no write storm).
"""
from __future__ import annotations

import datetime as dt

from flask import (
    Blueprint, abort, current_app, g, jsonify, redirect, request, send_from_directory, url_for,
)
from sqlalchemy import select

from engine import attempts, auth, clock, db, lock_state, locks, models
from engine.attempt_states import FINISHED, IN_PROGRESS
from engine.audit import record
from engine.web import hx_redirect, is_htmx, local_time, render

bp = Blueprint("locks", __name__)

#: Candidate endpoints the guard leaves alone: no attempt yet, or leaving.
UNGUARDED = frozenset({"candidate.index", "candidate.sign_in", "candidate.sign_out"})
#: A blocked attempt is recorded for the invigilator at most this often.
BLOCK_RECORD_SECONDS = 60


def fresh_attempt(attempt_id: int) -> models.Attempt | None:
    """The attempt as it is now, with its surroundings, for a write transaction to change."""
    return attempts.reload_for_write(db.session(), attempt_id)


def _context(attempt: models.Attempt, stage: str, endpoint: str | None = None) -> locks.Context:
    session_db = db.session()
    return locks.Context(
        attempt=attempt, now=clock.now(session_db), stage=stage, db=session_db,
        endpoint=endpoint if endpoint is not None else request.endpoint, method=request.method,
        remote_addr=request.remote_addr or "", url=request.url, headers=request.headers, cookies=request.cookies,
        secret_key=current_app.secret_key,
    )


def _stage_cookies(ctx: locks.Context) -> None:
    if ctx.set_cookies:
        g.setdefault("lock_cookies", {}).update(ctx.set_cookies)


def _set_cookies(response):
    for name, value in (g.get("lock_cookies") or {}).items():
        response.set_cookie(name, value, max_age=lock_state.DEVICE_TOKEN_MAX_AGE, httponly=True, samesite="Strict",
                            secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return response


# --- the candidate side ------------------------------------------------------------------------------


def guard():
    """Called before every candidate request: None to carry on, or where to go instead."""
    if request.endpoint in UNGUARDED or request.endpoint is None:
        return None
    claim = auth.current_attempt_id()
    if claim is None:
        return None
    # One statement for what every candidate request reads next (the locks need the sitting and
    # its specification, the pages the centre's time zone); lazy loads cost a statement each. On
    # PostgreSQL it reads the request's time too, which was a round trip of its own.
    session_db = db.session()
    if clock.asks_database(session_db):
        attempt, now = attempts.load_with_context_and_now(session_db, claim[0])
        if now is not None:
            clock.remember(now)
    else:
        attempt = attempts.load_with_context(session_db, claim[0])
    # The session's identity map holds objects weakly: kept for the request, the route's own
    # load_attempt() finds this one (and what came with it) instead of asking again.
    g.guarded_attempt = attempt
    if attempt is None or attempt.session_generation != claim[1]:
        return None  # the route itself signs a cut-off browser out
    ctx = _context(attempt, locks.PAGE)
    applying = locks.active(attempt, ctx.now)
    blocks = locks.reasons(ctx, applying)
    if not blocks:
        if ctx.item_route and request.method == "GET":
            g.lock_assets = [url_for("locks.asset", name=lock.name, filename=name)
                             for lock in applying for name in lock.assets]
        return None
    if all(block.lock.explained_by_state_page(ctx) for block in blocks):
        from engine.candidate import _route_for_state
        return _send(_route_for_state(attempt) or url_for("candidate.test"))
    _record_block(attempt, blocks, ctx.now)
    return _send(url_for("locks.blocked"))


def _send(target: str):
    """htmx: HX-Redirect (409 for a refused change, so nothing treats it as done); else 303."""
    response = hx_redirect(target)
    if is_htmx() and request.method == "POST":
        response.status_code = 409
    return response


def _record_block(attempt: models.Attempt, blocks: list[locks.Block], now: dt.datetime, action="attempt.blocked"):
    session_db = db.session()
    subject = f"attempt:{attempt.id}"
    last = session_db.scalar(select(models.AuditEvent.at).where(
        models.AuditEvent.subject == subject, models.AuditEvent.action == action)
        .order_by(models.AuditEvent.id.desc()).limit(1))
    if last is not None and (now - last).total_seconds() < BLOCK_RECORD_SECONDS:
        return
    with db.writing(session_db):
        record(session_db, f"candidate:{attempt.entry.candidate_id}", action, subject, now,
               reason=" ".join(b.reason for b in blocks),
               detail={"locks": [b.lock.name for b in blocks], "address": request.remote_addr or ""})


def sign_in_refusals(attempt: models.Attempt) -> list[str]:
    """Every reason the locks give not to sign this browser in to ``attempt`` (recorded)."""
    ctx = _context(attempt, locks.SIGN_IN, endpoint="candidate.sign_in")
    blocks = locks.reasons(ctx)
    if blocks:
        _record_block(attempt, blocks, ctx.now, action="attempt.sign_in_refused")
    return [block.reason for block in blocks]


def signed_in(attempt: models.Attempt) -> None:
    """After the sign-in, in its transaction: each lock may bind or remember this browser."""
    ctx = _context(attempt, locks.SIGN_IN, endpoint="candidate.sign_in")
    for lock in locks.active(attempt, ctx.now):
        lock.after_sign_in(ctx)
    _stage_cookies(ctx)


@bp.get("/blocked")
def blocked():
    """Why the candidate cannot go on: every reason. Polls, and moves on once nothing blocks."""
    from engine.candidate import _route_for_state, load_attempt
    attempt = load_attempt()
    ctx = _context(attempt, locks.PAGE, endpoint="candidate.item")
    blocks = [b for b in locks.reasons(ctx) if not b.lock.explained_by_state_page(ctx)]
    if not blocks:
        target = _route_for_state(attempt) or url_for("candidate.test")
        return hx_redirect(target) if is_htmx() else redirect(target)
    if is_htmx():
        return "", 204
    return render("locks/blocked.html", status=403, attempt=attempt, reasons=[b.reason for b in blocks])


@bp.post("/test/signal")
def signal():
    """A report from the lock script in the candidate's browser. Only a report: the locks that
    listen decide what it means (an incident, or a lock)."""
    from engine.candidate import load_attempt
    kind = request.form.get("kind", "")
    if kind not in lock_state.SIGNALS:
        return jsonify(error="unknown signal"), 400
    session_db = db.session()
    with db.writing(session_db):
        attempt = load_attempt(for_update=True)
        if attempt.state != IN_PROGRESS:
            return "", 204
        ctx = _context(attempt, locks.PAGE)
        applying = locks.active(attempt, ctx.now)
        if any(not b.lock.explained_by_state_page(ctx) for b in locks.reasons(ctx, applying)):
            return jsonify(error="blocked", go=url_for("locks.blocked")), 403  # e.g. a copied session elsewhere
        actions = [action for lock in applying if (action := lock.on_signal(ctx, kind))]
        locked = bool(lock_state.open_lockouts(session_db, [attempt.id]).get(attempt.id))
    return jsonify(recorded=actions, go=url_for("locks.blocked") if locked else None)


@bp.get("/lock-assets/<name>/<path:filename>")
def asset(name: str, filename: str):
    cls = locks.registry().get(name)
    if cls is None or filename not in cls.assets or cls.static_folder is None:
        abort(404)
    return send_from_directory(cls.static_folder, filename)


# --- the invigilator side -----------------------------------------------------------------------------


def unlock_action(session_db, attempt, now, form) -> str:
    """The "unlock" control on the candidate's page (``invigilation.controls.ACTIONS``)."""
    count = lock_state.unlock(session_db, attempt, now, auth.staff_actor(auth.current_staff()), form.get("reason"))
    candidate = attempt.entry.candidate
    resumed = " Their clock is running again." if attempt.state == IN_PROGRESS else ""
    return f"{candidate.candidate_number} {candidate.full_name} is unlocked ({count} lock(s) lifted).{resumed}"


def alerts(db_session, rows, timezone: str) -> list:
    """Register alerts: every candidate locked and waiting for the invigilator (one query)."""
    from invigilation.register import Alert
    locked = [r.attempt.id for r in rows if r.attempt.locked_at is not None and r.attempt.state != FINISHED]
    # The flag on the attempt says who is locked, so an unlocked room costs no extra query.
    by_attempt = lock_state.open_lockouts(db_session, locked) if locked else {}
    found = []
    for row in rows:
        for lockout in by_attempt.get(row.attempt.id, [])[:1]:
            found.append(Alert("locked", f"{row.candidate.candidate_number} {row.candidate.full_name} is locked "
                                         f"since {local_time(lockout.locked_at, timezone)}: {lockout.reason} "
                                         "Unlock them on their page.", row.attempt))
    return found


def sitting_locks(sitting: models.Sitting) -> list[dict]:
    """The locks in force for a sitting, in words, and where each is set (read-only)."""
    registered = locks.registry()
    overridden = set((sitting.locks or {}).keys())
    now = clock.now(db.session())
    shown = []
    for name, settings in sorted(locks.effective_config(sitting.specification, sitting, registered).items()):
        lock = registered[name].make(sitting.specification, settings, now)
        if lock is None:
            continue
        source = ("this sitting" if name in overridden else
                  "the test specification" if name in (sitting.specification.locks or {}) else "always on")
        shown.append({"name": name, "title": registered[name].title or name, "summary": lock.summary(),
                      "source": source})
    return shown


def attempt_locks(attempt: models.Attempt) -> dict:
    session_db = db.session()
    return {"open": lock_state.open_lockouts(session_db, [attempt.id]).get(attempt.id, []),
            "history": lock_state.lockouts_of(session_db, attempt.id),
            "signals": lock_state.signals_of(session_db, attempt.id, limit=20),
            "bound": lock_state.binding(session_db, attempt.id) is not None}


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.after_request(_set_cookies)
    app.jinja_env.globals.update(
        lock_assets=lambda: g.get("lock_assets", []),
        lock_requirements=lambda attempt: locks.descriptions(attempt, clock.now(db.session())),
        sitting_locks=sitting_locks,
        attempt_locks=attempt_locks,
        signal_labels=lock_state.SIGNALS,
    )
