"""The exams officer's pages: centres, candidates and their access arrangements, staff accounts;
and the staff security around them: password storage, sign-in limits, session expiry, audit, /healthz."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from engine import create_app, db, models

from centres_support import add_centre, add_staff, read, staff_browser
from conftest import TEST_SETTINGS, csrf_from

PASSWORD = "officer-password"


@pytest.fixture
def centre_id(app):
    centre_id = add_centre(app, "99001", "Test Centre")
    add_staff(app, centre_id, "officer", PASSWORD, "exams_officer")
    return centre_id


@pytest.fixture
def officer(app, centre_id):
    return staff_browser(app, "officer", PASSWORD)


def candidate_by_number(app, number):
    return read(app, lambda s: s.scalar(select(models.Candidate).where(models.Candidate.candidate_number == number)))


def audit_actions(app):
    return read(app, lambda s: [(e.actor, e.action) for e in s.scalars(select(models.AuditEvent).order_by(models.AuditEvent.id))])


GOOD = {"candidate_number": "0101", "first_name": "Grace", "last_name": "Hopper", "date_of_birth": "2007-12-09",
        "uci": "990010260101D", "uln": "5735714324"}


# --- candidates ---------------------------------------------------------------------------------------

def test_officer_adds_a_candidate_and_sees_them_listed(app, centre_id, officer):
    response = officer.post(f"/centre/{centre_id}/candidates/new", **GOOD)
    assert response.status_code == 303
    grace = candidate_by_number(app, "0101")
    assert (grace.date_of_birth, grace.uci, grace.uln, grace.access_arrangements) == \
        (dt.date(2007, 12, 9), "990010260101D", "5735714324", {})
    listing = officer.client.get(f"/centre/{centre_id}/candidates").get_data(as_text=True)
    assert "Hopper, Grace" in listing and "990010260101D" in listing
    found = officer.client.get(f"/centre/{centre_id}/candidates?q=hopp", headers={"HX-Request": "true"})
    assert found.get_data(as_text=True).startswith('<div id="candidate-rows">') and "Hopper" in found.get_data(as_text=True)
    assert "0 candidates" in officer.client.get(f"/centre/{centre_id}/candidates?q=nobody").get_data(as_text=True)
    assert ("staff:officer", "candidate.create") in audit_actions(app)


def test_every_problem_is_shown_next_to_its_field_and_nothing_is_saved(app, centre_id, officer):
    response = officer.post(f"/centre/{centre_id}/candidates/new", candidate_number="12", first_name="",
                            last_name="Hopper", date_of_birth="09/12/2007", uci="990010260101E", uln="5735714325",
                            extra_time_percent="40", rest_breaks="yes")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Nothing was saved: fix these problems" in page
    for field in ("candidate_number", "first_name", "date_of_birth", "uci", "uln", "extra_time_reason",
                  "extra_time_evidence", "approved_by", "approved_on"):
        assert f'href="#{field}"' in page, field
        assert f'id="{field}-error-1"' in page, field
    assert 'aria-invalid="true"' in page
    assert 'value="Hopper"' in page  # what was typed is kept
    assert candidate_by_number(app, "12") is None


def test_candidate_numbers_and_identifiers_are_unique_within_the_centre(app, centre_id, officer):
    officer.post(f"/centre/{centre_id}/candidates/new", **GOOD)
    response = officer.post(f"/centre/{centre_id}/candidates/new", **{**GOOD, "first_name": "Other"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "candidate number 0101 already belongs to 0101 Grace Hopper" in page
    assert "UCI 990010260101D already belongs to" in page and "ULN 5735714324 already belongs to" in page


def test_officer_records_an_access_arrangement_with_its_approval(app, centre_id, officer):
    officer.post(f"/centre/{centre_id}/candidates/new", **GOOD)
    grace = candidate_by_number(app, "0101")
    url = f"/centre/{centre_id}/candidates/{grace.id}"
    # 50 % needs the reason, evidence, approver and date.
    refused = officer.post(url, **GOOD, extra_time_percent="50", rest_breaks="yes")
    assert refused.status_code == 400
    assert "50% extra time is above the standard 25%: record the reason" in refused.get_data(as_text=True)
    assert candidate_by_number(app, "0101").access_arrangements == {}

    response = officer.post(url, **GOOD, extra_time_percent="50", extra_time_reason="Processing speed",
                            extra_time_evidence="Form 8 2026/7", approved_by="J. Patel", approved_on="2026-09-15",
                            rest_breaks="yes", colour_scheme="cream")
    assert response.status_code == 303
    assert candidate_by_number(app, "0101").access_arrangements == {
        "extra_time_percent": 50, "extra_time_reason": "Processing speed", "extra_time_evidence": "Form 8 2026/7",
        "approved_by": "J. Patel", "approved_on": "2026-09-15", "rest_breaks": True, "colour_scheme": "cream"}
    page = officer.client.get(url + "?saved=1").get_data(as_text=True)
    assert "Saved." in page and 'value="Form 8 2026/7"' in page
    listing = officer.client.get(f"/centre/{centre_id}/candidates").get_data(as_text=True)
    assert "50% extra time; supervised rest breaks; cream colour scheme" in listing
    event = read(app, lambda s: s.scalar(select(models.AuditEvent).where(models.AuditEvent.action == "candidate.arrangements")))
    assert event.actor == "staff:officer" and event.reason == "Processing speed"
    assert event.detail["before"] == {} and event.detail["after"]["extra_time_percent"] == 50

    # Taking an arrangement away is recorded too.
    officer.post(url, **GOOD)
    assert candidate_by_number(app, "0101").access_arrangements == {}
    assert [a for _, a in audit_actions(app)].count("candidate.arrangements") == 2


def test_arrangements_other_features_keep_on_the_candidate_survive_an_edit(app, centre_id, officer):
    officer.post(f"/centre/{centre_id}/candidates/new", **GOOD)
    grace = candidate_by_number(app, "0101")

    def add_setting(session):
        candidate = session.get(models.Candidate, grace.id)
        candidate.access_arrangements = {"line_spacing": 2}
        session.commit()
    read(app, add_setting)
    officer.post(f"/centre/{centre_id}/candidates/{grace.id}", **GOOD, enlarged_text="yes")
    assert candidate_by_number(app, "0101").access_arrangements == {"line_spacing": 2, "enlarged_text": True}


# --- centres ------------------------------------------------------------------------------------------

def test_only_an_awarding_body_administrator_adds_centres(app, centre_id, officer):
    assert officer.client.get("/centre/new").status_code == 403
    assert officer.client.get("/centre/").headers["Location"].endswith(f"/centre/{centre_id}/")
    add_staff(app, centre_id, "centre_admin", PASSWORD, "admin")
    assert staff_browser(app, "centre_admin", PASSWORD).client.get("/centre/new").status_code == 403

    add_staff(app, None, "awarding", PASSWORD, "admin")
    admin = staff_browser(app, "awarding", PASSWORD)
    assert "99001" in admin.client.get("/centre/").get_data(as_text=True)
    bad = admin.post("/centre/new", number="9900", name="", timezone="Mars/Olympus", network_ranges="10.0.0.5/24 banana")
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert "must be 5 digits" in page and "enter the centre&#39;s name" in page and "not a time zone" in page
    assert "did you mean 10.0.0.0/24?" in page and "&#39;banana&#39; is not a network range" in page
    assert "already exists" in admin.post("/centre/new", number="99001", name="Dup", timezone="Europe/London",
                                          network_ranges="").get_data(as_text=True)
    response = admin.post("/centre/new", number="99002", name="Second Site", timezone="Europe/London",
                          network_ranges="10.20.0.0/16\n192.168.1.0/24")
    assert response.status_code == 303
    centre = read(app, lambda s: s.scalar(select(models.Centre).where(models.Centre.number == "99002")))
    assert centre.network_ranges == ["10.20.0.0/16", "192.168.1.0/24"]


def test_officer_changes_the_centres_network_ranges(app, centre_id, officer):
    response = officer.post(f"/centre/{centre_id}/settings", name="Test Centre", timezone="Europe/London",
                            network_ranges="10.1.0.0/16, 2001:db8::/32")
    assert response.status_code == 303
    assert read(app, lambda s: s.get(models.Centre, centre_id).network_ranges) == ["10.1.0.0/16", "2001:db8::/32"]
    assert ("staff:officer", "centre.update") in audit_actions(app)


# --- staff accounts -----------------------------------------------------------------------------------

def test_officer_creates_an_invigilator_whose_password_is_stored_as_a_slow_hash(app, centre_id, officer):
    response = officer.post(f"/centre/{centre_id}/staff/new", username="ivy", display_name="Ivy Invigilator",
                            roles="invigilator", password="a long pass phrase", active="yes")
    assert response.status_code == 303
    ivy = read(app, lambda s: s.scalar(select(models.StaffUser).where(models.StaffUser.username == "ivy")))
    assert ivy.centre_id == centre_id and ivy.role_set == {"invigilator"}
    method = app.config["PASSWORD_HASH_METHOD"]
    assert ivy.password_hash.startswith(method.split(":")[0] + ":") and "a long pass phrase" not in ivy.password_hash
    assert check_password_hash(ivy.password_hash, "a long pass phrase")
    assert staff_browser(app, "ivy", "a long pass phrase").client.get("/staff/").status_code == 200
    assert ("staff:officer", "staff.create") in audit_actions(app)


def test_the_production_setting_is_scrypt(app):
    settings = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"}).config
    assert settings["PASSWORD_HASH_METHOD"] == "scrypt"


def test_staff_account_rules(app, centre_id, officer):
    base = f"/centre/{centre_id}/staff"
    refused = officer.post(base + "/new", username="x", display_name="", roles="admin", password="short")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "use 3 to 80 letters" in page and "enter the person" in page
    assert "your account cannot give the role administrator" in page and "at least 12 characters" in page
    assert "must not be the username" in officer.post(base + "/new", username="samesame1234", display_name="S",
                                                      roles="marker", password="samesame1234").get_data(as_text=True)
    assert "already taken" in officer.post(base + "/new", username="OFFICER", display_name="S", roles="marker",
                                           password="long enough pass").get_data(as_text=True)
    # An officer cannot touch an administrator's account, nor lock themselves out.
    admin_id = add_staff(app, centre_id, "boss", PASSWORD, "admin")
    assert officer.client.get(f"{base}/{admin_id}").status_code == 403
    officer_id = read(app, lambda s: s.scalar(select(models.StaffUser.id).where(models.StaffUser.username == "officer")))
    page = officer.post(f"{base}/{officer_id}", display_name="Officer", roles="invigilator").get_data(as_text=True)
    assert "you cannot deactivate your own account" in page and "your own power to manage accounts" in page


def test_deactivating_an_account_ends_its_sessions_and_sign_ins(app, centre_id, officer):
    ivy_id = add_staff(app, centre_id, "ivy", PASSWORD, "invigilator")
    ivy = staff_browser(app, "ivy", PASSWORD)
    response = officer.post(f"/centre/{centre_id}/staff/{ivy_id}", display_name="Ivy", roles="invigilator",
                            password="a brand new phrase")
    assert response.status_code == 303  # "active" not ticked: deactivated
    assert ivy.client.get("/staff/").status_code == 302
    page = ivy.client.get("/staff/login").get_data(as_text=True)
    refused = ivy.client.post("/staff/login", data={"username": "ivy", "password": "a brand new phrase",
                                                    "csrf_token": csrf_from(page)})
    assert refused.status_code == 400
    event = read(app, lambda s: s.scalar(select(models.AuditEvent).where(models.AuditEvent.action == "staff.update")))
    assert event.detail == {"active": [True, False], "password": "reset"}


def test_cli_creates_the_first_awarding_body_administrator(app, runner):
    result = runner.invoke(args=["staff", "add", "root", "--name", "Awarding Admin", "--role", "admin"],
                           input="correct horse battery\ncorrect horse battery\n")
    assert result.exit_code == 0, result.output
    assert "Created root (admin), an awarding-body account." in result.output
    root = read(app, lambda s: s.scalar(select(models.StaffUser).where(models.StaffUser.username == "root")))
    assert root.centre_id is None and check_password_hash(root.password_hash, "correct horse battery")
    result = runner.invoke(args=["staff", "add", "x", "--name", "X", "--role", "wizard"], input="short\nshort\n")
    assert result.exit_code == 1 and "unknown role 'wizard'" in result.output and "password:" in result.output


# --- sign-in, session expiry, audit, health -----------------------------------------------------------------

def test_staff_sign_in_is_rate_limited_after_repeated_failures(app, centre_id):
    client = app.test_client()
    token = csrf_from(client.get("/staff/login").get_data(as_text=True))
    for _ in range(app.config["SIGN_IN_MAX_FAILURES"]):
        assert client.post("/staff/login", data={"username": "officer", "password": "guess", "csrf_token": token}).status_code == 400
    blocked = client.post("/staff/login", data={"username": "officer", "password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429 and "Too many failed sign-ins" in blocked.get_data(as_text=True)


def test_an_idle_staff_session_expires(app, centre_id, officer):
    assert officer.client.get(f"/centre/{centre_id}/candidates").status_code == 200
    with officer.client.session_transaction() as session:
        session["staff_seen"] -= app.config["STAFF_SESSION_IDLE_SECONDS"] + 1
    response = officer.client.get(f"/centre/{centre_id}/candidates")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_an_active_staff_session_does_not_expire(app, centre_id, officer):
    with officer.client.session_transaction() as session:
        session["staff_seen"] -= app.config["STAFF_SESSION_IDLE_SECONDS"] - 60
    assert officer.client.get(f"/centre/{centre_id}/candidates").status_code == 200


def test_staff_activity_is_written_to_the_session_at_most_once_a_minute(app, centre_id, officer):
    """Polling pages (the register, every 5 s) must not re-sign and re-send the cookie each time."""
    page = f"/centre/{centre_id}/candidates"
    assert "Set-Cookie" not in officer.client.get(page).headers  # signed in moments ago
    with officer.client.session_transaction() as session:
        session["staff_seen"] -= 61
        before = session["staff_seen"]
    response = officer.client.get(page)
    assert response.status_code == 200 and "Set-Cookie" in response.headers
    with officer.client.session_transaction() as session:
        assert session["staff_seen"] >= before + 61


def test_the_audit_page_lists_this_centres_staff_actions_only(app, centre_id, officer):
    officer.post(f"/centre/{centre_id}/candidates/new", **GOOD)
    other = add_centre(app, "99002", "Other")
    add_staff(app, other, "other_officer", PASSWORD, "exams_officer")
    staff_browser(app, "other_officer", PASSWORD).post(f"/centre/{other}/candidates/new", **GOOD)
    page = officer.client.get(f"/centre/{centre_id}/audit").get_data(as_text=True)
    assert "candidate.create" in page and "staff.sign_in" in page
    assert "other_officer" not in page


def test_roles_without_exams_officer_cannot_use_the_centre_pages(app, centre_id):
    add_staff(app, centre_id, "ivy", PASSWORD, "invigilator,marker")
    ivy = staff_browser(app, "ivy", PASSWORD)
    assert ivy.client.get(f"/centre/{centre_id}/candidates").status_code == 403
    assert app.test_client().get(f"/centre/{centre_id}/candidates").status_code == 302


def test_healthz_checks_the_database(app, tmp_path):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    broken = create_app({**TEST_SETTINGS, "DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/onscreen.db"})
    response = broken.test_client().get("/healthz")
    # A small JSON answer for the load balancer, not the HTML error page.
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json() == {"status": "unavailable", "database": "error"}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_answers_503_when_the_database_goes_away(app, monkeypatch):
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session
    assert app.test_client().get("/healthz").status_code == 200

    def refuse(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
    monkeypatch.setattr(Session, "execute", refuse)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.mimetype == "application/json"
    assert response.get_json()["status"] == "unavailable"
    monkeypatch.undo()
    assert app.test_client().get("/healthz").status_code == 200


def test_behind_a_trusted_proxy_sign_in_limits_count_each_client_address(app, centre_id, database_url, clock):
    proxied = create_app({**TEST_SETTINGS, "DATABASE_URL": database_url, "CLOCK": clock, "PROXY_HOPS": 1})
    try:
        def attempt(address, password):
            client = proxied.test_client()
            token = csrf_from(client.get("/staff/login").get_data(as_text=True))
            return client.post("/staff/login", data={"username": f"nobody-{address}", "password": password,
                                                     "csrf_token": token},
                               headers={"X-Forwarded-For": address}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
        for _ in range(proxied.config["SIGN_IN_MAX_FAILURES"]):
            assert attempt("203.0.113.7", "guess").status_code == 400
        assert attempt("203.0.113.7", "guess").status_code == 429
        # Another candidate machine behind the same proxy is not blocked by the first one's failures.
        assert attempt("203.0.113.8", "guess").status_code == 400
    finally:
        db.engine_for(proxied).dispose()
