"""Staff results pages: a sitting's results and one attempt's marked answers (for appeals)."""
from __future__ import annotations

from flask import Blueprint, abort
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from engine import auth, db, models
from engine.plugins import item_type
from engine.web import local_time, render

bp = Blueprint("results", __name__, url_prefix="/results")


@bp.get("/sittings/<int:sitting_id>")
@auth.staff_required("invigilator", "reviewer")
def sitting(sitting_id: int):
    sitting = db.session().get(models.Sitting, sitting_id)
    if sitting is None or not auth.can_see_centre(auth.current_staff(), sitting.centre_id):
        abort(404)
    return render("results/sitting.html", sitting=sitting,
                  entries=[e for e in sitting.entries if e.attempt is not None])


@bp.get("/attempts/<int:attempt_id>")
@auth.staff_required("invigilator", "reviewer")
def attempt(attempt_id: int):
    attempt = db.session().scalar(select(models.Attempt).where(models.Attempt.id == attempt_id).options(
        selectinload(models.Attempt.form_items).selectinload(models.FormItem.item_version)))
    if attempt is None or not auth.can_see_centre(auth.current_staff(), attempt.entry.sitting.centre_id):
        abort(404)
    rows = []
    for form_item in attempt.form_items:
        version = form_item.item_version
        plugin = item_type(version.type_name)
        rows.append({
            "form_item": form_item, "version": version, "criterion": version.criterion,
            "response": plugin.summarise_response(version.definition, form_item.current_response),
            "correct": plugin.summarise_response(version.definition, plugin.correct_response(version.definition)),
        })
    timezone = attempt.entry.sitting.centre.timezone
    return render("results/attempt.html", attempt=attempt, rows=rows, result=attempt.result,
                  started=local_time(attempt.started_at, timezone, "%Y-%m-%d %H:%M:%S"),
                  finished=local_time(attempt.finished_at, timezone, "%Y-%m-%d %H:%M:%S"))
