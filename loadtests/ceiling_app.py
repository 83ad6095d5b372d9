"""The ceiling app: the candidate routes of the common scenario, with responses of the real
sizes and no work behind them (no database, no templates, no sessions).

Served by the same gunicorn settings as onscreen and driven by the same locustfile, its
capacity is what this machine, server and load generator could hold if onscreen cost
nothing; onscreen's capacity divided by it is the figure we track (docs/performance.md).

    gunicorn -c engine/gunicorn_conf.py -b 127.0.0.1:8113 loadtests.ceiling_app:app

Response sizes are onscreen's (measured from a real run's Locust statistics); set
``CEILING_SIZES_FROM`` to a run's ``results.json`` to use another run's.
"""
from __future__ import annotations

import json
import os
import re

#: Average response bytes per endpoint, from a common-scenario run against onscreen on SQLite
#: (loadtests/out/*/summary.txt, column "bytes").
SIZES = {"sign-in page": 4604, "details": 4378, "item": 11390, "save": 335, "done": 4046}
PAGE = ('<!doctype html><html><head><title>Ceiling</title></head><body hx-headers=\'{"X-CSRFToken": "ceiling"}\'>'
        '<main>{body}</main><!--{pad}--></body></html>')
FORM = ('<form method="post"><input type="hidden" name="csrf_token" value="ceiling">{fields}</form>')
ITEM = ('<form id="item-form" method="post"><input type="hidden" name="csrf_token" value="ceiling">'
        '<input type="hidden" name="idem" value="x"><input type="radio" name="r-choice" value="0">'
        '<input type="radio" name="r-choice" value="1"><input type="radio" name="r-choice" value="2"></form>')
SAVED = '<div id="save-status" role="status">Saved 12:00:00</div><!--{pad}-->'
ITEM_PATH = re.compile(r"^/test/item/\d+$")


def _sizes() -> dict:
    source = os.environ.get("CEILING_SIZES_FROM")
    if not source:
        return SIZES
    entries = json.load(open(source, encoding="utf-8"))["entries"]
    return {**SIZES, **{name: entry["avg_bytes"] for name, entry in entries.items() if name in SIZES}}


def _padded(template: str, size: int, **parts) -> bytes:
    body = template.replace("{body}", parts.get("body", "")).replace("{pad}", "")
    return template.replace("{body}", parts.get("body", "")).replace("{pad}", "x" * max(0, size - len(body))).encode()


def _pages(sizes: dict) -> dict:
    return {
        "sign-in page": _padded(PAGE, sizes["sign-in page"], body=FORM.replace("{fields}", "")),
        "details": _padded(PAGE, sizes["details"], body=FORM.replace("{fields}", "")),
        "item": _padded(PAGE, sizes["item"], body=ITEM),
        "save": _padded(SAVED, sizes["save"]),
        "done": _padded(PAGE, sizes["done"], body="<p>Your test has finished</p>"),
    }


PAGES = _pages(_sizes())
HTML = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")]
REDIRECTS = {("POST", "/start"): "/details", ("POST", "/details"): "/test", ("GET", "/test"): "/test/item/1",
             ("POST", "/test/submit"): "/test/done"}


def app(environ, start_response):
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    if method == "POST":
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    target = REDIRECTS.get((method, path))
    if target:
        status = "302 FOUND" if method == "GET" else "303 SEE OTHER"
        start_response(status, [("Location", target), ("Content-Length", "0"),
                                ("Set-Cookie", "onscreen_session=ceiling; HttpOnly; Path=/")])
        return [b""]
    if method == "GET" and path == "/start":
        body = PAGES["sign-in page"]
    elif method == "GET" and path == "/details":
        body = PAGES["details"]
    elif ITEM_PATH.match(path):
        body = PAGES["item"] if method == "GET" else PAGES["save"]
    elif method == "GET" and path == "/test/done":
        body = PAGES["done"]
    else:
        start_response("404 NOT FOUND", [("Content-Length", "0")])
        return [b""]
    start_response("200 OK", [*HTML, ("Content-Length", str(len(body)))])
    return [body]
