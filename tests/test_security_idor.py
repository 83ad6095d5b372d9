"""IDOR matrix: every route that takes an id, filled with a victim candidate's ids (their attempt,
form items, item versions, sitting, result, candidate record, centre), tried with every method by
people who must not reach them. The count of accepted requests must be 0.

Principals: nobody signed in; another candidate in the same sitting (the nearest attacker: same
room, same test); centre B's staff holding every role, as a centre administrator and with every
other role; and a member of both centres working in B. (tests/test_centres_isolation.py holds the
staff side to the same standard in more depth, with a positive control.)

"Accepted" means any of: a 2xx answer, a redirect anywhere but a sign-in page, the victim's data
in the body, or any row changed. A refusal is 401/403/404, a redirect to sign in, or a 4xx that is
the same as for ids that exist nowhere (so it tells the attacker nothing).
"""
from __future__ import annotations

from engine import models

from security_support import (
    ID_SOURCES, Anonymous, arguments, b_staff, build_world, changed_tables, fill, record_figure, rules, snapshot,
    takes_ids,
)

ALL_ROLES = ",".join(models.StaffUser.ROLES)
EVERY_OTHER_ROLE = ",".join(r for r in models.StaffUser.ROLES if r != "admin")
SIGN_IN_PAGES = ("/staff/login", "/start")
#: Ids of the awarding body's item bank (not a centre's data): see ``_attack``.
BANK_IDS = {"item_id", "version_id", "item_version_id", "unit_id", "specification_id"}


def _attack_data(browser, ids):
    """A plausible body for any form, naming the victim's ids wherever a form takes one."""
    data = {"csrf_token": browser.csrf, "confirm": "yes", "reason": "idor", "first_name": "Mallory",
            "last_name": "Mallory", "display_name": "Mallory", "roles": "admin", "active": "yes", "name": "Mallory",
            "password": "mallory-password-123", "title": "Mallory", "room": "Mallory", "minutes": "30",
            "seconds": "600", "category": "other", "description": "Mallory", "marks": "99", "comment": "Mallory",
            "flagged": "1", "idem": "idor-test"}
    for name in ID_SOURCES:
        if name.endswith("_id"):
            data[name] = str(ids[name]) if name in ids else "1"
            data[name[:-3]] = data[name]
            data[name[:-3] + "s"] = data[name]
    return data


def _refused(browser, rule, method, data, response, ids) -> bool:
    status = response.status_code
    if status in (401, 403, 404):
        return True
    if status in (301, 302, 303, 307, 308):
        return response.headers.get("Location", "").split("?")[0].endswith(SIGN_IN_PAGES)
    if 400 <= status < 500:
        nowhere = {name: 999999 for name in ids}
        control_path = fill(rule, nowhere, every_string=False)[0]
        control = browser.client.open(control_path, method=method, data=data, headers={"X-CSRFToken": browser.csrf})
        return control.status_code == status
    return False


def _attack(app, world, browser, label, counts, accepted, errors):
    before = snapshot(app)
    staff = label.startswith(("centre", "member"))
    for rule, method in rules(app):
        if not takes_ids(rule):
            continue
        names = {name for _c, name in arguments(rule)}
        if names <= {"position"}:
            # A position counts within the browser's own form (a candidate's attempt, or the public
            # practice test): the session says whose, so it is not a foreign id.
            continue
        bank_only = names - {"position"} <= BANK_IDS
        if staff and bank_only and method != "GET":
            # The item bank belongs to the awarding body, not to a centre: staff reach it by role
            # (item writer, reviewer), so changing it is not a cross-centre attack. Reading it is
            # still checked below for the victim's data.
            continue
        for path in fill(rule, world.victim):
            data = _attack_data(browser, world.victim) if method != "GET" else None
            response = browser.client.open(path, method=method, data=data, headers={"X-CSRFToken": browser.csrf})
            counts[label] = counts.get(label, 0) + 1
            body = response.get_data(as_text=True)
            shown = [m for m in world.markers if m in body]
            if response.status_code >= 500:
                errors.append((label, method, path, response.status_code))
            elif shown or not (staff and bank_only or _refused(browser, rule, method, data, response, world.victim)):
                accepted.append((label, method, path, response.status_code, shown))
    changed = changed_tables(before, snapshot(app))
    if changed:
        accepted.append((label, "*", "*", "rows changed", changed))


def test_idor_matrix_every_id_route_refuses_everyone_but_the_owner(app, demo, invigilator, candidate_factory):
    world, _victim, attacker = build_world(app, demo, invigilator, candidate_factory)
    principals = [
        ("nobody", Anonymous(app)),
        ("candidate in the same sitting", attacker),
        ("centre B administrator", b_staff(app, world, "admin", "b_admin")),
        ("centre B staff, every other role", b_staff(app, world, EVERY_OTHER_ROLE, "b_roles")),
        ("member of A and B working in B", b_staff(app, world, ALL_ROLES, "b_and_a", also_in_a=True)),
    ]
    counts: dict[str, int] = {}
    accepted: list = []
    errors: list = []
    for label, browser in principals:
        _attack(app, world, browser, label, counts, accepted, errors)
    id_routes = sorted({rule.rule for rule, _m in rules(app) if takes_ids(rule)})
    record_figure("idor", routes_with_ids=len(id_routes), requests=sum(counts.values()), by_principal=counts,
                  accepted=len(accepted), server_errors=len(errors))
    assert len(id_routes) >= 20, id_routes
    assert accepted == [], f"{len(accepted)} of {sum(counts.values())} requests accepted: {accepted[:20]}"
    assert errors == [], f"{len(errors)} requests answered with a server error: {errors[:20]}"


def test_the_owner_is_accepted_on_the_same_routes(app, demo, invigilator, candidate_factory):
    """The positive control: the victim's own centre reaches the same addresses, so the ids are real."""
    world, _victim, _attacker = build_world(app, demo, invigilator, candidate_factory)
    from centres_support import staff_browser
    admin = staff_browser(app, "admin", "admin-demo")
    reached = 0
    for rule, method in rules(app, methods={"GET"}):
        names = {name for _c, name in arguments(rule)}
        if not takes_ids(rule) or names <= {"position"} or rule.endpoint.startswith("candidate"):
            continue
        path = fill(rule, world.victim, every_string=False)[0]
        response = admin.client.get(path)
        if response.status_code < 400:
            reached += 1
    assert reached >= 10, reached
    candidate_page = admin.client.get(f"/centre/{world.victim['centre_id']}/candidates/{world.victim['candidate_id']}")
    assert world.markers[0] in candidate_page.get_data(as_text=True)
    results = admin.client.get(f"/results/attempts/{world.victim['attempt_id']}").get_data(as_text=True)
    assert world.markers[0] in results
