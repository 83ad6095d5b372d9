"""Item preview for staff: any item version exactly as the candidate sees it, answerable by
keyboard, then marked by its item type so a writer can check the key behaves."""
from __future__ import annotations

import random

from flask import Blueprint, abort, request
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from engine import auth, db, models
from engine.candidate import FIELD_PREFIX
from engine.plugins import item_type, item_types
from engine.web import item_fields, render

bp = Blueprint("preview", __name__, url_prefix="/preview")


@bp.get("/")
@auth.staff_required("item_writer", "reviewer")
def index():
    """One example per registered item type: the first live version of that type in the banks."""
    session = db.session()
    first_of_type = dict(session.execute(
        select(models.ItemVersion.type_name, func.min(models.ItemVersion.id))
        .join(models.Item, models.Item.id == models.ItemVersion.item_id)
        .where(models.Item.status == "live").group_by(models.ItemVersion.type_name)).all())
    types = [{"name": name, "label": plugin.label or name, "version_id": first_of_type.get(name),
              "auto_marked": plugin.auto_marked} for name, plugin in sorted(item_types().items())]
    return render("preview/index.html", types=types)


@bp.route("/versions/<int:version_id>", methods=["GET", "POST"])
@auth.staff_required("item_writer", "reviewer")
def version(version_id: int):
    version = db.session().scalar(select(models.ItemVersion).where(models.ItemVersion.id == version_id).options(
        selectinload(models.ItemVersion.item), selectinload(models.ItemVersion.criterion)))
    if version is None:
        abort(404)
    plugin = item_type(version.type_name)
    # A fixed seed: the preview shows the same order each time, like a resumed attempt.
    state = plugin.start_attempt(version.definition, random.Random(version.id))
    response, mark = None, None
    if request.method == "POST":
        response = plugin.parse_response(version.definition, state, item_fields(FIELD_PREFIX))
        mark = plugin.mark(version.definition, response)
    return render(
        "preview/version.html", version=version, plugin=plugin, mark=mark,
        item_template=f"itemtype-{version.type_name}/candidate.html",
        ctx=plugin.candidate_context(version.definition, state, response), prefix=FIELD_PREFIX,
        summary=plugin.summarise_response(version.definition, response) if mark else "",
        correct=plugin.summarise_response(version.definition, plugin.correct_response(version.definition)) if mark else "",
    )
