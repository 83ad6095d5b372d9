"""Running behind a reverse proxy: whose address a request comes from.

Behind nginx (or any proxy terminating TLS) every request arrives from the proxy's address.
Sign-in limits count failures per address and locks may check a centre's network ranges, so
the app must see the candidate's own address, taken from ``X-Forwarded-For``, but only from as
many proxies as ``ONSCREEN_PROXY_HOPS`` says are ours: trusting the header without a proxy
that sets it would let anyone choose their address.
"""
from __future__ import annotations

from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix


def healthz():
    """For the load balancer: 200 {"status": "ok"} when the database answers, otherwise 503 with
    a small JSON body (never the HTML error page), so a server that lost its database is taken
    out of the pool instead of sending candidates error pages."""
    from engine import db
    try:
        db.session().execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError):
        try:
            db.session().rollback()
        except SQLAlchemyError:
            pass
        return {"status": "unavailable", "database": "error"}, 503, {"Retry-After": "5"}
    return {"status": "ok"}, 200


def init_app(app: Flask) -> None:
    hops = app.config.get("PROXY_HOPS", 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
