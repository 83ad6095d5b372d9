"""Rate limiting of failed sign-ins, in the database so every app server shares the count.

Only failures are counted: a room of candidates signing in together is never slowed, while
guessing a keycode or password is stopped after a few tries per address and per identity.
"""
from __future__ import annotations

import datetime as dt
import ipaddress

from flask import current_app
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from engine import models

SCOPE_LENGTH = models.SignInFailure.__table__.c.scope.type.length


def _fit(scopes: list[str]) -> list[str]:
    """Scopes carry what was typed: cut to the column's size, or a huge username would fail the write."""
    return [scope[:SCOPE_LENGTH] for scope in scopes]


#: Built once (its cache key is kept): every sign-in asks it, a whole room within a minute.
_MOST_RECENT_FAILURES = (
    select(func.count()).select_from(models.SignInFailure)
    .where(models.SignInFailure.scope.in_(bindparam("scopes", expanding=True)),
           models.SignInFailure.at > bindparam("since"))
    .group_by(models.SignInFailure.scope).order_by(func.count().desc()).limit(1))


def recent_failures(db: Session, scopes: list[str], now: dt.datetime) -> int:
    """The most failures any of the scopes has within the window."""
    window = dt.timedelta(seconds=current_app.config["SIGN_IN_WINDOW_SECONDS"])
    count = db.scalar(_MOST_RECENT_FAILURES, {"scopes": _fit(scopes), "since": now - window})
    return count or 0


def blocked(db: Session, scopes: list[str], now: dt.datetime) -> bool:
    return too_many(recent_failures(db, scopes, now))


def too_many(failures: int) -> bool:
    return failures >= current_app.config["SIGN_IN_MAX_FAILURES"]


def record_failure(db: Session, scopes: list[str], now: dt.datetime) -> None:
    db.add_all(models.SignInFailure(scope=scope, at=now) for scope in _fit(scopes))


def clear(db: Session, scopes: list[str]) -> None:
    db.execute(delete(models.SignInFailure).where(models.SignInFailure.scope.in_(_fit(scopes))))


def prune(db: Session, now: dt.datetime) -> int:
    window = dt.timedelta(seconds=current_app.config["SIGN_IN_WINDOW_SECONDS"])
    return db.execute(delete(models.SignInFailure).where(models.SignInFailure.at < now - window)).rowcount


# --- candidates' sign-in: whose failures lock whom ------------------------------------------------------


def _on_centre_network(centre: models.Centre | None, address: str) -> bool:
    if centre is None or not centre.network_ranges:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip
    for text in centre.network_ranges:
        try:
            network = ipaddress.ip_network(str(text), strict=False)
        except ValueError:
            continue
        if ip.version == network.version and ip in network:
            return True
    return False


def candidate_scopes(db: Session, centre_number: str, candidate_number: str, address: str,
                     centre: models.Centre | None = None) -> list[str]:
    """The failure counters a candidate's sign-in is checked against and adds to.

    Without recorded networks: the address and the candidate (as before). When the centre has
    recorded its exam-room networks, guesses from outside them count against the address and
    an *outside* counter for the candidate, so nobody on the internet, from however many
    addresses, can lock a candidate out of the room; sign-ins from inside count only against the
    candidate (a room behind one NAT address is not locked as a whole by a few typing slips).
    """
    identity = f"candidate:{centre_number}:{candidate_number}"
    if centre is None and centre_number:  # the caller had none to hand: a sign-in that matched nothing
        centre = db.scalar(select(models.Centre).where(models.Centre.number == centre_number))
    if centre is None or not centre.network_ranges:
        return [f"ip:{address}", identity]
    if _on_centre_network(centre, address):
        return [identity]
    return [f"ip:{address}", f"{identity}:outside"]
