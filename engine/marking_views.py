"""The marker's pages: sittings with open responses, a sitting's queue, one script to mark.

Every page takes the sitting from the address and looks it up within the centres the member of
staff may see (404 otherwise); a script is found only inside that sitting.
"""
from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for
from sqlalchemy import select

from engine import auth, clock, db, marking, marking_queue, models
from engine.plugins import item_type
from engine.web import render

bp = Blueprint("marking", __name__, url_prefix="/marking")


def _sitting(sitting_id: int) -> models.Sitting:
    sitting = marking_queue.load_for_marking(db.session(), sitting_id)
    if sitting is None or not auth.can_see_centre(auth.current_staff(), sitting.centre_id):
        abort(404)
    return sitting


@bp.get("/")
@auth.staff_required("marker")
def index():
    user = auth.current_staff()
    query = select(models.Sitting).where(models.Sitting.state == "ended").order_by(models.Sitting.id.desc())
    centre_id = auth.current_centre_id(user)
    if centre_id is not None:
        query = query.where(models.Sitting.centre_id == centre_id)
    elif not user.has_role("admin"):
        query = query.where(False)
    rows = []
    for sitting in db.session().scalars(query.limit(50)):
        scripts = marking_queue.queue(db.session(), sitting)
        rows.append({"sitting": sitting, "scripts": len(scripts),
                     "waiting": sum(1 for s in scripts if s.in_force.waiting_for)})
    return render("marking/index.html", rows=rows)


@bp.get("/sittings/<int:sitting_id>")
@auth.staff_required("marker")
def sitting_queue(sitting_id: int):
    sitting = _sitting(sitting_id)
    settings = marking.settings_for(db.session(), sitting.specification_id)
    return render("marking/queue.html", sitting=sitting, scripts=marking_queue.queue(db.session(), sitting),
                  settings=settings, me=auth.current_staff())


@bp.route("/sittings/<int:sitting_id>/scripts/<int:form_item_id>", methods=["GET", "POST"])
@auth.staff_required("marker")
def script(sitting_id: int, form_item_id: int):
    session = db.session()
    sitting = _sitting(sitting_id)
    found = marking_queue.find_script(session, sitting, form_item_id)
    if found is None:
        abort(404)
    error, form = None, {"mark": "", "comment": ""}
    if request.method == "POST":
        form = {"mark": request.form.get("mark", ""), "comment": request.form.get("comment", "")}
        try:
            with db.writing(session):
                # Two markers saving at once: the second waits, then sees the first's mark.
                session.execute(select(models.Attempt.id).where(models.Attempt.id == found.form_item.attempt_id)
                                .with_for_update())
                sitting = _sitting(sitting_id)
                found = marking_queue.find_script(session, sitting, form_item_id)
                if found is None:
                    abort(404)
                marking_queue.record_mark(session, sitting, found, auth.current_staff(), form["mark"],
                                          form["comment"], clock.now(session))
        except marking_queue.MarkingError as exc:
            error = str(exc)
        else:
            return redirect(url_for("marking.sitting_queue", sitting_id=sitting_id), code=303)
        sitting = _sitting(sitting_id)
        found = marking_queue.find_script(session, sitting, form_item_id)
    plugin = item_type(found.version.type_name)
    stage = found.in_force.waiting_for
    return render("marking/script.html", status=400 if error else 200, sitting=sitting, script=found,
                  response=plugin.summarise_response(found.version.definition, found.form_item.current_response),
                  mark_scheme=plugin.correct_response(found.version.definition), stage=stage,
                  # Blind second marking: earlier marks are shown only to a moderator.
                  shown_marks=found.marks if stage in (None, marking.MODERATION) else [],
                  error=error, form=form)
