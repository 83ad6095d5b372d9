"""Input fuzzing: hypothesis-made posts against every form route, and made-up query strings against
every page. Fields are every name any form in the app uses (found by crawling the pages) plus
strangers; values are huge, empty, malformed, of the wrong type, in any script, with NUL bytes
and control characters, and fields come duplicated. Counts that must be 0: server errors, and
rows stored that break the app's own rules (over-long text, NUL bytes, candidates, staff,
centres or arrangements that their validators would refuse).

``make test`` makes a few examples per route (derandomised, so a run is repeatable);
``make security-long`` makes many more with fresh randomness.
"""
from __future__ import annotations

import datetime as dt
import io
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from engine import access_arrangements as aa
from engine import candidate_import, identifiers, models

from centres_support import read, staff_browser
from security_support import Anonymous, build_world, fill, record_figure, rules, scale, string_columns

NAME = re.compile(r'<(?:input|select|textarea|button)\b[^>]*\bname="([^"]+)"')
STRANGERS = ["id", "attempt", "attempt_id", "centre_id", "role", "roles", "is_admin", "state", "marks", "q",
             "next", "go", "r-choice", "r-text", "r-order", "idem", "file", "__proto__", "", "x" * 300]
SPECIAL = ["", " ", "\x00", "a\x00b", "-1", "0", "1e309", "NaN", "-0", "99999999999999999999999", "1.5", "true",
           "yes", "on", "null", "[]", "{}", "2026-02-30", "0000-00-00", "25:61", "../../etc/passwd", "%00",
           "<script>alert(1)</script>", "=HYPERLINK(\"http://x\")", "\u202eevil", "Z\u0351\u0363\u0364",
           "🙂" * 50, "\r\n" * 20, "'; DROP TABLE candidates; --", "A" * 100_000, "9" * 5_000, "\t", "\ufeff"]
VALUE = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)


def _field_names(app, browsers, ids) -> list[str]:
    """Every field name any page shows to these principals, plus strangers."""
    names = set(STRANGERS)
    for browser in browsers:
        for rule, _method in rules(app, methods={"GET"}):
            for path in fill(rule, ids, every_string=False):
                response = browser.client.get(path)
                if response.mimetype == "text/html":
                    names.update(NAME.findall(response.get_data(as_text=True)))
    names.discard("csrf_token")
    return sorted(names)


def _form(names):
    pairs = st.lists(st.tuples(st.sampled_from(names), st.lists(VALUE, min_size=1, max_size=3)), max_size=12)
    return pairs


def _body(pairs, csrf):
    data: dict = {"csrf_token": csrf}
    for name, values in pairs:
        if name == "file":
            data[name] = (io.BytesIO(values[0].encode("utf-8", "surrogatepass")), "fuzz.csv")
        else:
            data.setdefault(name, [])
            if isinstance(data[name], list):
                data[name] += values  # duplicated fields
    return data


def stored_problems(app) -> list[str]:
    """Rows that break the app's rules: what the fuzzing must never leave behind."""
    def check(session):
        problems = []
        for model, column, length in string_columns():
            for row_id, value in session.execute(select(list(model.__table__.primary_key.columns)[0], column)):
                if value is None:
                    continue
                if length is not None and len(value) > length:
                    problems.append(f"{model.__tablename__}.{column.name} #{row_id}: {len(value)} > {length} characters")
                if "\x00" in value:
                    problems.append(f"{model.__tablename__}.{column.name} #{row_id}: NUL byte")
        today = dt.date(2026, 11, 23)
        for candidate in session.scalars(select(models.Candidate)):
            fields = {"candidate_number": candidate.candidate_number, "first_name": candidate.first_name,
                      "last_name": candidate.last_name, "uci": candidate.uci or "", "uln": candidate.uln or "",
                      "date_of_birth": candidate.date_of_birth.isoformat() if candidate.date_of_birth else "",
                      **aa.as_text(candidate.access_arrangements or {})}
            _person, _arr, found = candidate_import.check_fields(fields, today + dt.timedelta(days=1))
            problems += [f"candidate #{candidate.id}: {p.field}: {p.message}" for p in found]
            problems += [f"candidate #{candidate.id} arrangements: {p.field}: {p.message}"
                         for p in aa.validate_access_arrangements(candidate.access_arrangements or {})]
        for user in session.scalars(select(models.StaffUser)):
            if not re.fullmatch(r"[A-Za-z0-9._-]{3,80}", user.username) or not user.role_set <= set(models.StaffUser.ROLES) \
                    or not user.display_name.strip():
                problems.append(f"staff #{user.id}: {user.username!r} {user.roles!r}")
        for centre in session.scalars(select(models.Centre)):
            if identifiers.centre_number_problem(centre.number) or not centre.name.strip():
                problems.append(f"centre #{centre.id}: {centre.number!r} {centre.name!r}")
        for sitting in session.scalars(select(models.Sitting)):
            if sitting.scheduled_start and sitting.scheduled_end and sitting.scheduled_end <= sitting.scheduled_start:
                problems.append(f"sitting #{sitting.id}: ends before it starts")
        return problems
    return read(app, check)


def test_fuzzed_posts_to_every_form_route(app, demo, invigilator, candidate_factory):
    world, _victim, attacker = build_world(app, demo, invigilator, candidate_factory)
    admin = staff_browser(app, "admin", "admin-demo")
    names = _field_names(app, [attacker, admin], world.victim)
    assert stored_problems(app) == [], "the starting data should be clean"
    examples = scale(6, 60)
    errors, sent, routes = [], 0, []
    # Candidates' routes first, while the sitting runs; then the staff's (which may end it).
    ordered = sorted(rules(app, methods={"POST", "PUT", "PATCH", "DELETE"}),
                     key=lambda rm: (not rm[0].endpoint.startswith(("candidate", "practice")), rm[0].rule))
    for rule, method in ordered:
        if rule.endpoint in ("staff.logout", "candidate.sign_out"):
            continue  # nothing to fuzz; they end the browser's session
        routes.append((rule.rule, method))
        browser = _principal(app, rule, demo, world, candidate_factory)
        path = fill(rule, world.victim, every_string=False)[0]

        @settings(max_examples=examples, deadline=None, database=None, derandomize=examples < 20,
                  suppress_health_check=list(HealthCheck))
        @given(pairs=_form(names), htmx=st.booleans())
        def attack(pairs, htmx):
            nonlocal sent
            headers = {"HX-Request": "true"} if htmx else {}
            sent += 1
            status = _send(browser.client, path, method=method, data=_body(pairs, browser.csrf), headers=headers)
            if status >= 500:
                errors.append((method, path, status, [(n, [v[:40] for v in vs]) for n, vs in pairs]))
        attack()
    stored = stored_problems(app)
    record_figure("fuzz_posts", form_routes=len(routes), requests=sent, examples_per_route=examples,
                  server_errors=len(errors), invalid_rows_stored=len(stored))
    assert len(routes) >= 15
    assert errors == [], f"{len(errors)} of {sent} fuzzed posts caused a server error: {errors[:5]}"
    assert stored == [], f"invalid input stored: {stored[:10]}"


def _send(client, path, **kwargs) -> int:
    """The response's status; an exception that escapes the app (testing propagates them) is
    what a server would answer with a 500, so it counts as one."""
    try:
        return client.open(path, **kwargs).status_code
    except Exception:  # noqa: BLE001 - any escaping exception is the finding
        return 500


def _principal(app, rule, demo, world, candidate_factory):
    """Who would use the route: a candidate (signed in again if an earlier route cut them off),
    the centre's administrator, or nobody for a sign-in form."""
    if rule.endpoint.startswith("candidate") and rule.endpoint != "candidate.sign_in":
        browser = candidate_factory("0002")
        try:
            browser.sign_in()
            return browser
        except AssertionError:
            return Anonymous(app)
    if rule.endpoint in ("staff.login", "candidate.sign_in") or rule.endpoint.startswith("practice"):
        # From an address of its own: its failed sign-ins must not lock out the staff browsers
        # the later routes sign in with (the limit works; that is not what is tested here).
        anonymous = Anonymous(app)
        anonymous.client.environ_base["REMOTE_ADDR"] = f"192.0.2.{len(rule.rule) % 250 + 1}"
        return anonymous
    return staff_browser(app, "admin", "admin-demo")


def test_fuzzed_query_strings_on_every_page(app, demo, invigilator, candidate_factory):
    world, _victim, attacker = build_world(app, demo, invigilator, candidate_factory)
    admin = staff_browser(app, "admin", "admin-demo")
    examples = scale(3, 30)
    errors, sent = [], 0
    for browser in (attacker, admin):
        for rule, _method in rules(app, methods={"GET"}):
            path = fill(rule, world.victim, every_string=False)[0]

            @settings(max_examples=examples, deadline=None, database=None, derandomize=examples < 20,
                      suppress_health_check=list(HealthCheck))
            @given(query=st.lists(st.tuples(st.sampled_from(STRANGERS + ["shown", "saved", "moved", "created", "page"]),
                                             VALUE.filter(lambda v: len(v) < 3000)), max_size=5))
            def attack(query):
                nonlocal sent
                sent += 1
                status = _send(browser.client, path, method="GET", query_string=query)
                if status >= 500:
                    errors.append((path, status, [(n, v[:40]) for n, v in query[:3]]))
            attack()
    record_figure("fuzz_query_strings", requests=sent, server_errors=len(errors))
    assert errors == [], f"{len(errors)} of {sent} pages failed on a made-up query string: {errors[:5]}"
