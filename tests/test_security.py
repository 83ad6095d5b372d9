"""Security basics: CSRF on every state change, headers, cookies, the secret, sign-in limits."""
from __future__ import annotations

import pytest

from engine import create_app
from engine.config import ConfigurationError

from conftest import TEST_SETTINGS, csrf_from


def state_changing_rules(app):
    return sorted(
        (rule.rule, sorted(rule.methods - {"HEAD", "OPTIONS", "GET"}))
        for rule in app.url_map.iter_rules()
        if rule.methods - {"HEAD", "OPTIONS", "GET"} and rule.endpoint != "static"
    )


def concrete(path: str) -> str:
    return path.replace("<int:position>", "1").replace("<int:sitting_id>", "1").replace("<int:attempt_id>", "1")


def test_every_state_change_refuses_missing_or_wrong_csrf(app, demo, invigilator, candidate_factory):
    rules = state_changing_rules(app)
    assert len(rules) >= 8, rules
    candidate = candidate_factory("0001")
    candidate.sign_in()
    for browser in (invigilator.client, candidate.client, app.test_client()):
        for path, methods in rules:
            for method in methods:
                for token in (None, "wrong-token"):
                    data = {} if token is None else {"csrf_token": token}
                    response = browser.open(concrete(path), method=method, data=data)
                    assert response.status_code == 400, (path, method, token, response.status_code)
                    assert b"expired or did not come from this site" in response.data


def test_csrf_header_is_accepted_for_htmx(app, demo, candidate_factory, invigilator):
    candidate = candidate_factory("0001")
    candidate.sign_in()
    response = candidate.client.post("/details", data={"confirm": "yes"},
                                     headers={"X-CSRFToken": candidate.csrf, "HX-Request": "true"})
    assert response.status_code == 303


def test_pages_carry_security_headers(app, demo, candidate_factory):
    candidate = candidate_factory("0001")
    for path in ("/", "/start", "/staff/login"):
        response = app.test_client().get(path)
        headers = response.headers
        assert headers["Cache-Control"] == "no-store"
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        html = response.get_data(as_text=True)
        # No inline script: every <script> has a src on this site.
        assert "<script>" not in html and "onclick" not in html
        assert 'src="/static/vendor/htmx-2.0.11.min.js"' in html
    candidate.sign_in()
    assert candidate.client.get("/details").headers["Cache-Control"] == "no-store"


def test_session_cookie_is_httponly_and_samesite(app, demo, candidate_factory):
    candidate = candidate_factory("0001")
    response = candidate.sign_in()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_refuses_to_start_without_a_secret(monkeypatch, tmp_path):
    monkeypatch.delenv("ONSCREEN_SECRET_KEY", raising=False)
    monkeypatch.delenv("ONSCREEN_DEBUG", raising=False)
    monkeypatch.setenv("ONSCREEN_INSTANCE_PATH", str(tmp_path / "instance"))  # no secret_key file there
    with pytest.raises(ConfigurationError, match="ONSCREEN_SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    with pytest.raises(ConfigurationError, match="placeholder"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SECRET_KEY": "dev-only-not-secret"})
    create_app({**TEST_SETTINGS, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_the_commands_beside_make_run_use_the_secret_in_the_instance_folder(monkeypatch, tmp_path):
    """`make run` keeps its secret in instance/secret_key: `onscreen loadtest prepare` (or any
    command) run in another terminal signs with the same key, unexported; the environment wins."""
    monkeypatch.delenv("ONSCREEN_SECRET_KEY", raising=False)
    monkeypatch.delenv("ONSCREEN_DEBUG", raising=False)
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "secret_key").write_text("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6\n", encoding="utf-8")
    monkeypatch.setenv("ONSCREEN_INSTANCE_PATH", str(instance))
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["SECRET_KEY"] == "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
    monkeypatch.setenv("ONSCREEN_SECRET_KEY", "from-the-environment-0123456789abcdef")
    assert create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}).config["SECRET_KEY"] == (
        "from-the-environment-0123456789abcdef")
    monkeypatch.delenv("ONSCREEN_SECRET_KEY")
    (instance / "secret_key").unlink()
    (instance / "secret_key").mkdir()  # unreadable as a file: a clear error naming it
    with pytest.raises(ConfigurationError, match="secret_key"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_keycode_guessing_is_stopped_and_the_real_candidate_still_gets_in(app, demo, candidate_factory):
    attacker = app.test_client()
    csrf = csrf_from(attacker.get("/start").get_data(as_text=True))
    limit = app.config["SIGN_IN_MAX_FAILURES"]
    for guess in range(limit + 5):
        response = attacker.post("/start", data={
            "centre_number": "99001", "candidate_number": "0003", "keycode": f"WRONG{guess:03d}", "csrf_token": csrf},
            environ_overrides={"REMOTE_ADDR": "10.9.9.9"})
        assert response.status_code == 400
    assert b"Too many attempts" in response.data
    # The right keycode from the guessing address is refused too, while the limit holds...
    response = attacker.post("/start", data={"centre_number": "99001", "candidate_number": "0004",
                                             "keycode": demo["keycode"], "csrf_token": csrf},
                             environ_overrides={"REMOTE_ADDR": "10.9.9.9"})
    assert response.status_code == 400
    # ...but a real candidate at another workstation signs in normally.
    candidate_factory("0001").sign_in()


def test_keycode_check_ignores_case_spaces_and_hyphens(app, demo):
    client = app.test_client()
    csrf = csrf_from(client.get("/start").get_data(as_text=True))
    typed = "-".join([demo["keycode"][:4].lower(), demo["keycode"][4:]]) + " "
    response = client.post("/start", data={"centre_number": "99001", "candidate_number": "0005",
                                           "keycode": typed, "csrf_token": csrf})
    assert response.status_code == 303


def test_staff_pages_need_sign_in_and_the_right_role(app, demo):
    client = app.test_client()
    assert client.get("/invigilate/").status_code == 302
    assert client.get("/results/sittings/1").status_code == 302
    from conftest import Invigilator
    writer = Invigilator(app, "writer", "write-demo")
    assert writer.client.get("/invigilate/").status_code == 403


def test_a_candidate_session_cannot_reach_staff_pages(app, demo, candidate_factory):
    candidate = candidate_factory("0001")
    candidate.sign_in()
    assert candidate.client.get("/invigilate/sittings/1").status_code == 302
    assert candidate.client.get("/results/attempts/1").status_code == 302
