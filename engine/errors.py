"""Error pages a person can act on; never a traceback."""
from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import HTTPException

from engine.web import is_htmx, render

MESSAGES = {
    400: "Something in that request was not right.",
    403: "Your account cannot do that.",
    404: "That page does not exist, or you cannot see it.",
    405: "That action is not available here.",
    409: "That cannot be done now.",
    429: "Too many requests. Wait a moment and try again.",
    500: "Something went wrong on the server. Your saved answers are safe. Try again in a moment.",
}


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
        app.logger.exception("unhandled error")
        template = "_error_fragment.html" if is_htmx() else "error.html"
        return render(template, status=500, code=500, message=MESSAGES[500])
