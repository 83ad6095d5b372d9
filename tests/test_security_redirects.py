"""Open redirects: no "next" address sends a browser to another site.

Every route in ``app.url_map`` gets hostile ``next``/``go`` values in the query string and the
form; every Location header that comes back is read the way a browser reads it (tabs and
newlines dropped, backslashes as slashes) and must stay on this site. The staff sign-in, the
classic phishing target (``/staff/login?next=...``), is tried with a real sign-in each time.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from engine.security import local_path

from centres_support import staff_browser
from conftest import csrf_from
from security_support import build_world, fill, record_figure, rules

HOSTILE = ["//evil.example/", "/\\evil.example/", "/\t/evil.example/", "/\n/evil.example", "https://evil.example/",
           "javascript:alert(1)", "\\\\evil.example", "/%2F/evil.example", " //evil.example", "///evil.example"]


def as_a_browser_reads(location: str) -> str:
    return location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/").strip()


def leaves_the_site(location: str) -> bool:
    seen = as_a_browser_reads(location)
    parts = urlsplit(seen)
    return bool(parts.scheme and parts.scheme not in ("http", "https")) or bool(parts.netloc and parts.netloc != "localhost") \
        or seen.startswith("//")


def test_local_path_refuses_every_hostile_target():
    assert [t for t in HOSTILE if local_path(t, "/home") != "/home" and leaves_the_site(t)] == []
    assert local_path("/invigilate/sittings/3", "/home") == "/invigilate/sittings/3"


def test_staff_sign_in_never_redirects_off_site(app, demo):
    for target in HOSTILE:
        client = app.test_client()
        page = client.get("/staff/login").get_data(as_text=True)
        response = client.post("/staff/login", query_string={"next": target}, data={
            "username": "admin", "password": "admin-demo", "csrf_token": csrf_from(page)})
        assert response.status_code == 303
        assert not leaves_the_site(response.headers["Location"]), (target, response.headers["Location"])


def test_no_route_redirects_off_site(app, demo, invigilator, candidate_factory):
    world, _victim, attacker = build_world(app, demo, invigilator, candidate_factory)
    admin = staff_browser(app, "admin", "admin-demo")
    tried, off_site = 0, []
    for browser in (attacker, admin):
        for rule, method in rules(app):
            if rule.endpoint in ("staff.logout", "candidate.sign_out", "staff_centres.choose"):
                continue  # would end or change the session for the routes after it
            path = fill(rule, world.victim, every_string=False)[0]
            for target in HOSTILE[:4]:  # the sign-in test tries them all; these fool the naive checks
                data = {"csrf_token": browser.csrf, "next": target, "go": target} if method != "GET" else None
                response = browser.client.open(path, method=method, data=data,
                                               query_string={"next": target, "go": target})
                tried += 1
                location = response.headers.get("Location") or response.headers.get("HX-Redirect") or ""
                if location and leaves_the_site(location):
                    off_site.append((method, path, target, location))
    record_figure("open_redirects", requests=tried, off_site=len(off_site))
    assert off_site == [], off_site[:10]
