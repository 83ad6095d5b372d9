"""Rate limiting of failed sign-ins, in the database so every app server shares the count.

Only failures are counted: a room of candidates signing in together is never slowed, while
guessing a keycode or password is stopped after a few tries per address and per identity.
"""
from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine import models


def blocked(db: Session, scopes: list[str], now: dt.datetime) -> bool:
    window = dt.timedelta(seconds=current_app.config["SIGN_IN_WINDOW_SECONDS"])
    count = db.scalar(select(func.count()).select_from(models.SignInFailure).where(
        models.SignInFailure.scope.in_(scopes), models.SignInFailure.at > now - window
    ).group_by(models.SignInFailure.scope).order_by(func.count().desc()).limit(1))
    return (count or 0) >= current_app.config["SIGN_IN_MAX_FAILURES"]


def record_failure(db: Session, scopes: list[str], now: dt.datetime) -> None:
    db.add_all(models.SignInFailure(scope=scope, at=now) for scope in scopes)


def clear(db: Session, scopes: list[str]) -> None:
    db.execute(delete(models.SignInFailure).where(models.SignInFailure.scope.in_(scopes)))


def prune(db: Session, now: dt.datetime) -> int:
    window = dt.timedelta(seconds=current_app.config["SIGN_IN_WINDOW_SECONDS"])
    return db.execute(delete(models.SignInFailure).where(models.SignInFailure.at < now - window)).rowcount
