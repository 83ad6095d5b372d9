"""The invigilator blueprint: open a sitting, show its keycode, start it, watch the live
register, end it. Every action goes through ``engine.attempts`` and is audited there."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from engine import attempts, auth, clock, db, models
from engine.attempt_states import IN_PROGRESS
from engine.web import local_time, render

bp = Blueprint("invigilation", __name__, url_prefix="/invigilate", template_folder="templates")


def _visible_sittings(user: models.StaffUser):
    query = select(models.Sitting).order_by(models.Sitting.id.desc())
    if user.centre_id is not None:
        query = query.where(models.Sitting.centre_id == user.centre_id)
    elif not user.has_role("admin"):
        return []
    return db.session().scalars(query.options(selectinload(models.Sitting.specification))).all()


def load_sitting(sitting_id: int, *, for_update: bool = False) -> models.Sitting:
    """A sitting the signed-in member of staff may see; 404 for anyone else's."""
    sitting = db.session().get(models.Sitting, sitting_id, with_for_update=for_update, populate_existing=for_update)
    if sitting is None or not auth.can_see_centre(auth.current_staff(), sitting.centre_id):
        abort(404)
    return sitting


@bp.get("/")
@auth.staff_required("invigilator")
def sittings():
    return render("invigilation/sittings.html", sittings=_visible_sittings(auth.current_staff()))


@bp.route("/sittings/new", methods=["GET", "POST"])
@auth.staff_required("invigilator")
def new_sitting():
    user = auth.current_staff()
    session_db = db.session()
    centre = session_db.get(models.Centre, user.centre_id) if user.centre_id else None
    if centre is None:
        return render("invigilation/new_sitting.html", status=400, specifications=[], candidates=[], form={},
                      error="Your account is not attached to a centre, so it cannot open sittings.")
    specifications = session_db.scalars(select(models.TestSpecification).order_by(models.TestSpecification.code)).all()
    candidates = session_db.scalars(select(models.Candidate).where(models.Candidate.centre_id == centre.id)
                                    .order_by(models.Candidate.candidate_number)).all()
    if request.method == "GET":
        return render("invigilation/new_sitting.html", specifications=specifications, candidates=candidates,
                      form={}, error=None)
    form = {"specification": request.form.get("specification", ""), "title": request.form.get("title", "").strip(),
            "candidates": request.form.getlist("candidates")}
    chosen_spec = next((s for s in specifications if str(s.id) == form["specification"]), None)
    chosen = [c for c in candidates if str(c.id) in form["candidates"]]
    error = None
    if chosen_spec is None:
        error = "Choose the test for this sitting."
    elif not chosen:
        error = "Enter at least one candidate on the register."
    if error is None:
        try:
            with db.writing(session_db):
                sitting = attempts.open_sitting(
                    session_db, centre=centre, specification=chosen_spec, candidates=chosen,
                    title=form["title"] or chosen_spec.title, actor=auth.staff_actor(user), staff_id=user.id,
                    now=clock.now(session_db))
            return redirect(url_for("invigilation.sitting", sitting_id=sitting.id), code=303)
        except attempts.NotAccepted as refusal:
            error = str(refusal)
    return render("invigilation/new_sitting.html", status=400, specifications=specifications,
                  candidates=candidates, form=form, error=error)


def _register_rows(sitting: models.Sitting) -> list[dict]:
    session_db = db.session()
    now = clock.now(session_db)
    grace = current_app.config["SAVE_GRACE_SECONDS"]
    entries = [e for e in sitting.entries if e.attempt is not None]
    # Lazy time-outs: the register is looked at every few seconds, so it finishes what has run out.
    if any(e.attempt.state == IN_PROGRESS and e.attempt.deadline_at and now > e.attempt.deadline_at for e in entries):
        with db.writing(session_db):
            for entry in entries:
                attempt = session_db.get(models.Attempt, entry.attempt.id, with_for_update=True, populate_existing=True)
                attempts.finish_if_expired(session_db, attempt, now, grace)
    counts = attempts.answered_count(session_db, [e.attempt.id for e in entries])
    timezone = sitting.centre.timezone
    rows = []
    for entry in entries:
        attempt = entry.attempt
        answered, flagged, total = counts.get(attempt.id, (0, 0, 0))
        rows.append({
            "entry": entry, "attempt": attempt, "candidate": entry.candidate,
            "answered": answered, "flagged": flagged, "total": total,
            "remaining": attempts.ledger(session_db, attempt, now).remaining_seconds,
            "last_contact": local_time(attempt.last_contact_at, timezone),
        })
    return rows


@bp.get("/sittings/<int:sitting_id>")
@auth.staff_required("invigilator")
def sitting(sitting_id: int):
    sitting = load_sitting(sitting_id)
    return render("invigilation/sitting.html", sitting=sitting, rows=_register_rows(sitting), error=None)


@bp.get("/sittings/<int:sitting_id>/register")
@auth.staff_required("invigilator")
def register(sitting_id: int):
    sitting = load_sitting(sitting_id)
    return render("invigilation/_register.html", sitting=sitting, rows=_register_rows(sitting))


@bp.post("/sittings/<int:sitting_id>/start")
@auth.staff_required("invigilator")
def start(sitting_id: int):
    session_db = db.session()
    try:
        with db.writing(session_db):
            sitting = load_sitting(sitting_id, for_update=True)
            attempts.start_sitting(session_db, sitting, auth.staff_actor(auth.current_staff()), clock.now(session_db))
    except attempts.NotAccepted as refusal:
        sitting = load_sitting(sitting_id)
        return render("invigilation/sitting.html", status=409, sitting=sitting, rows=_register_rows(sitting),
                      error=str(refusal))
    return redirect(url_for("invigilation.sitting", sitting_id=sitting_id), code=303)


@bp.post("/sittings/<int:sitting_id>/end")
@auth.staff_required("invigilator")
def end(sitting_id: int):
    session_db = db.session()
    error = None
    if request.form.get("confirm") != "yes":
        error = "Tick the box to confirm: ending the sitting finishes every candidate's test now."
    else:
        try:
            with db.writing(session_db):
                sitting = load_sitting(sitting_id, for_update=True)
                attempts.end_sitting(session_db, sitting, auth.staff_actor(auth.current_staff()),
                                     clock.now(session_db), reason=request.form.get("reason") or None)
        except attempts.NotAccepted as refusal:
            error = str(refusal)
    if error:
        sitting = load_sitting(sitting_id)
        return render("invigilation/sitting.html", status=400, sitting=sitting, rows=_register_rows(sitting), error=error)
    return redirect(url_for("invigilation.sitting", sitting_id=sitting_id), code=303)
