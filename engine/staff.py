"""Staff sign-in and home page."""
from __future__ import annotations

import functools
import secrets
import time

from flask import Blueprint, redirect, request, session, url_for
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from engine import audit, auth, clock, db, models, ratelimit
from engine.security import local_path
from engine.web import client_address, render

bp = Blueprint("staff", __name__, url_prefix="/staff")

@functools.cache
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so a wrong username costs the same time."""
    return generate_password_hash(secrets.token_hex(16))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render("staff/login.html", error=None, username="")
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    session_db = db.session()
    now = clock.now(session_db)
    scopes = [f"ip:{client_address()}", f"staff:{username.lower()}"]
    if ratelimit.blocked(session_db, scopes, now):
        return render("staff/login.html", status=429, username=username,
                      error="Too many failed sign-ins. Wait a few minutes, or ask an administrator.")
    user = session_db.scalar(select(models.StaffUser).where(models.StaffUser.username == username))
    valid = check_password_hash(user.password_hash if user else _dummy_hash(), password) and user is not None and user.active
    with db.writing(session_db):
        if not valid:
            ratelimit.record_failure(session_db, scopes, now)
        else:
            ratelimit.clear(session_db, scopes[1:])
            audit.record(session_db, auth.staff_actor(user), "staff.sign_in", f"staff:{user.id}", now)
    if not valid:
        return render("staff/login.html", status=400, username=username, error="That username and password do not match.")
    session.clear()
    session["staff_id"], session["staff_seen"] = user.id, int(time.time())
    # Only a path on this site, never an address elsewhere.
    return redirect(local_path(request.args.get("next"), url_for("staff.home")), code=303)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("staff.login"), code=303)


@bp.get("/")
@auth.staff_required()
def home():
    return render("staff/home.html", user=auth.current_staff())
