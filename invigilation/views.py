"""The invigilator blueprint: sittings, the live dashboard and the room-level controls.

Per-candidate controls are in ``invigilation.controls``; the incident log and the sitting
report in ``invigilation.incident_views``. Every change goes through ``engine.attempts`` or
``engine.invigilation_actions`` inside one write transaction, and is audited there. Every
form is a plain POST that answers with a redirect back to the page it came from.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from engine import attempts, auth, clock, db, incidents, models
from engine import invigilation_actions as actions
from engine.web import local_time, render
from invigilation import register as live_register

bp = Blueprint("invigilation", __name__, url_prefix="/invigilate", template_folder="templates")


def _visible_sittings(user: models.StaffUser):
    query = select(models.Sitting).order_by(models.Sitting.id.desc())
    working = auth.current_centre_id(user)
    if working is not None:
        query = query.where(models.Sitting.centre_id == working)
    elif not user.has_role("admin"):
        return []
    return db.session().scalars(query.options(selectinload(models.Sitting.specification))).all()


def load_sitting(sitting_id: int, *, for_update: bool = False) -> models.Sitting:
    """A sitting the signed-in member of staff may see; 404 for anyone else's."""
    sitting = db.session().get(models.Sitting, sitting_id, with_for_update=for_update, populate_existing=for_update)
    if sitting is None or not auth.can_see_centre(auth.current_staff(), sitting.centre_id):
        abort(404)
    return sitting


def actor() -> str:
    return auth.staff_actor(auth.current_staff())


def grace() -> int:
    return current_app.config["SAVE_GRACE_SECONDS"]


@bp.get("/")
@auth.staff_required("invigilator")
def sittings():
    return render("invigilation/sittings.html", sittings=_visible_sittings(auth.current_staff()))


@bp.route("/sittings/new", methods=["GET", "POST"])
@auth.staff_required("invigilator")
def new_sitting():
    user = auth.current_staff()
    session_db = db.session()
    working = auth.current_centre_id(user)
    centre = session_db.get(models.Centre, working) if working else None
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


# --- the dashboard ---------------------------------------------------------------------------------


def _register(sitting: models.Sitting) -> live_register.Register:
    session_db = db.session()
    return live_register.build(session_db, sitting, clock.now(session_db), grace())


def dashboard(sitting: models.Sitting, *, status: int = 200, error: str | None = None, form: dict | None = None):
    """The sitting page; re-rendered with ``error`` and the typed ``form`` when an action is refused."""
    session_db = db.session()
    now = clock.now(session_db)
    timezone = sitting.centre.timezone
    stop = incidents.open_room_stop(session_db, sitting.id) if sitting.stopped_at else None
    return render("invigilation/sitting.html", status=status, sitting=sitting, reg=_register(sitting),
                  error=error, form=form or {}, stop=stop, categories=incidents.CATEGORIES,
                  stopped_at=local_time(sitting.stopped_at, timezone),
                  stopped_minutes=int((now - sitting.stopped_at).total_seconds() // 60) if sitting.stopped_at else 0,
                  incident_count=len(incidents.for_sitting(session_db, sitting.id)))


@bp.get("/sittings/<int:sitting_id>")
@auth.staff_required("invigilator")
def sitting(sitting_id: int):
    return dashboard(load_sitting(sitting_id))


@bp.get("/sittings/<int:sitting_id>/register")
@auth.staff_required("invigilator")
def register(sitting_id: int):
    sitting = load_sitting(sitting_id)
    return render("invigilation/_register.html", sitting=sitting, reg=_register(sitting))


def _back_to(sitting_id: int):
    return redirect(url_for("invigilation.sitting", sitting_id=sitting_id), code=303)


@bp.post("/sittings/<int:sitting_id>/start")
@auth.staff_required("invigilator")
def start(sitting_id: int):
    session_db = db.session()
    try:
        with db.writing(session_db):
            sitting = load_sitting(sitting_id, for_update=True)
            started = attempts.start_sitting(session_db, sitting, actor(), clock.now(session_db))
    except attempts.NotAccepted as refusal:
        return dashboard(load_sitting(sitting_id), status=409, error=str(refusal))
    flash(f"The sitting has started: {started} candidate(s) started. Candidates who confirm their details "
          "from now on start at once with their full time.", "success")
    return _back_to(sitting_id)


@bp.post("/sittings/<int:sitting_id>/end")
@auth.staff_required("invigilator")
def end(sitting_id: int):
    session_db = db.session()
    if request.form.get("confirm") != "yes":
        return dashboard(load_sitting(sitting_id), status=400, form=request.form,
                         error="Tick the box to confirm: ending the sitting finishes every candidate's test now.")
    try:
        with db.writing(session_db):
            sitting = load_sitting(sitting_id, for_update=True)
            finished = actions.end_sitting(session_db, sitting, clock.now(session_db), actor(),
                                           reason=(request.form.get("reason") or "").strip() or None)
    except attempts.NotAccepted as refusal:
        return dashboard(load_sitting(sitting_id), status=400, error=str(refusal))
    flash(f"The sitting has ended; {finished} test(s) were finished with their saved answers.", "success")
    return _back_to(sitting_id)


# --- keycode and room controls ---------------------------------------------------------------------


@bp.post("/sittings/<int:sitting_id>/keycode")
@auth.staff_required("invigilator")
def keycode(sitting_id: int):
    session_db = db.session()
    action = request.form.get("action")
    try:
        with db.writing(session_db):
            sitting = load_sitting(sitting_id, for_update=True)
            now = clock.now(session_db)
            if action == "regenerate":
                new = actions.regenerate_keycode(session_db, sitting, now, actor(), request.form.get("reason"))
                message = f"New keycode {new}. The old keycode no longer works."
            elif action == "revoke":
                actions.revoke_keycode(session_db, sitting, now, actor(), request.form.get("reason"))
                message = "Keycode revoked: nobody can sign in until you issue a new one."
            else:
                abort(400)
    except actions.Refused as refusal:
        return dashboard(load_sitting(sitting_id), status=409, error=str(refusal))
    flash(message, "success")
    return _back_to(sitting_id)


@bp.post("/sittings/<int:sitting_id>/emergency")
@auth.staff_required("invigilator")
def emergency(sitting_id: int):
    """One button, no questions: every screen hidden and every clock stopped at once."""
    session_db = db.session()
    try:
        with db.writing(session_db):
            sitting = load_sitting(sitting_id, for_update=True)
            incident = actions.emergency(session_db, sitting, clock.now(session_db), actor(), grace())
            stopped = len(incident.attempts)
    except actions.Refused as refusal:
        return dashboard(load_sitting(sitting_id), status=409, error=str(refusal))
    flash(f"Room stopped: {stopped} candidate(s) paused, screens hidden. Recorded in the incident log. "
          "Resume the room when everyone is back: each candidate gets exactly the time they had.", "warning")
    return _back_to(sitting_id)


@bp.post("/sittings/<int:sitting_id>/room/pause")
@auth.staff_required("invigilator")
def pause_room(sitting_id: int):
    session_db = db.session()
    try:
        with db.writing(session_db):
            sitting = load_sitting(sitting_id, for_update=True)
            incident = actions.stop_room(session_db, sitting, clock.now(session_db), actor(),
                                         category=request.form.get("category", ""),
                                         description=request.form.get("reason"), grace_seconds=grace())
            stopped = len(incident.attempts)
    except (actions.Refused, incidents.IncidentProblem) as refusal:
        return dashboard(load_sitting(sitting_id), status=400, error=str(refusal), form=request.form)
    flash(f"Room paused: {stopped} candidate(s) paused. Recorded in the incident log.", "warning")
    return _back_to(sitting_id)


@bp.post("/sittings/<int:sitting_id>/room/resume")
@auth.staff_required("invigilator")
def resume_room(sitting_id: int):
    session_db = db.session()
    try:
        with db.writing(session_db):
            sitting = load_sitting(sitting_id, for_update=True)
            restarted = actions.resume_room(session_db, sitting, clock.now(session_db), actor(),
                                            request.form.get("note"))
    except actions.Refused as refusal:
        return dashboard(load_sitting(sitting_id), status=409, error=str(refusal), form=request.form)
    flash(f"Room resumed: {restarted} candidate(s) restarted with the time they had.", "success")
    return _back_to(sitting_id)


@bp.post("/sittings/<int:sitting_id>/selection")
@auth.staff_required("invigilator")
def selection(sitting_id: int):
    """Pause or resume the candidates ticked on the register."""
    session_db = db.session()
    action = request.form.get("action")
    ids = [int(i) for i in request.form.getlist("attempt") if i.isdigit()]
    if action not in ("pause", "resume"):
        abort(400)
    if not ids:
        return dashboard(load_sitting(sitting_id), status=400, form=request.form,
                         error="Tick the candidates on the register first.")
    try:
        with db.writing(session_db):
            sitting = load_sitting(sitting_id, for_update=True)
            chosen = actions.lock_attempts(session_db, sitting, ids)
            do = actions.pause_many if action == "pause" else actions.resume_many
            done, skipped = do(session_db, chosen, clock.now(session_db), actor(), request.form.get("reason"))
    except actions.Refused as refusal:
        return dashboard(load_sitting(sitting_id), status=400, error=str(refusal), form=request.form)
    verb = "Paused" if action == "pause" else "Resumed"
    flash(f"{verb} {len(done)} candidate(s)." + (" Not changed: " + " ".join(skipped) if skipped else ""),
          "success" if not skipped else "warning")
    return _back_to(sitting_id)


# The per-candidate controls and the incident log register their routes on ``bp``.
from invigilation import controls, incident_views  # noqa: E402,F401
