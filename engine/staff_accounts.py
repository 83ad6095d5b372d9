"""Staff accounts: who may create whom, with which roles, and how passwords are kept.

Passwords are stored only as slow hashes (``PASSWORD_HASH_METHOD``, scrypt by default). An
exams officer manages the accounts of their own centre and may grant only the centre's roles;
an administrator may grant any role. Nobody can lock themselves out (deactivate their own
account or take away their own power to manage accounts).
"""
from __future__ import annotations

import datetime as dt
import re

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from engine import audit, auth, models, staff_centres
from engine.access_arrangements import Problem

#: Roles an exams officer may give to staff at their centre.
CENTRE_ROLES = ("exams_officer", "invigilator", "marker")
ROLE_LABELS = {
    "admin": "administrator (everything)", "exams_officer": "exams officer", "invigilator": "invigilator",
    "item_writer": "item writer", "reviewer": "reviewer", "marker": "marker",
}
MIN_PASSWORD = 12


def grantable_roles(user: models.StaffUser | None) -> tuple[str, ...]:
    """``None`` is the operator at the command line, who may grant anything."""
    return models.StaffUser.ROLES if user is None or "admin" in user.role_set else CENTRE_ROLES


def can_manage(user: models.StaffUser, target: models.StaffUser) -> bool:
    """Whether ``user`` may change ``target``'s account (centres are checked by the caller)."""
    return target.role_set <= set(grantable_roles(user))


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def password_problem(password: str, username: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"must be at least {MIN_PASSWORD} characters (a short phrase is easy to remember)."
    if password.strip().lower() == username.strip().lower():
        return "must not be the username."
    return None


def _roles_problem(by: models.StaffUser | None, roles: list[str]) -> Problem | None:
    if not roles:
        return Problem("roles", "choose at least one role.")
    unknown = [r for r in roles if r not in models.StaffUser.ROLES]
    if unknown:
        return Problem("roles", f"unknown role {unknown[0]!r}.")
    refused = [r for r in roles if r not in grantable_roles(by)]
    if refused:
        return Problem("roles", f"your account cannot give the role {ROLE_LABELS[refused[0]]}.")
    return None


def create(db: Session, *, by: models.StaffUser | None, centre: models.Centre | None, username: str, display_name: str,
           roles: list[str], password: str, now: dt.datetime,
           also: tuple[models.Centre, ...] = ()) -> tuple[models.StaffUser | None, list[Problem]]:
    """Make an account at ``centre`` (its home centre), also working for the centres in ``also``."""
    username, display_name = username.strip(), " ".join(display_name.split())
    problems = []
    if not re.fullmatch(r"[A-Za-z0-9._-]{3,80}", username):
        problems.append(Problem("username", "use 3 to 80 letters, digits, dots, hyphens or underscores."))
    elif db.scalar(select(func.count()).select_from(models.StaffUser)
                   .where(func.lower(models.StaffUser.username) == username.lower())):
        problems.append(Problem("username", f"{username!r} is already taken."))
    if not display_name or len(display_name) > 200:
        problems.append(Problem("display_name", "enter the person's name (at most 200 characters)."))
    problem = _roles_problem(by, roles)
    problems += [problem] if problem else []
    message = password_problem(password, username)
    problems += [Problem("password", message)] if message else []
    if problems:
        return None, problems
    user = models.StaffUser(centre_id=centre.id if centre else None, username=username, display_name=display_name,
                            roles=",".join(r for r in models.StaffUser.ROLES if r in roles),
                            password_hash=hash_password(password), active=True)
    db.add(user)
    db.flush()
    member_of = [c for c in (centre, *also) if c is not None]
    if member_of:
        staff_centres.set_centres(db, user, member_of)
    audit.record(db, auth.staff_actor(by) if by else "cli", "staff.create", f"staff:{user.id}", now,
                 detail={"username": username, "roles": user.roles, "centre": centre.number if centre else None,
                         "centres": sorted({c.number for c in member_of})})
    return user, []


def change_centres(db: Session, *, by: models.StaffUser | None, target: models.StaffUser,
                   centres: list[models.Centre], now: dt.datetime) -> None:
    """Set the centres ``target`` works for (the awarding body's decision; ``by`` is None at the
    command line). The caller has checked that ``centres`` is not empty."""
    before = sorted(c.number for c in db.scalars(select(models.Centre).where(
        models.Centre.id.in_(staff_centres.centre_ids(target, db)))))
    staff_centres.set_centres(db, target, centres)
    after = sorted({c.number for c in centres})
    if before != after:
        audit.record(db, auth.staff_actor(by) if by else "cli", "staff.centres", f"staff:{target.id}", now,
                     detail={"centres": [before, after]})


def update(db: Session, *, by: models.StaffUser, target: models.StaffUser, display_name: str, roles: list[str],
           active: bool, new_password: str, now: dt.datetime) -> list[Problem]:
    display_name = " ".join(display_name.split())
    problems = []
    if not display_name or len(display_name) > 200:
        problems.append(Problem("display_name", "enter the person's name (at most 200 characters)."))
    problem = _roles_problem(by, roles)
    problems += [problem] if problem else []
    if target.id == by.id:
        if not active:
            problems.append(Problem("active", "you cannot deactivate your own account."))
        if not ({"admin", "exams_officer"} & set(roles)) or ("admin" in by.role_set and "admin" not in roles):
            problems.append(Problem("roles", "you cannot take away your own power to manage accounts."))
    if new_password:
        message = password_problem(new_password, target.username)
        problems += [Problem("password", message)] if message else []
    if problems:
        return problems
    before = {"display_name": target.display_name, "roles": target.roles, "active": target.active}
    target.display_name, target.active = display_name, active
    target.roles = ",".join(r for r in models.StaffUser.ROLES if r in roles)
    after = {"display_name": target.display_name, "roles": target.roles, "active": target.active}
    changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if new_password:
        target.password_hash = hash_password(new_password)
        changed["password"] = "reset"
    if changed:
        audit.record(db, auth.staff_actor(by), "staff.update", f"staff:{target.id}", now, detail=changed)
    return []
