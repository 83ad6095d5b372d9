"""Error pages a person can act on; never a traceback."""
from __future__ import annotations

from flask import Flask, g, make_response
from markupsafe import escape
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from engine.web import is_htmx, render
from engine.write_turn import Busy

MESSAGES = {
    400: "Something in that request was not right.",
    403: "Your account cannot do that.",
    404: "That page does not exist, or you cannot see it.",
    405: "That action is not available here.",
    409: "That cannot be done now.",
    429: "Too many requests. Wait a moment and try again.",
    500: "Something went wrong on the server. Your saved answers are safe. Try again in a moment.",
    503: "The server could not reach its database just now, so this did not go through. "
         "Answers shown as saved are safe; an unsaved answer is sent again automatically.",
}


def database_unavailable(error: Exception) -> bool:
    """A lost or refused database connection (a restart, a failover, a terminated backend):
    the request did nothing, so the client may simply send it again (saves carry their key)."""
    if isinstance(error, (OperationalError, InterfaceError, PoolTimeout, Busy)):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def _drop_request_session() -> None:
    failed = g.pop("db_session", None)
    if failed is not None:
        try:
            failed.close()
        except Exception:  # the connection is already gone; nothing to release
            pass


def _unavailable_page(template: str):
    """The 503 page. The failed session is dropped first; if the page itself needs the
    database (the candidate's display settings) and it is still gone, a plain page says the same."""
    _drop_request_session()
    try:
        return render(template, status=503, code=503, message=MESSAGES[503])
    except Exception:
        _drop_request_session()
        return make_response(f'<!doctype html><title>Not saved yet</title><div class="notice notice-error" '
                             f'role="alert">{escape(MESSAGES[503])}</div>', 503)


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code and 300 <= error.code < 400:
            return error
        message = error.description if error.code in (400, 409) and error.description else MESSAGES.get(error.code, error.name)
        template = "_error_fragment.html" if is_htmx() else "error.html"
        return render(template, status=error.code or 500, code=error.code, message=message)

    @app.errorhandler(Exception)
    def server_error(error: Exception):
        template = "_error_fragment.html" if is_htmx() else "error.html"
        if database_unavailable(error):
            # 503, not 500: the autosave script sends the save again with the same key.
            app.logger.warning("database unavailable: %s", error.__class__.__name__)
            response = _unavailable_page(template)
            response.headers["Retry-After"] = "3"
            return response
        app.logger.exception("unhandled error")
        return render(template, status=500, code=500, message=MESSAGES[500])
