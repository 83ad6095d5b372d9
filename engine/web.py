"""Small helpers shared by the blueprints: htmx awareness, rendering, form fields.

htmx-flask is small and old, so it stays behind this module and can be swapped.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Response, make_response, redirect, render_template, request
from htmx_flask import Htmx

htmx_extension = Htmx()


def is_htmx() -> bool:
    return bool(getattr(request, "htmx", False))


def render(template: str, status: int = 200, **context) -> Response:
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def hx_redirect(url: str) -> Response:
    """Send the browser to ``url``: a header for htmx, a 303 for a plain form post."""
    if is_htmx():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url
        response.vary.add("HX-Request")
        return response
    return redirect(url, code=303)


def local_time(moment: dt.datetime | None, timezone: str, fmt: str = "%H:%M:%S") -> str:
    """Format a naive-UTC time in the centre's time zone."""
    if moment is None:
        return ""
    return moment.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone)).strftime(fmt)


def item_fields(prefix: str) -> dict[str, list[str]]:
    """The posted fields that belong to the item, with the engine's prefix removed."""
    return {key[len(prefix):]: request.form.getlist(key) for key in request.form if key.startswith(prefix)}


def client_address() -> str:
    return request.remote_addr or "unknown"


def format_marks(value) -> str:
    """Marks as a person writes them: 30, 1.5 (never 3E+1 or 30.00)."""
    from decimal import Decimal
    if value is None:
        return ""
    return f"{Decimal(str(value)).normalize():f}"
