"""Per-candidate controls: the candidate's page for the invigilator, and every action on one
attempt (pause, resume, rest break, time, move, absent, reinstate, withdraw, void)."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from sqlalchemy import select

from engine import attempts, auth, clock, db, incidents, lock_state, lock_web, models
from engine import invigilation_actions as actions
from engine.web import local_time, render
from invigilation import register as live_register
from invigilation.views import actor, bp, grace, load_sitting

#: How actions and time events read in the timeline.
EVENT_LABELS = {
    "start": "Started", "pause": "Paused", "resume": "Resumed", "break_start": "Rest break started",
    "break_end": "Rest break ended", "extend": "Extra time", "credit": "Time given back", "finish": "Finished",
}


def _attempt_in(sitting: models.Sitting, attempt_id: int, *, for_update: bool = False) -> models.Attempt:
    session_db = db.session()
    if for_update:
        found = actions.lock_attempts(session_db, sitting, [attempt_id])
        attempt = found[0] if found else None
    else:
        attempt = session_db.scalar(select(models.Attempt).join(models.Entry)
                                    .where(models.Attempt.id == attempt_id, models.Entry.sitting_id == sitting.id))
    if attempt is None:
        abort(404)
    return attempt


def candidate_page(sitting: models.Sitting, attempt: models.Attempt, *, status: int = 200, error: str | None = None,
                   field: str | None = None, form=None, action: str | None = None):
    session_db = db.session()
    now = clock.now(session_db)
    timezone = sitting.centre.timezone
    events = live_register.time_events(session_db, [attempt.id])[attempt.id]
    answered, flagged, total = attempts.answered_count(session_db, [attempt.id]).get(attempt.id, (0, 0, 0))
    audit = session_db.scalars(select(models.AuditEvent).where(models.AuditEvent.subject == f"attempt:{attempt.id}")
                               .order_by(models.AuditEvent.id)).all()
    linked = session_db.scalars(
        select(models.Incident).join(models.IncidentAttempt, models.IncidentAttempt.incident_id == models.Incident.id)
        .where(models.IncidentAttempt.attempt_id == attempt.id).order_by(models.Incident.happened_at)).all()
    return render("invigilation/attempt.html", status=status, sitting=sitting, attempt=attempt,
                  candidate=attempt.entry.candidate, ledger=live_register.ledger_of(attempt, events, now),
                  events=events, audit=audit, incidents=linked, answered=answered, flagged=flagged, total=total,
                  error=error, field=field, form=form or {}, failed_action=action, timezone=timezone,
                  local=lambda moment: local_time(moment, timezone), categories=incidents.CATEGORIES,
                  labels=EVENT_LABELS, rest_breaks=actions.has_rest_breaks(attempt),
                  deadline=local_time(attempt.deadline_at, timezone), max_minutes=actions.MAX_ADDED_MINUTES)


@bp.get("/sittings/<int:sitting_id>/attempts/<int:attempt_id>")
@auth.staff_required("invigilator")
def candidate(sitting_id: int, attempt_id: int):
    sitting = load_sitting(sitting_id)
    return candidate_page(sitting, _attempt_in(sitting, attempt_id))


def _name(attempt: models.Attempt) -> str:
    return f"{attempt.entry.candidate.candidate_number} {attempt.entry.candidate.full_name}"


def _pause(session_db, attempt, now, form):
    actions.pause(session_db, attempt, now, actor(), form.get("reason"))
    return f"{_name(attempt)} is paused: their screen is hidden and their clock stopped."


def _resume(session_db, attempt, now, form):
    actions.resume(session_db, attempt, now, actor(), form.get("reason"))
    return f"{_name(attempt)} has resumed with the time they had."


def _break_start(session_db, attempt, now, form):
    actions.start_break(session_db, attempt, now, actor(), form.get("reason"))
    return f"{_name(attempt)} is on a supervised rest break: screen hidden, clock stopped."


def _break_end(session_db, attempt, now, form):
    seconds = actions.end_break(session_db, attempt, now, actor(), form.get("reason"))
    return f"{_name(attempt)}'s break is over ({int(seconds // 60)} min {int(seconds % 60)} s); their clock is running."


def _add_time(session_db, attempt, now, form):
    minutes = actions.parse_minutes(form.get("minutes"))
    kind = form.get("kind", "")
    actions.add_time(session_db, attempt, now, actor(), kind=kind, minutes=minutes, reason=form.get("reason"),
                     grace_seconds=grace())
    what = "extra time" if kind == actions.EXTRA_TIME else "time given back"
    return f"{minutes} minute(s) of {what} added for {_name(attempt)}."


def _move(session_db, attempt, now, form):
    credit = form.get("credit_minutes", "").strip()
    actions.move_workstation(session_db, attempt, now, actor(), reason=form.get("reason"),
                             category=form.get("category") or incidents.TECHNICAL_FAILURE,
                             credit_minutes=actions.parse_minutes(credit) if credit and credit != "0" else 0,
                             grace_seconds=grace())
    paused = " Their clock is paused: resume them once they have signed in there." if attempt.state == "paused" else ""
    return (f"{_name(attempt)} can now sign in at another workstation with the keycode; the old one is signed "
            f"out.{paused}")


def _absent(session_db, attempt, now, form):
    actions.mark_absent(session_db, attempt, now, actor(), form.get("reason"))
    return f"{_name(attempt)} is recorded as absent."


def _reinstate(session_db, attempt, now, form):
    actions.reinstate(session_db, attempt, now, actor(), form.get("reason"))
    return f"{_name(attempt)} is no longer absent and can sign in."


def _withdraw(session_db, attempt, now, form):
    actions.withdraw(session_db, attempt, now, actor(), form.get("reason"))
    return f"{_name(attempt)} is withdrawn; their saved answers are kept."


def _void(session_db, attempt, now, form):
    actions.void(session_db, attempt, now, actor(), form.get("reason"))
    return f"{_name(attempt)}'s attempt is void; recorded in the incident log as suspected malpractice."


ACTIONS = {
    "pause": _pause, "resume": _resume, "break-start": _break_start, "break-end": _break_end,
    "time": _add_time, "move": _move, "absent": _absent, "reinstate": _reinstate, "withdraw": _withdraw,
    "void": _void,
    "unlock": lock_web.unlock_action,  # exam-condition locks (engine/lock_web.py)
}


@bp.post("/sittings/<int:sitting_id>/attempts/<int:attempt_id>/<action>")
@auth.staff_required("invigilator")
def act(sitting_id: int, attempt_id: int, action: str):
    handler = ACTIONS.get(action)
    if handler is None:
        abort(404)
    session_db = db.session()
    try:
        with db.writing(session_db):
            sitting = load_sitting(sitting_id)
            attempt = _attempt_in(sitting, attempt_id, for_update=True)
            message = handler(session_db, attempt, clock.now(session_db), request.form)
    except (actions.Refused, incidents.IncidentProblem, lock_state.LockRefused) as refusal:
        sitting = load_sitting(sitting_id)
        return candidate_page(sitting, _attempt_in(sitting, attempt_id), status=400, error=str(refusal),
                              field=getattr(refusal, "field", None), form=request.form, action=action)
    flash(message, "success")
    if request.form.get("next") == "dashboard":
        return redirect(url_for("invigilation.sitting", sitting_id=sitting_id), code=303)
    return redirect(url_for("invigilation.candidate", sitting_id=sitting_id, attempt_id=attempt_id), code=303)
