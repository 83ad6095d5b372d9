"""No route lets centre B's staff read or change centre A's candidates, sittings, attempts or results.

The test walks every URL rule in the app that takes an id (so a route added later is covered the
moment it exists), fills it with centre A's ids, and tries every method as centre B's staff, both
as a centre-bound administrator and as a member of staff holding every other role. Ids of the
kinds it knows must be refused (403 or 404); no response of any route may show centre A's data;
and no row that belongs to centre A may change. A positive control proves the same addresses
work for centre A's own staff, so the test would fail if the ids were wrong.
"""
from __future__ import annotations

import itertools
import re

import pytest
from sqlalchemy import select

from engine import models
from engine.models import Base

from centres_support import add_centre, add_membership, add_staff, read, staff_browser
from test_sitting_end_to_end import correct_fields, form_of

#: URL argument names that always identify centre data.
SCOPED = {"centre_id", "candidate_id", "sitting_id", "attempt_id", "entry_id", "staff_id"}
ALL_NON_ADMIN_ROLES = ",".join(r for r in models.StaffUser.ROLES if r != "admin")
PASSWORD = "centre-b-password"
A_UCI = "990010260001V"
ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
CENTRE_TABLES = {"centres", "candidates", "staff_users", "sittings", "entries", "attempts"}


def _centre_a(app, demo, invigilator, candidate_factory):
    """Centre A (the demo) with a started sitting, saved answers and one finished, marked attempt."""
    aisha = candidate_factory("0001")
    aisha.sign_in()
    aisha.confirm()
    ben = candidate_factory("0002")
    ben.sign_in()
    ben.confirm()
    invigilator.start(demo["sitting_id"])
    for position, version, state in form_of(app, "0001"):
        assert aisha.answer(position, correct_fields(app, version, state)).status_code == 200
    assert aisha.submit().status_code == 303
    position, version, state = form_of(app, "0002")[0]
    assert ben.answer(position, correct_fields(app, version, state)).status_code == 200

    def ids(session):
        centre = session.scalar(select(models.Centre).where(models.Centre.number == "99001"))
        candidate = session.scalar(select(models.Candidate).where(
            models.Candidate.centre_id == centre.id, models.Candidate.candidate_number == "0001"))
        candidate.uci = A_UCI
        session.commit()
        entry = session.scalar(select(models.Entry).where(models.Entry.candidate_id == candidate.id))
        officer = session.scalar(select(models.StaffUser).where(models.StaffUser.username == "officer"))
        return {"centre_id": centre.id, "candidate_id": candidate.id, "sitting_id": entry.sitting_id,
                "attempt_id": entry.attempt.id, "entry_id": entry.id, "staff_id": officer.id}
    return read(app, ids)


def _centre_data_tables():
    """The tables that hold a centre's data: the centre tables and every table pointing at one."""
    tables = []
    for table in Base.metadata.sorted_tables:
        targets = {fk.column.table.name for fk in table.foreign_keys}
        if table.name in CENTRE_TABLES or targets & CENTRE_TABLES:
            tables.append(table)
    return tables


def _snapshot(app) -> dict[str, list]:
    def rows(session):
        return {table.name: sorted(map(repr, session.execute(select(table)).all())) for table in _centre_data_tables()}
    return read(app, rows)


def _rules_with_ids(app):
    for rule in app.url_map.iter_rules():
        arguments = ARGUMENT.findall(rule.rule)
        if any(converter == "int" for converter, _name in arguments):
            yield rule, arguments


def _addresses(rule, arguments, a_ids: dict[str, int], b_centre_id: int):
    """Addresses for one rule filled with centre A's ids; unknown id names get each of A's ids in turn.
    Where the rule also takes a centre, A's objects are tried under B's own centre too."""
    choices = []
    for converter, name in arguments:
        if name in a_ids:
            values = [a_ids[name]]
            if name == "centre_id" and len([n for _c, n in arguments if n in SCOPED]) > 1:
                values.append(b_centre_id)
        elif converter == "int":
            values = sorted(set(a_ids.values()) | {1})
        else:
            values = ["x"]
        choices.append(values)
    for combination in itertools.product(*choices):
        path = rule.rule
        for (converter, name), value in zip(arguments, combination):
            path = ARGUMENT.sub(lambda m, v=value: str(v), path, count=1)
        yield path


def _same_as_for_nothing(browser, rule, arguments, method, data, response) -> bool:
    """A refusal (4xx) that comes before any lookup, the same as for ids that exist nowhere, tells
    B nothing about A; anything else must be a 403 or 404."""
    if not 400 <= response.status_code < 500:
        return False
    nowhere = {name: 999999 for _c, name in arguments}
    path = next(_addresses(rule, arguments, nowhere, 999999))
    control = browser.client.open(path, method=method, data=data, headers={"X-CSRFToken": browser.csrf})
    return (control.status_code, control.get_data()) == (response.status_code, response.get_data())


def _markers(app, a_ids, demo) -> list[str]:
    def find(session):
        aisha = session.get(models.Candidate, a_ids["candidate_id"])
        centre = session.get(models.Centre, a_ids["centre_id"])
        return [aisha.full_name, f"{aisha.last_name}, {aisha.first_name}", A_UCI, demo["keycode"], centre.name]
    return read(app, find)


def _attack_data(browser, a_ids):
    return {"csrf_token": browser.csrf, "confirm": "yes", "reason": "isolation test", "first_name": "Mallory",
            "last_name": "Mallory", "candidate_number": "0999", "display_name": "Mallory", "roles": "admin",
            "active": "yes", "password": "mallory-password-123", "name": "Mallory", "timezone": "Europe/London",
            "number": "99001", "extra_time_percent": "25", "title": "Mallory", "room": "Mallory",
            "date": "2026-11-24", "start_time": "09:00", "end_time": "11:00", "minutes": "30", "seconds": "600",
            "candidates": str(a_ids["candidate_id"]), "attempt": str(a_ids["attempt_id"]), "category": "other",
            "action": "pause"}


@pytest.mark.parametrize("b_roles,also_in_a", [("admin", False), (ALL_NON_ADMIN_ROLES, False), ("admin", True)],
                         ids=["centre-admin", "every-other-role", "member-of-a-and-b-working-in-b"])
def test_no_route_lets_centre_b_staff_reach_centre_a(app, demo, invigilator, candidate_factory, b_roles, also_in_a):
    """With ``also_in_a`` the attacker is a member of both centres working in B: while working in
    B they must see nothing of A (they switch to A to work there)."""
    a_ids = _centre_a(app, demo, invigilator, candidate_factory)
    b_centre_id = add_centre(app, "99002", "Centre B")
    b_staff = add_staff(app, b_centre_id, "b_staff", PASSWORD, b_roles)
    markers = _markers(app, a_ids, demo)
    if also_in_a:
        add_membership(app, b_staff, a_ids["centre_id"])
        markers.remove(read(app, lambda s: s.get(models.Centre, a_ids["centre_id"]).name))  # offered in the header
    before = _snapshot(app)
    browser = staff_browser(app, "b_staff", PASSWORD)

    tried, leaks, not_refused = 0, [], []
    for rule, arguments in _rules_with_ids(app):
        scoped = any(name in SCOPED for _c, name in arguments)
        for path in _addresses(rule, arguments, a_ids, b_centre_id):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                data = _attack_data(browser, a_ids) if method != "GET" else None
                response = browser.client.open(path, method=method, data=data,
                                               headers={"X-CSRFToken": browser.csrf})
                tried += 1
                body = response.get_data(as_text=True)
                leaks += [(method, path, marker) for marker in markers if marker in body]
                if scoped and response.status_code not in (403, 404) and not _same_as_for_nothing(
                        browser, rule, arguments, method, data, response):
                    not_refused.append((method, path, response.status_code))
    assert tried >= 20, "the app should have many routes that take ids"
    assert leaks == [], f"centre A's data shown to centre B's staff: {leaks}"
    assert not_refused == [], f"routes that did not refuse centre B's staff: {not_refused}"
    assert _snapshot(app) == before, "a request from centre B's staff changed centre A's data"

    # Lists without ids show B's staff nothing of centre A either.
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static":
            body = browser.client.get(rule.rule, follow_redirects=True).get_data(as_text=True)
            assert not [m for m in markers if m in body], (rule.rule, [m for m in markers if m in body])


def test_the_same_addresses_work_for_centre_a_and_an_awarding_body_administrator(app, demo, invigilator,
                                                                                candidate_factory):
    """The positive control: without it the test above could pass with wrong ids."""
    a_ids = _centre_a(app, demo, invigilator, candidate_factory)
    add_staff(app, None, "awarding_admin", PASSWORD, "admin")
    markers = _markers(app, a_ids, demo)
    for username, password in (("admin", "admin-demo"), ("awarding_admin", PASSWORD)):
        browser = staff_browser(app, username, password)
        checked = 0
        for rule, arguments in _rules_with_ids(app):
            names = [name for _c, name in arguments]
            if "GET" not in rule.methods or not names or not set(names) <= SCOPED:
                continue
            path = next(_addresses(rule, arguments, a_ids, a_ids["centre_id"]))
            response = browser.client.get(path)
            assert response.status_code < 400, (username, path, response.status_code)
            checked += 1
        assert checked >= 8
        page = browser.client.get(f"/centre/{a_ids['centre_id']}/candidates/{a_ids['candidate_id']}").get_data(as_text=True)
        assert A_UCI in page
        assert markers[0] in browser.client.get(f"/results/sittings/{a_ids['sitting_id']}").get_data(as_text=True)


def test_centre_b_cannot_smuggle_centre_a_candidates_into_its_own_sitting(app, demo):
    a_candidate = read(app, lambda s: s.scalar(select(models.Candidate.id).where(models.Candidate.candidate_number == "0001")))
    spec_id = read(app, lambda s: s.scalar(select(models.TestSpecification.id).where(models.TestSpecification.code == "unit-2")))
    b_centre_id = add_centre(app, "99002", "Centre B")
    add_staff(app, b_centre_id, "b_officer", PASSWORD, "exams_officer,invigilator")
    browser = staff_browser(app, "b_officer", PASSWORD)
    response = browser.post(f"/centre/{b_centre_id}/sittings", specification=str(spec_id), date="2026-11-24",
                            start_time="09:00", end_time="11:00", room="Hall", candidates=str(a_candidate))
    assert response.status_code == 400
    assert "not at this centre" in response.get_data(as_text=True)
    browser.post("/invigilate/sittings/new", specification=str(spec_id), candidates=str(a_candidate))
    entries = read(app, lambda s: s.scalars(select(models.Entry).join(models.Sitting)
                                            .where(models.Sitting.centre_id == b_centre_id)).all())
    assert entries == []
    # And an exams officer of B cannot edit an A candidate through B's address either.
    response = browser.post(f"/centre/{b_centre_id}/candidates/{a_candidate}", candidate_number="0001",
                            first_name="Mallory", last_name="Mallory")
    assert response.status_code == 404


def _candidate_in(app, centre_id: int, number: str, first: str, last: str) -> int:
    def add(session):
        candidate = models.Candidate(centre_id=centre_id, candidate_number=number, first_name=first, last_name=last)
        session.add(candidate)
        session.commit()
        return candidate.id
    return read(app, add)


def test_a_member_of_two_centres_sees_each_only_while_working_in_it_and_never_a_third(
        app, demo, invigilator, candidate_factory):
    a_ids = _centre_a(app, demo, invigilator, candidate_factory)
    b_centre_id, c_centre_id = add_centre(app, "99002", "Centre B"), add_centre(app, "99003", "Centre C")
    b_candidate = _candidate_in(app, b_centre_id, "0001", "Brenda", "Bexley")
    c_candidate = _candidate_in(app, c_centre_id, "0001", "Cyril", "Cornwall")
    officer = add_staff(app, a_ids["centre_id"], "two_centres", PASSWORD, "exams_officer,invigilator")
    add_membership(app, officer, b_centre_id)
    browser = staff_browser(app, "two_centres", PASSWORD)
    a_candidate_page = f"/centre/{a_ids['centre_id']}/candidates/{a_ids['candidate_id']}"
    b_candidate_page = f"/centre/{b_centre_id}/candidates/{b_candidate}"
    c_pages = [f"/centre/{c_centre_id}/", f"/centre/{c_centre_id}/candidates/{c_candidate}",
               f"/centre/{c_centre_id}/candidates"]

    def working_in_a_only():
        assert browser.client.get(a_candidate_page).status_code == 200
        assert f'/invigilate/sittings/{a_ids["sitting_id"]}"' in browser.client.get("/invigilate/").get_data(as_text=True)
        assert browser.client.get(f"/results/sittings/{a_ids['sitting_id']}").status_code == 200
        assert browser.client.get(b_candidate_page).status_code == 404
        assert browser.client.get("/centre/").headers["Location"].endswith(f"/centre/{a_ids['centre_id']}/")
        assert "Bexley" not in browser.client.get(f"/centre/{a_ids['centre_id']}/candidates").get_data(as_text=True)

    def working_in_b_only():
        assert browser.client.get(b_candidate_page).status_code == 200
        assert browser.client.get(a_candidate_page).status_code == 404
        for path in (f"/results/sittings/{a_ids['sitting_id']}", f"/invigilate/sittings/{a_ids['sitting_id']}",
                     f"/results/attempts/{a_ids['attempt_id']}"):
            assert browser.client.get(path).status_code == 404, path
        listing = browser.client.get(f"/centre/{b_centre_id}/candidates").get_data(as_text=True)
        assert "Bexley" in listing and "Aisha" not in listing
        assert browser.client.get("/centre/").headers["Location"].endswith(f"/centre/{b_centre_id}/")
        sittings_page = browser.client.get("/invigilate/").get_data(as_text=True)
        assert f'/invigilate/sittings/{a_ids["sitting_id"]}"' not in sittings_page

    # The home centre first; the header offers the other centre, never a third.
    header = browser.client.get("/staff/").get_data(as_text=True)
    assert "Working in" in header and "Centre B" in header and "Centre C" not in header
    working_in_a_only()
    response = browser.post("/staff/centre", centre_id=str(b_centre_id))
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/centre/{b_centre_id}/")
    working_in_b_only()
    # Switching to a centre one does not belong to is refused and changes nothing.
    assert browser.post("/staff/centre", centre_id=str(c_centre_id)).status_code == 404
    working_in_b_only()
    for path in c_pages:
        assert browser.client.get(path).status_code == 404, path
    # And back to A.
    assert browser.post("/staff/centre", centre_id=str(a_ids["centre_id"])).status_code == 303
    working_in_a_only()
    for path in c_pages:
        assert browser.client.get(path).status_code == 404, path
    # Every switch is audited.
    switches = read(app, lambda s: s.scalars(select(models.AuditEvent.subject).where(
        models.AuditEvent.action == "staff.working_centre")).all())
    assert switches == [f"centre:{b_centre_id}", f"centre:{a_ids['centre_id']}"]


def test_centre_staff_pages_list_members_of_several_centres_and_only_the_awarding_body_sets_them(app, demo):
    b_centre_id = add_centre(app, "99002", "Centre B")
    a_centre_id = read(app, lambda s: s.scalar(select(models.Centre.id).where(models.Centre.number == "99001")))
    roaming = add_staff(app, b_centre_id, "roaming", PASSWORD, "invigilator")
    add_membership(app, roaming, a_centre_id)
    officer = staff_browser(app, "officer", "officer-demo")
    listing = officer.client.get(f"/centre/{a_centre_id}/staff").get_data(as_text=True)
    assert "roaming" in listing and "also works for 1 other centre" in listing
    # A centre's officer cannot attach staff to other centres: the form has no centres field,
    # and a posted one is ignored.
    page = officer.client.get(f"/centre/{a_centre_id}/staff/{roaming}").get_data(as_text=True)
    assert 'name="centres"' not in page
    officer.post(f"/centre/{a_centre_id}/staff/{roaming}", display_name="Roaming", roles="invigilator",
                 active="yes", set_centres="yes", centres=[str(a_centre_id)])
    from engine import staff_centres
    user = read(app, lambda s: s.get(models.StaffUser, roaming))
    assert sorted(read(app, lambda s: staff_centres.centre_ids(s.get(models.StaffUser, roaming), s))) == \
        sorted([a_centre_id, b_centre_id]), user
    # The awarding-body administrator sets them (at least one).
    add_staff(app, None, "awarding_admin", PASSWORD, "admin")
    admin = staff_browser(app, "awarding_admin", PASSWORD)
    assert 'name="centres"' in admin.client.get(f"/centre/{a_centre_id}/staff/{roaming}").get_data(as_text=True)
    refused = admin.post(f"/centre/{a_centre_id}/staff/{roaming}", display_name="Roaming", roles="invigilator",
                         active="yes", set_centres="yes")
    assert refused.status_code == 400 and "choose at least one centre" in refused.get_data(as_text=True)
    done = admin.post(f"/centre/{a_centre_id}/staff/{roaming}", display_name="Roaming", roles="invigilator",
                      active="yes", set_centres="yes", centres=[str(b_centre_id)])
    assert done.status_code == 303
    assert read(app, lambda s: staff_centres.centre_ids(s.get(models.StaffUser, roaming), s)) == [b_centre_id]
    assert "roaming" not in officer.client.get(f"/centre/{a_centre_id}/staff").get_data(as_text=True)
    assert officer.client.get(f"/centre/{a_centre_id}/staff/{roaming}").status_code == 404


def test_cli_adds_staff_to_several_centres(app, demo, runner):
    add_centre(app, "99002", "Centre B")
    result = runner.invoke(args=["staff", "add", "multi", "--name", "Multi Centre", "--role", "invigilator",
                                 "--centre", "99001", "--centre", "99002", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert "at centres 99001, 99002" in result.output
    from engine import staff_centres

    def numbers(session):
        user = session.scalar(select(models.StaffUser).where(models.StaffUser.username == "multi"))
        return [session.get(models.Centre, i).number for i in staff_centres.centre_ids(user, session)]
    assert read(app, numbers) == ["99001", "99002"]
    result = runner.invoke(args=["staff", "centres", "multi", "--centre", "99002"])
    assert result.exit_code == 0, result.output
    assert read(app, numbers) == ["99002"]
    result = runner.invoke(args=["staff", "add", "nowhere", "--name", "X", "--role", "invigilator",
                                 "--centre", "99009", "--password", PASSWORD])
    assert result.exit_code == 1 and "There is no centre 99009" in result.output
