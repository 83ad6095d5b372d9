"""Security defaults, in one place: headers, CSRF, and cheap constant-time secret checks.

CSRF: a random token kept in the (signed) session and compared in constant time on every
state-changing request, from the form field or the ``X-CSRFToken`` header htmx sends. It
lives as long as the session, so it cannot expire in the middle of a long sitting (the
3600 s default of Flask-WTF would fail a 45-minute test with 50 % extra time and a break).
"""
from __future__ import annotations

import hmac
import secrets

from flask import Flask, abort, request, session

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRFToken"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
#: On every answer unless a page set its own (engine/quiet_polls.py sends them too).
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _check_csrf() -> None:
    if request.method in SAFE_METHODS or request.endpoint == "static":
        return
    expected = session.get("csrf")
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not expected or not hmac.compare_digest(str(expected), str(sent)):
        abort(400, description="This form has expired or did not come from this site. Go back, reload the page and try again.")


def _headers(response):
    headers = response.headers
    for name, value in HEADERS.items():
        headers.setdefault(name, value)
    # Assets are named by their content hash (engine/assets.py) and set their own long cache.
    if request.endpoint not in ("static", "assets.serve"):
        # Answers, keycodes and results must never sit in a shared or back-button cache.
        headers["Cache-Control"] = "no-store"
    if "HX-Request" in request.headers or response.vary:
        response.vary.add("HX-Request")
    return response


def local_path(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default``: for "next" addresses, so a link
    cannot send someone to another site after they sign in. Browsers read ``/\\evil`` as
    ``//evil`` and drop tabs and newlines (``/<TAB>/evil``), so those are refused as well."""
    target = target or ""
    if not target.startswith("/") or target.startswith("//") or "\\" in target \
            or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return default
    return target


def secrets_match(typed: str, expected: str) -> bool:
    """Constant-time comparison for keycodes and tokens (no slow hashing on the login storm)."""
    return hmac.compare_digest(typed.encode(), expected.encode())


def init_app(app: Flask) -> None:
    app.before_request(_check_csrf)
    app.after_request(_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
