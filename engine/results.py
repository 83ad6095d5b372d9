"""Staff results pages: a sitting's results, one attempt's marked answers (for appeals), the
release of results, and the exports (CSV, the long LO/AC CSV, QTI results XML).

Every route takes the sitting or attempt from the address and 404s outside the centres the member
of staff may see. The candidate's result slip (:func:`candidate_slip`) is shown only when the
result is released and the specification lets candidates see results.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, request, url_for
from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session, selectinload

from engine import auth, clock, db, marking, marking_queue, models, results_export
from engine.marking_queue import release_status  # noqa: F401  (the public place to ask)
from engine.plugins import item_type
from engine.web import local_time, render

bp = Blueprint("results", __name__, url_prefix="/results")

#: Who may see results and exports (an administrator holds every role).
RESULT_ROLES = ("invigilator", "reviewer", "exams_officer")


def load_sitting(sitting_id: int) -> models.Sitting:
    sitting = db.session().get(models.Sitting, sitting_id)
    if sitting is None or not auth.can_see_centre(auth.current_staff(), sitting.centre_id):
        abort(404)
    return sitting


def load_attempt(attempt_id: int) -> models.Attempt:
    attempt = db.session().scalar(select(models.Attempt).where(models.Attempt.id == attempt_id).options(
        selectinload(models.Attempt.form_items).selectinload(models.FormItem.item_version)))
    if attempt is None or not auth.can_see_centre(auth.current_staff(), attempt.entry.sitting.centre_id):
        abort(404)
    return attempt


@bp.get("/")
@auth.staff_required(*RESULT_ROLES)
def index():
    """The sittings of the centre the member of staff works in (every centre for an awarding-body admin)."""
    user = auth.current_staff()
    query = select(models.Sitting).order_by(models.Sitting.id.desc()).limit(100)
    centre_id = auth.current_centre_id(user)
    if centre_id is not None:
        query = query.where(models.Sitting.centre_id == centre_id)
    elif not user.has_role("admin"):
        query = query.where(False)
    return render("results/index.html", sittings=db.session().scalars(query).all())


@bp.get("/sittings/<int:sitting_id>")
@auth.staff_required(*RESULT_ROLES)
def sitting(sitting_id: int, error: str | None = None, status: int = 200):
    sitting = load_sitting(sitting_id)
    entries = [e for e in sitting.entries if e.attempt is not None]
    user = auth.current_staff()
    return render("results/sitting.html", status=status, sitting=sitting, entries=entries, error=error,
                  labels={e.attempt.id: marking.outcome_label(e.attempt) for e in entries},
                  problems=marking_queue.release_problems(sitting),
                  settings=marking.settings_for(db.session(), sitting.specification_id),
                  to_candidates=marking_queue.results_to_candidates(sitting),
                  can_release=user.has_role(*marking_queue.RELEASE_ROLES),
                  released=sum(1 for e in entries if e.attempt.result and e.attempt.result.released_at))


@bp.post("/sittings/<int:sitting_id>/release")
@auth.staff_required(*marking_queue.RELEASE_ROLES)
def release(sitting_id: int):
    session = db.session()
    load_sitting(sitting_id)
    try:
        with db.writing(session):
            marking_queue.release(session, load_sitting(sitting_id), auth.staff_actor(auth.current_staff()),
                                  clock.now(session))
    except marking_queue.MarkingError as exc:
        return sitting(sitting_id, error=str(exc), status=409)
    return redirect(url_for("results.sitting", sitting_id=sitting_id), code=303)


def _download(body, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/sittings/<int:sitting_id>/results.csv")
@auth.staff_required(*RESULT_ROLES)
def results_csv(sitting_id: int):
    return _download(results_export.results_csv(load_sitting(sitting_id)), "text/csv",
                     f"results-sitting-{sitting_id}.csv")


@bp.get("/sittings/<int:sitting_id>/breakdown.csv")
@auth.staff_required(*RESULT_ROLES)
def breakdown_csv(sitting_id: int):
    return _download(results_export.breakdown_csv(load_sitting(sitting_id)), "text/csv",
                     f"results-breakdown-sitting-{sitting_id}.csv")


def _with_key() -> bool:
    # The key travels only to staff who may see item content, and only when asked for.
    return request.args.get("key") == "1" and auth.current_staff().has_role("reviewer", "item_writer")


@bp.get("/sittings/<int:sitting_id>/results-qti.zip")
@auth.staff_required(*RESULT_ROLES)
def results_qti(sitting_id: int):
    return _download(results_export.qti_zip(load_sitting(sitting_id), include_key=_with_key()),
                     "application/zip", f"results-qti-sitting-{sitting_id}.zip")


@bp.get("/attempts/<int:attempt_id>/result.xml")
@auth.staff_required(*RESULT_ROLES)
def attempt_xml(attempt_id: int):
    attempt = load_attempt(attempt_id)
    return _download(results_export.assessment_result(attempt, include_key=_with_key()), "application/xml",
                     results_export.qti_filename(attempt))


@bp.get("/attempts/<int:attempt_id>")
@auth.staff_required(*RESULT_ROLES)
def attempt(attempt_id: int):
    attempt = load_attempt(attempt_id)
    manual = marking.manual_marks(db.session(), [fi.id for fi in attempt.form_items])
    rows = []
    for form_item in attempt.form_items:
        version = marking.version_marked(form_item)
        plugin = item_type(version.type_name)
        rows.append({
            "form_item": form_item, "version": version, "criterion": version.criterion,
            "response": plugin.summarise_response(version.definition, form_item.current_response),
            "correct": plugin.summarise_response(version.definition, plugin.correct_response(version.definition))
            if plugin.auto_marked else "(mark scheme: see the marking page)",
            "manual": manual[form_item.id],
        })
    timezone = attempt.entry.sitting.centre.timezone
    return render("results/attempt.html", attempt=attempt, rows=rows, result=attempt.result,
                  label=marking.outcome_label(attempt),
                  started=local_time(attempt.started_at, timezone, "%Y-%m-%d %H:%M:%S"),
                  finished=local_time(attempt.finished_at, timezone, "%Y-%m-%d %H:%M:%S"))


_r = models.Result.__table__
#: Built once. When the attempt's result was released, as a row (None: no result, or not yet).
_RELEASED_AT = select(_r.c.released_at).where(_r.c.attempt_id == bindparam("attempt_id"))


def candidate_slip(session: Session, attempt: models.Attempt) -> dict | None:
    """What the candidate's finish page may show of their result, or None (not released, or the
    specification keeps results from candidates). No item, answer or key is ever in it."""
    # At a deadline a whole room opens this page at once, long before any release: one row says
    # there is nothing to show, where loading the result through the relationship cost a twentieth
    # of a finishing candidate's CPU (docs/performance.md, session 16).
    if "result" in inspect(attempt).unloaded and \
            session.execute(_RELEASED_AT, {"attempt_id": attempt.id}).scalar() is None:
        return None
    if not release_status(session, attempt).candidate_may_see:
        return None
    result = attempt.result
    return {"total": result.total, "available": result.available, "outcome": marking.outcome_label(attempt),
            "by_outcome": result.by_outcome, "title": attempt.entry.sitting.specification.title}


# The regrade and statistics pages register their routes on ``bp``.
from engine import results_tools  # noqa: E402,F401
