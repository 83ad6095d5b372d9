"""Staff who work for several centres: which centres, and which one they are working in now.

A member of staff belongs to the centres listed in ``staff_centres`` plus their home centre
(``StaffUser.centre_id``, kept for accounts made before memberships existed). They work in
one centre at a time: the one chosen in the header (kept in the session), or their home
centre. Every centre-scoped page asks ``current_centre_id`` and sees that centre only, so a
member of A and B sees B's candidates only while working in B, and never C's. An
awarding-body administrator (the admin role and no centre at all) sees every centre.
"""
from __future__ import annotations

from flask import Blueprint, abort, g, has_request_context, redirect, request, session, url_for
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import audit, auth, clock, db, models
from engine.models_staff import StaffCentre

SESSION_KEY = "working_centre"

bp = Blueprint("staff_centres", __name__, url_prefix="/staff")


def centre_ids(user: models.StaffUser, session_db: Session | None = None) -> list[int]:
    """Every centre ``user`` belongs to, home centre first (cached for the request)."""
    cache = g.setdefault("staff_centre_ids", {}) if has_request_context() else {}
    if user.id not in cache:
        rows = (session_db or db.session()).scalars(
            select(StaffCentre.centre_id).where(StaffCentre.staff_id == user.id).order_by(StaffCentre.centre_id)).all()
        home = [user.centre_id] if user.centre_id is not None else []
        cache[user.id] = home + [c for c in rows if c not in home]
    return cache[user.id]


def is_awarding_body_admin(user: models.StaffUser) -> bool:
    return "admin" in user.role_set and not centre_ids(user)


def current_centre_id(user: models.StaffUser | None) -> int | None:
    """The centre ``user`` is working in now; None for an awarding-body administrator."""
    if user is None:
        return None
    mine = centre_ids(user)
    chosen = session.get(SESSION_KEY) if has_request_context() else None
    if chosen in mine:
        return chosen
    return mine[0] if mine else None


def centres(user: models.StaffUser) -> list[models.Centre]:
    ids = centre_ids(user)
    found = {c.id: c for c in db.session().scalars(select(models.Centre).where(models.Centre.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def members_query(centre_id: int):
    """A select of the staff who belong to the centre (home centre or membership)."""
    member_ids = select(StaffCentre.staff_id).where(StaffCentre.centre_id == centre_id)
    return select(models.StaffUser).where(
        (models.StaffUser.centre_id == centre_id) | models.StaffUser.id.in_(member_ids))


def is_member(user: models.StaffUser, centre_id: int) -> bool:
    return centre_id in centre_ids(user)


def set_centres(session_db: Session, user: models.StaffUser, wanted: list[models.Centre]) -> None:
    """Make ``wanted`` the member's centres (in one transaction, by the caller); the first is
    the home centre unless the present home centre is still among them."""
    ids = list(dict.fromkeys(c.id for c in wanted))
    session_db.execute(delete(StaffCentre).where(StaffCentre.staff_id == user.id))
    session_db.add_all(StaffCentre(staff_id=user.id, centre_id=i) for i in ids)
    if user.centre_id not in ids:
        user.centre_id = ids[0] if ids else None
    if has_request_context():
        g.setdefault("staff_centre_ids", {}).pop(user.id, None)
        g.pop("header_centres", None)


# --- choosing the centre to work in ----------------------------------------------------------------------


@bp.post("/centre")
@auth.staff_required()
def choose():
    """Work in another of one's centres; the page one came from reloads in that centre."""
    user = auth.current_staff()
    chosen = request.form.get("centre_id", type=int)
    if chosen is None or not is_member(user, chosen):
        abort(404)
    previous = current_centre_id(user)
    session[SESSION_KEY] = chosen
    if chosen != previous:
        session_db = db.session()
        with db.writing(session_db):
            audit.record(session_db, auth.staff_actor(user), "staff.working_centre", f"centre:{chosen}",
                         clock.now(session_db), detail={"from": previous, "to": chosen})
    # Pages addressed by the old centre would now be 404s: go to the chosen centre's home.
    if user.has_role("exams_officer"):
        return redirect(url_for("centre_admin.home", centre_id=chosen), code=303)
    return redirect(url_for("staff.home"), code=303)


def header_centres() -> dict:
    """The working centre and the others one could switch to, for the staff header. Called by
    the templates that show them, not for every page: a context processor read the centres for
    every render, the register's 5-second partial among them. Once per request."""
    if "staff_id" not in session:
        return {}
    if "header_centres" not in g:
        user = auth.current_staff()
        mine = centres(user) if user is not None else []
        current = current_centre_id(user)
        g.header_centres = {"working_centre": next((c for c in mine if c.id == current), None),
                            "other_centres": [c for c in mine if c.id != current]}
    return g.header_centres


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["header_centres"] = header_centres
