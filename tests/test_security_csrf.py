"""CSRF: every state-changing route refuses a missing, wrong, foreign or misplaced token.

The routes come from ``app.url_map`` and are filled with ids the principal could really act on
(the demo centre's sitting, attempt, candidate...), so the refusal is the CSRF check and not a
404 on a made-up address (the older test in test_security.py only fills three argument names).
Each is tried by nobody, a candidate in the test, the centre's administrator and an awarding-body
administrator, with: no token, a wrong token, another browser's valid token, and the right token
sent only in the query string. Every one must be a 400 with the CSRF message and change nothing.
A positive control sends the right token and must get past the check on every route.
"""
from __future__ import annotations

from centres_support import add_staff, staff_browser
from security_support import (
    PASSWORD, Anonymous, build_world, changed_tables, fill, record_figure, rules, snapshot,
)

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
REFUSAL = b"expired or did not come from this site"


def _principals(app, world, attacker):
    add_staff(app, None, "awarding_admin", PASSWORD, "admin")
    return [("nobody", Anonymous(app)), ("candidate", attacker),
            ("centre administrator", staff_browser(app, "admin", "admin-demo")),
            ("awarding-body administrator", staff_browser(app, "awarding_admin", PASSWORD))]


def _body():
    """Fields a form would carry, without the token."""
    return {"confirm": "yes", "reason": "csrf test", "flagged": "1", "idem": "csrf-test", "minutes": "5"}


def test_every_state_change_refuses_bad_tokens(app, demo, invigilator, candidate_factory):
    world, _victim, attacker = build_world(app, demo, invigilator, candidate_factory)
    principals = _principals(app, world, attacker)
    foreign_token = Anonymous(app).csrf  # valid, but for another browser's session
    before = snapshot(app)
    tried, accepted, routes = 0, [], set()
    for label, browser in principals:
        for rule, method in rules(app, methods=STATE_CHANGING):
            routes.add((rule.rule, method))
            for path in fill(rule, world.victim, every_string=False):
                variants = {
                    "missing": (path, {}, {}),
                    "wrong": (path, {"csrf_token": "x" * 43}, {"X-CSRFToken": "y" * 43}),
                    "another session's": (path, {"csrf_token": foreign_token}, {}),
                    "query string only": (f"{path}?csrf_token={browser.csrf}", {}, {}),
                    "empty": (path, {"csrf_token": ""}, {"X-CSRFToken": ""}),
                }
                for variant, (url, token, headers) in variants.items():
                    response = browser.client.open(url, method=method, data={**_body(), **token},
                                                   headers=headers)
                    tried += 1
                    if response.status_code != 400 or REFUSAL not in response.data:
                        accepted.append((label, variant, method, url, response.status_code))
    changed = changed_tables(before, snapshot(app))
    record_figure("csrf", state_changing_routes=len(routes), requests=tried, accepted=len(accepted),
                  tables_changed=len(changed))
    assert len(routes) >= 15, routes
    assert accepted == [], f"{len(accepted)} of {tried} requests got past the CSRF check: {accepted[:20]}"
    assert changed == [], f"refused requests changed {changed}"


def test_the_right_token_gets_past_the_check_on_every_route(app, demo, invigilator, candidate_factory):
    """The positive control: the same requests with the session's token are not CSRF refusals."""
    world, _victim, attacker = build_world(app, demo, invigilator, candidate_factory)
    admin = staff_browser(app, "admin", "admin-demo")
    checked, refused = 0, []
    for rule, method in rules(app, methods=STATE_CHANGING):
        if rule.endpoint in ("staff.logout", "candidate.sign_out"):
            continue  # would end the browser's session for the routes after it
        browser = attacker if rule.endpoint.startswith("candidate") else admin
        path = fill(rule, world.victim, every_string=False)[0]
        for how in ("form", "header"):
            data = _body() | ({"csrf_token": browser.csrf} if how == "form" else {})
            headers = {"X-CSRFToken": browser.csrf} if how == "header" else {}
            response = browser.client.open(path, method=method, data=data, headers=headers)
            checked += 1
            if REFUSAL in response.data:
                refused.append((how, method, path))
    assert checked >= 30
    assert refused == [], refused
