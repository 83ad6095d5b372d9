"""Staff tools beside the results: regrade a sitting after a key fix, and item statistics.

Routes live on the results blueprint (``engine.results.bp``). The regrade page always shows the
before/after preview first; applying it needs a reason and is audited per attempt.
"""
from __future__ import annotations

from flask import abort, request
from sqlalchemy import select

from engine import auth, clock, db, item_statistics, marking, models, regrade
from engine.results import bp, load_sitting
from engine.web import render

REGRADE_ROLES = ("reviewer", "exams_officer")
STATISTICS_ROLES = ("item_writer", "reviewer", "exams_officer")


def _regradable(sitting: models.Sitting) -> list[dict]:
    """Items on the sitting's forms with a newer version than the one their marks came from."""
    items: dict[int, models.Item] = {}
    for entry in sitting.entries:
        if entry.attempt is not None:
            for form_item in entry.attempt.form_items:
                items[form_item.item_version.item_id] = form_item.item_version.item
    found = []
    for item in sorted(items.values(), key=lambda i: i.key):
        attempts = regrade.affected(db.session(), sitting, item)
        if attempts:
            found.append({"item": item, "attempts": len(attempts), "target": regrade.target_version(db.session(), item)})
    return found


def _item_in(sitting: models.Sitting, raw: str | None) -> models.Item:
    try:
        item_id = int(raw or "")
    except ValueError:
        abort(404)
    item = next((r["item"] for r in _regradable(sitting) if r["item"].id == item_id), None)
    if item is None:
        abort(404)
    return item


@bp.route("/sittings/<int:sitting_id>/regrade", methods=["GET", "POST"])
@auth.staff_required(*REGRADE_ROLES)
def regrade_page(sitting_id: int):
    session = db.session()
    sitting = load_sitting(sitting_id)
    raw_item = request.values.get("item")
    if raw_item is None:
        return render("results/regrade.html", sitting=sitting, items=_regradable(sitting), item=None)
    item = _item_in(sitting, raw_item)
    chosen = None
    if request.method == "POST":
        try:
            chosen = [int(v) for v in request.form.getlist("attempts")]
        except ValueError:
            abort(400)
        if not chosen:
            return _preview(sitting, item, "attempts: choose at least one attempt to regrade", 400)
        try:
            with db.writing(session):
                sitting = load_sitting(sitting_id)
                item = session.get(models.Item, item.id)
                changes = regrade.apply(session, sitting, item, chosen, auth.staff_actor(auth.current_staff()),
                                        request.form.get("reason", ""), clock.now(session))
        except regrade.RegradeError as exc:
            return _preview(sitting, item, str(exc), 400)
        return render("results/regrade_done.html", sitting=load_sitting(sitting_id), item=item, changes=changes,
                      target=regrade.target_version(session, item))
    return _preview(sitting, item)


def _preview(sitting, item, error=None, status=200):
    changes = regrade.preview(db.session(), sitting, item)
    return render("results/regrade.html", status=status, sitting=sitting, items=None, item=item,
                  changes=changes, error=error, target=regrade.target_version(db.session(), item))


@bp.get("/statistics")
@auth.staff_required(*STATISTICS_ROLES)
def statistics_index():
    specifications = db.session().scalars(select(models.TestSpecification).order_by(models.TestSpecification.code)).all()
    return render("results/statistics_index.html", specifications=specifications)


@bp.get("/statistics/<int:specification_id>")
@auth.staff_required(*STATISTICS_ROLES)
def statistics(specification_id: int):
    session = db.session()
    spec = session.get(models.TestSpecification, specification_id)
    if spec is None:
        abort(404)
    # Centre staff see figures from their own centre's candidates; an awarding-body admin, all.
    centre_id = auth.current_centre_id(auth.current_staff())
    items = session.scalars(select(models.Item).where(models.Item.unit_id == spec.unit_id)
                            .order_by(models.Item.key)).all()
    figures = item_statistics.statistics_for_items(session, [i.id for i in items], centre_id=centre_id)
    return render("results/statistics.html", spec=spec, items=items, figures=figures,
                  reliability=item_statistics.test_reliability(session, spec, centre_id=centre_id),
                  bounds=item_statistics.Bounds(), confirmed=marking.CONFIRMED)
