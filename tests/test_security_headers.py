"""Security headers on every page: every GET route in ``app.url_map`` (filled with real ids), as
nobody, a candidate in the test and the centre's administrator, plain and as htmx, plus error
pages. Each response must carry the strict Content-Security-Policy (no inline script, no eval,
no framing), nosniff, DENY framing, a same-origin referrer policy, and ``no-store`` (except the
static and content-hashed files, which hold nothing personal); HTML must hold no inline script.
"""
from __future__ import annotations

from html.parser import HTMLParser

from centres_support import staff_browser
from security_support import Anonymous, build_world, fill, record_figure, rules

#: Files the same for everyone (shipped CSS/JS, content-hashed images): cacheable on purpose.
CACHEABLE_ENDPOINTS = {"static", "assets.serve"}
CSP_MUST_HAVE = ("default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'",
                 "frame-ancestors 'none'", "form-action 'self'")
CSP_MUST_NOT = ("unsafe-inline", "unsafe-eval", "*", "data: ;", "http:")


class InlineScript(HTMLParser):
    """Script the CSP would have to allow: <script> without src, on* handlers, javascript: URLs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and not attrs.get("src"):
            self.found.append("<script> without src")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.found.append(f"{tag}[{name}]")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"{tag}[{name}=javascript:]")
            if name.startswith(("hx-on", "data-hx-on")):
                self.found.append(f"{tag}[{name}]")


def header_problems(response, endpoint: str) -> list[str]:
    headers, problems = response.headers, []
    csp = headers.get("Content-Security-Policy", "")
    problems += [f"CSP lacks {part}" for part in CSP_MUST_HAVE if part not in csp]
    problems += [f"CSP allows {part}" for part in CSP_MUST_NOT if part in csp.replace("'self'", "")]
    for name, expected in (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                           ("Referrer-Policy", "same-origin"), ("Cross-Origin-Opener-Policy", "same-origin")):
        if headers.get(name) != expected:
            problems.append(f"{name}: {headers.get(name)!r}")
    if endpoint not in CACHEABLE_ENDPOINTS and headers.get("Cache-Control") != "no-store":
        problems.append(f"Cache-Control: {headers.get('Cache-Control')!r}")
    for cookie in headers.getlist("Set-Cookie"):
        if "HttpOnly" not in cookie or "SameSite=Lax" not in cookie:
            problems.append(f"cookie without HttpOnly/SameSite: {cookie[:40]}")
    if response.mimetype == "text/html":
        finder = InlineScript()
        finder.feed(response.get_data(as_text=True))
        problems += finder.found
    return problems


def test_every_page_carries_the_security_headers(app, demo, invigilator, candidate_factory):
    world, _victim, attacker = build_world(app, demo, invigilator, candidate_factory)
    principals = [("nobody", Anonymous(app)), ("candidate", attacker),
                  ("administrator", staff_browser(app, "admin", "admin-demo"))]
    checked, bad = 0, []
    for label, browser in principals:
        for rule, _method in rules(app, methods={"GET"}):
            for path in fill(rule, world.victim):
                for headers in ({}, {"HX-Request": "true"}):
                    response = browser.client.get(path, headers=headers)
                    checked += 1
                    problems = header_problems(response, rule.endpoint)
                    if problems:
                        bad.append((label, path, bool(headers), response.status_code, problems))
    # Error pages and the static files carry them too.
    client = Anonymous(app).client
    extra = [(client.get("/no/such/page"), "404"), (client.post("/start", data={}), "400 (no CSRF token)"),
             (client.put("/start"), "405"), (client.get("/static/css/onscreen.css"), "static")]
    for response, label in extra:
        checked += 1
        problems = header_problems(response, "static" if label == "static" else "error")
        if problems:
            bad.append(("nobody", label, False, response.status_code, problems))
    record_figure("security_headers", responses_checked=checked, responses_missing_a_header=len(bad))
    assert checked >= 100, checked
    assert bad == [], f"{len(bad)} of {checked} responses miss a header: {bad[:10]}"


def test_a_signed_in_session_cookie_is_marked_secure_when_configured(app, demo, database_url, clock):
    """ONSCREEN_SECURE_COOKIES=1 (behind TLS) adds Secure to the session cookie."""
    from engine import create_app, db

    from conftest import TEST_SETTINGS
    secure = create_app({**TEST_SETTINGS, "DATABASE_URL": database_url, "CLOCK": clock,
                         "SESSION_COOKIE_SECURE": True})
    try:
        cookie = secure.test_client().get("/start").headers.get("Set-Cookie", "")
        assert "Secure" in cookie and "HttpOnly" in cookie
    finally:
        db.engine_for(secure).dispose()
