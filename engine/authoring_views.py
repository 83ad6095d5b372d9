"""The item writer's and reviewer's pages under ``/author``: browse and filter the bank, write and
edit items through each item type's author form with a live preview, and move items through the
review workflow (engine/authoring_workflow.py) with comments, history and a version diff.

Every form is a plain POST with the CSRF field; htmx only adds the live preview.
"""
from __future__ import annotations

import re

from flask import Blueprint, abort, g, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from engine import auth, clock, db, models
from engine import authoring_forms as forms
from engine import authoring_workflow as workflow
from engine.candidate import FIELD_PREFIX
from engine.plugins import item_types
from engine.web import hx_redirect, render

bp = Blueprint("authoring", __name__, url_prefix="/author")
VIEWERS = ("item_writer", "reviewer")
STATUSES = ("draft", "in_review", "live", "retired")


def _statistics_flags(session, item_ids: list[int]) -> dict[int, list[str]]:
    """Flags from the item statistics (engine/item_statistics.py) when that module is present."""
    try:
        from engine.item_statistics import statistics_for_items
    except ImportError:
        return {}
    try:
        stats = statistics_for_items(session, item_ids)
    except Exception:  # statistics must never take the authoring pages down with them
        return {}
    return {item_id: list(getattr(s, "flags", []) or []) for item_id, s in stats.items()}


def flag_kind(flag: str) -> str:
    """What a statistics flag is about, without its figures: "hard: facility 0.12 ..." -> "hard"."""
    return re.sub(r"\s*[-+(\d].*$", "", flag.split(":", 1)[0]).strip() or flag


def _item(item_id: int) -> models.Item:
    item = db.session().scalar(select(models.Item).where(models.Item.id == item_id).options(
        selectinload(models.Item.versions).selectinload(models.ItemVersion.criterion)
        .selectinload(models.AssessmentCriterion.learning_outcome)))
    if item is None or not item.versions:
        abort(404)
    return item


def _unit(unit_id) -> models.Unit:
    unit = db.session().get(models.Unit, unit_id) if str(unit_id).isdigit() else None
    if unit is None:
        abort(404)
    return unit


@bp.get("/")
@auth.staff_required(*VIEWERS)
def index():
    session = db.session()
    units = session.scalars(select(models.Unit).order_by(models.Unit.urn)).all()
    chosen = {name: request.args.get(name, "").strip() for name in ("unit", "lo", "ac", "type", "status", "state", "flag")}
    query = select(models.Item).options(selectinload(models.Item.versions).selectinload(models.ItemVersion.criterion)
                                        .selectinload(models.AssessmentCriterion.learning_outcome)).order_by(models.Item.key)
    if chosen["unit"].isdigit():
        query = query.where(models.Item.unit_id == int(chosen["unit"]))
    if chosen["status"] in STATUSES:
        query = query.where(models.Item.status == chosen["status"])
    items = session.scalars(query).all()
    reviews = workflow.reviews_for(session, [item.versions[-1] for item in items if item.versions])
    flags = _statistics_flags(session, [item.id for item in items])
    rows = []
    for item in items:
        if not item.versions:
            continue
        latest = item.versions[-1]
        state = workflow.version_state(item, latest, reviews.get(latest.id))
        if chosen["lo"] and latest.criterion.learning_outcome.number != chosen["lo"]:
            continue
        if chosen["ac"] and latest.criterion.number != chosen["ac"]:
            continue
        if chosen["type"] and latest.type_name != chosen["type"]:
            continue
        if chosen["state"] and state != chosen["state"]:
            continue
        if chosen["flag"] and chosen["flag"] not in {flag_kind(f) for f in flags.get(item.id, [])}:
            continue
        rows.append({"item": item, "latest": latest, "state": state, "flags": flags.get(item.id, [])})
    all_flags = sorted({flag_kind(f) for fl in flags.values() for f in fl})
    return render("authoring/index.html", units=units, rows=rows, chosen=chosen, types=item_types(),
                  statuses=STATUSES, states=workflow.VERSION_STATES, flags=all_flags,
                  has_statistics=bool(flags) or _has_statistics())


def _has_statistics() -> bool:
    try:
        import engine.item_statistics  # noqa: F401
    except ImportError:
        return False
    return True


def _page(template_values: dict, status: int = 200):
    g.author_errors = forms.errors_by_field(template_values.get("problems", []))
    return render("authoring/edit.html", status=status, prefix=forms.PREFIX, **template_values)


@bp.route("/new", methods=["GET", "POST"])
@auth.staff_required("item_writer")
def new():
    """Choose the unit and type (GET), then write the item (its form posts back here)."""
    session = db.session()
    unit_id, type_name = request.values.get("unit", ""), request.values.get("type", "")
    types = item_types()
    if not unit_id or type_name not in types:
        units = session.scalars(select(models.Unit).order_by(models.Unit.urn)).all()
        return render("authoring/new.html", units=units, types=types, unit_id=unit_id, type_name=type_name)
    unit = _unit(unit_id)
    return _write(unit, types[type_name], None)


@bp.route("/items/<int:item_id>/edit", methods=["GET", "POST"])
@auth.staff_required("item_writer")
def edit(item_id: int):
    item = _item(item_id)
    plugin = item_types().get(item.versions[-1].type_name)
    if plugin is None:  # its plugin is not loaded on this server: nothing to edit it with
        abort(404)
    return _write(db.session().get(models.Unit, item.unit_id), plugin, item)


def _write(unit: models.Unit, plugin, item: models.Item | None):
    session = db.session()
    keys = set(session.scalars(select(models.Item.key).where(models.Item.unit_id == unit.id)))
    values = dict(unit=unit, plugin=plugin, item=item, criteria=forms.criteria_of(unit), problems=[], preview=None)
    if request.method == "GET":
        values["meta"], values["form"] = forms.form_of(item.versions[-1], plugin) if item else ({}, {})
        return _page(values)
    values["meta"], values["form"] = request.form.to_dict(flat=False), forms.type_fields(request.form)
    draft = forms.read(request.form, unit, plugin, keys, item)
    values["problems"] = draft.problems
    if item is not None and request.form.get("based_on") != str(item.versions[-1].version):
        # Saving over a version this writer never saw would silently undo someone's change.
        draft.problems.append(forms.Problem("item", f"version {item.versions[-1].version} was saved after you "
                                                    "opened this page: open it again and make your change there"))
    if request.form.get("action") != "save" or draft.problems:
        if not draft.problems:
            values["preview"] = forms.preview_context(plugin, plugin.sanitise_definition(draft.definition))
            values["preview_marks"] = draft.definition.get("marks")
        stale = item is not None and request.form.get("based_on") != str(item.versions[-1].version)
        saving = request.form.get("action") == "save"
        return _page(values, status=(409 if stale else 422) if draft.problems and saving else 200)
    now = clock.now(session)
    user = auth.current_staff()
    fields, digest = forms.version_fields(draft, plugin, forms.criteria_of(unit)[draft.criterion])
    try:
        with db.writing(session):
            if item is None:
                item = models.Item(unit_id=unit.id, key=draft.key, status="draft")
                session.add(item)
                session.flush()
            workflow.add_version(session, item, fields, user, now, digest)
    except workflow.WorkflowError as error:
        values["problems"] = [forms.Problem("item", str(error))]
        return _page(values, status=409)
    except IntegrityError:  # another writer saved this item (or took this id) a moment ago
        values["problems"] = [forms.Problem("item", "someone else saved this item just now: open it again and "
                                                    "make your change to their version")]
        return _page(values, status=409)
    return hx_redirect(url_for("authoring.item", item_id=item.id))


@bp.post("/preview")
@auth.staff_required(*VIEWERS)
def preview():
    """The live preview (htmx): the item as posted so far, exactly as a candidate would see it."""
    types = item_types()
    plugin = types.get(request.form.get("type_name", ""))
    if plugin is None:
        abort(400)
    definition = plugin.parse_author_form(forms.type_fields(request.form))
    problems = plugin.validate_definition(definition)
    ctx = None if problems else forms.preview_context(plugin, plugin.sanitise_definition(definition))
    return render("authoring/_preview.html", plugin=plugin, preview=ctx, problems=problems,
                  preview_marks=definition.get("marks"), candidate_prefix=FIELD_PREFIX)


@bp.get("/items/<int:item_id>")
@auth.staff_required(*VIEWERS)
def item(item_id: int):
    return _item_page(_item(item_id))


def _item_page(item: models.Item, error: str | None = None, status: int = 200):
    session = db.session()
    user = auth.current_staff()
    reviews = workflow.reviews_for(session, list(item.versions))
    latest = item.versions[-1]
    state = workflow.version_state(item, latest, reviews.get(latest.id))
    live = workflow.live_version(item, reviews)
    actions = [(name, rule) for name, rule in workflow.TRANSITIONS.items()
               if workflow.refusal(name, item, state, reviews.get(latest.id), user) is None]
    versions = [(v, workflow.version_state(item, v, reviews.get(v.id)), reviews.get(v.id)) for v in reversed(item.versions)]
    return render("authoring/item.html", status=status, item=item, latest=latest, state=state, live=live,
                  versions=versions, actions=actions, error=error, history=workflow.history(session, item),
                  unit=session.get(models.Unit, item.unit_id), can_edit=user.has_role("item_writer") and state != "in_review")


@bp.post("/items/<int:item_id>/workflow")
@auth.staff_required(*VIEWERS)
def act(item_id: int):
    item = _item(item_id)
    session = db.session()
    try:
        with db.writing(session):
            workflow.take(session, item, request.form.get("action", ""), auth.current_staff(), clock.now(session),
                          request.form.get("comment", ""))
    except workflow.WorkflowError as error:
        session.expire_all()
        return _item_page(_item(item_id), error=str(error), status=403)
    return hx_redirect(url_for("authoring.item", item_id=item_id))


@bp.post("/items/<int:item_id>/comments")
@auth.staff_required(*VIEWERS)
def comment(item_id: int):
    item = _item(item_id)
    session = db.session()
    try:
        with db.writing(session):
            workflow.comment(session, item, auth.current_staff(), clock.now(session), request.form.get("comment", ""))
    except workflow.WorkflowError as error:
        return _item_page(item, error=str(error), status=422)
    return hx_redirect(url_for("authoring.item", item_id=item_id) + "#history")


@bp.get("/items/<int:item_id>/diff")
@auth.staff_required(*VIEWERS)
def diff(item_id: int):
    item = _item(item_id)
    by_number = {v.version: v for v in item.versions}
    try:
        new_number = int(request.args.get("to", item.versions[-1].version))
        old_number = int(request.args.get("from", new_number - 1))
    except ValueError:
        abort(400)
    if old_number not in by_number or new_number not in by_number:
        abort(404)
    old, new_version = by_number[old_number], by_number[new_number]
    return render("authoring/diff.html", item=item, old=old, new=new_version, changes=forms.diff(old, new_version),
                  numbers=[v.version for v in item.versions])


def init_app(app) -> None:
    from engine import assets, authoring_assets
    app.register_blueprint(bp)
    app.register_blueprint(assets.bp)
    app.register_blueprint(authoring_assets.bp)
