"""Display tools on every page: text size, line spacing, colour scheme / overlay, read aloud.

A candidate's access arrangements switch on what they need without asking (a colour scheme,
enlarged text, a computer reader); the candidate can change any of it, and the choice is kept
in the signed session for that attempt, so a reload or the next question keeps it. Signing in
to another attempt (or a new workstation) starts again from the arrangements on the record, so
nothing a candidate needs depends on this browser.

The choice is applied as classes on ``<html>`` (the CSP forbids inline styles), rendered by the
server, so the page is right before any script runs; ``onscreen.js`` applies a change at once
and posts it here in the background. Without script the form is a plain POST.
"""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, g, redirect, request, session, url_for
from sqlalchemy.exc import SQLAlchemyError

from engine import auth, db, models
from engine.access_arrangements import COLOUR_SCHEMES

bp = Blueprint("display", __name__)

TEXT_SIZES = ("100", "125", "150", "200")
LINE_SPACINGS = ("normal", "wide", "wider")
SCHEMES = ("default", *COLOUR_SCHEMES)
SCHEME_LABELS = {"default": "Standard (black on white)", "cream": "Cream", "blue": "Blue", "yellow": "Yellow",
                 "pink": "Pink", "high_contrast": "High contrast (white on black)"}
TEXT_SIZE_LABELS = {"100": "Standard", "125": "Large", "150": "Larger", "200": "Largest"}
SPACING_LABELS = {"normal": "Standard", "wide": "Wide", "wider": "Widest"}
ENLARGED_TEXT_SIZE = "150"
_KEY = "display"


def _owner() -> str:
    """Whose choice this is: the signed-in attempt, or this browser outside any attempt."""
    claim = auth.current_attempt_id()
    return f"attempt:{claim[0]}" if claim and claim[0] else "browser"


def _attempt() -> models.Attempt | None:
    claim = auth.current_attempt_id()
    if not claim or not claim[0]:
        return None
    try:
        attempt = db.session().get(models.Attempt, claim[0])
    except SQLAlchemyError:
        return None  # the error page must still render while the database is unwell
    return attempt if attempt is not None and attempt.session_generation == claim[1] else None


def read_aloud_allowed(attempt: models.Attempt | None) -> bool:
    """Read aloud is offered unless the test forbids it (``ONSCREEN_READ_ALOUD_FORBIDDEN`` lists
    specification codes, e.g. a test of reading where a computer reader is not allowed)."""
    if attempt is None:
        return True
    forbidden = current_app.config.get("READ_ALOUD_FORBIDDEN") or ()
    return attempt.entry.sitting.specification.code not in forbidden


def from_arrangements(arrangements: dict | None) -> dict:
    """What the candidate's record switches on before they choose anything."""
    arrangements = arrangements or {}
    scheme = arrangements.get("colour_scheme")
    return {
        "text_size": ENLARGED_TEXT_SIZE if arrangements.get("enlarged_text") else "100",
        "line_spacing": "normal",
        "colour_scheme": scheme if scheme in SCHEMES else "default",
        "read_aloud": bool(arrangements.get("computer_reader")),
    }


def current() -> dict:
    """The display settings for this request (cached on ``g``)."""
    if "display" in g:
        return g.display
    attempt = _attempt()
    settings = from_arrangements(attempt.entry.candidate.access_arrangements if attempt else None)
    stored = session.get(_KEY)
    if isinstance(stored, dict) and stored.get("for") == _owner():
        settings.update({k: v for k, v in stored.items() if k in settings})
    settings["read_aloud_allowed"] = read_aloud_allowed(attempt)
    if not settings["read_aloud_allowed"]:
        settings["read_aloud"] = False
    g.display = settings
    return settings


def html_classes(settings: dict | None = None) -> str:
    settings = settings or current()
    classes = [f"text-{settings['text_size']}", f"spacing-{settings['line_spacing']}",
               f"scheme-{settings['colour_scheme'].replace('_', '-')}"]
    if settings["read_aloud"]:
        classes.append("reader-on")
    return " ".join(classes)


def parse(form) -> tuple[dict, list[str]]:
    """The posted choice, checked field by field; unknown values are named, never stored."""
    choice, problems = {}, []
    for field, allowed in (("text_size", TEXT_SIZES), ("line_spacing", LINE_SPACINGS), ("colour_scheme", SCHEMES)):
        value = (form.get(field) or "").strip()
        if value in allowed:
            choice[field] = value
        elif value:
            problems.append(f"{field}: {value!r} is not one of {', '.join(allowed)}.")
    if "read_aloud_shown" in form:  # the checkbox was on the form: absent means unticked
        choice["read_aloud"] = form.get("read_aloud") == "on"
    return choice, problems


@bp.post("/display")
def save():
    """Remember the choice for this attempt (or this browser); a plain POST goes back."""
    choice, problems = parse(request.form)
    if problems:
        return {"problems": problems}, 400
    if request.form.get("reset") == "1":
        session.pop(_KEY, None)
    else:
        stored = session.get(_KEY)
        if not isinstance(stored, dict) or stored.get("for") != _owner():
            stored = {"for": _owner()}
        session[_KEY] = {**stored, **choice}
    if request.headers.get("HX-Request"):
        return "", 204
    from engine.security import local_path  # tabs and backslashes too (engine/security.py)
    return redirect(local_path(request.form.get("next"), url_for("candidate.index")), code=303)


def _context() -> dict:
    return {"display": current, "display_classes": html_classes,
            "display_options": {"text_size": TEXT_SIZE_LABELS, "line_spacing": SPACING_LABELS,
                                "colour_scheme": SCHEME_LABELS}}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.context_processor(_context)
