"""Stored XSS through every authored and imported field, rendered in every view and export.

tests/test_xss_corpus.py proves the sanitiser and each item type's candidate template against
the whole corpus. This test follows the data everywhere else it is shown: after a full sitting,
every free-text column people type or import (names, titles, rooms, reasons, incident notes,
comments, the bank's outcome and criterion titles...) and every text in the item definitions
(passed through the item type's sanitiser, as saving and importing do) is replaced with a hostile
payload, written straight into the database so no input check can hide a rendering fault. Then
every GET route in ``app.url_map`` is rendered for the administrator, a candidate in the test and a
candidate who has finished. Counts that must be 0: anything that would run (script, handlers,
javascript: URLs, htmx attributes) in an HTML page, and CSV cells a spreadsheet would run as a
formula.
"""
from __future__ import annotations

import copy
import csv
import io
import json

from html.parser import HTMLParser

from sqlalchemy import select, update

from engine import models
from engine.models import Base
from engine.plugins import item_type

from centres_support import read, staff_browser
from security_support import build_world, fill, record_figure, rules

#: Attributes that run something or fetch something; text in any other attribute is inert.
ACTIVE_ATTRIBUTES = {"src", "href", "action", "formaction", "srcdoc", "style", "xlink:href", "background", "data",
                     "content", "http-equiv"}


def _without_csrf_token(name: str, value: str) -> str:
    """The attribute's value without the app's own CSRF token in ``<body hx-headers>``: the
    token is random and can spell "xss" (it did once in CI), which no payload wrote."""
    if name != "hx-headers":
        return value
    try:
        headers = json.loads(value)
    except ValueError:
        return value
    if isinstance(headers, dict):
        headers.pop("X-CSRFToken", None)
    return json.dumps(headers)


class HostileMarkup(HTMLParser):
    """Markup that came from a payload and would act: every payload carries the token ``xss``, so
    a tag whose handler, htmx attribute or URL holds it, or a script whose text holds it, was
    written by the attacker and survived. (Escaped text never makes a tag.)"""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._script = False

    def handle_starttag(self, tag, attrs):
        self._script = tag == "script"
        for name, value in attrs:
            active = name.startswith(("on", "hx-", "data-hx")) or name in ACTIVE_ATTRIBUTES
            if active and "xss" in f"{name}={_without_csrf_token(name, value or '')}".lower():
                self.found.append(f"<{tag} {name}={(value or '')[:40]!r}>")

    def handle_endtag(self, tag):
        self._script = False

    def handle_data(self, data):
        if self._script and "xss" in data.lower():
            self.found.append(f"<script>{data[:40]}")


def dangers(html: str) -> list[str]:
    finder = HostileMarkup()
    finder.feed(html)
    return finder.found


#: Each starts with a formula character too, so the same data tests the CSV exports.
PAYLOADS = [
    '=HYPERLINK("http://e.vil")<script>alert("xss1")</script>',
    "+1<img src=x onerror=alert('xss2')>",
    "-1\"><svg onload=alert('xss3')>",
    '@SUM(1)<a href="javascript:alert(\'xss4\')">x</a>',
    "=1'><div hx-get=\"/xss-probe\" hx-trigger=\"load\">x</div>",
    '+<iframe srcdoc="<script>alert(\'xss6\')</script>"></iframe>',
    "=2<details open ontoggle=alert('xss7')>",
    '-<a href="/x" style="background:url(xss8)">x</a>',
]
#: Free text people write or import. Identifiers, states and hashes are validated on the way in
#: and matched by code, so they are not written here (the fuzzing test holds them to their rules).
TEXT_COLUMNS = {
    "sittings": ("title", "room"), "candidates": ("first_name", "last_name"), "centres": ("name",),
    "staff_users": ("display_name",), "units": ("title",), "test_specifications": ("title",),
    "learning_outcomes": ("title",), "assessment_criteria": ("title",), "time_events": ("reason",),
    "audit_events": ("reason",), "incidents": ("description", "resolution"), "manual_marks": ("comment",),
    "lockouts": ("reason", "unlock_reason"),
}
SKIP_LEAVES = {"id", "key", "scoring", "type", "preset"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _leaves(value, path=()):
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _leaves(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _leaves(child, path + (index,))


def _set(value, path, new):
    for part in path[:-1]:
        value = value[part]
    value[path[-1]] = new


def poison(app) -> int:
    """Write a payload into every free-text field; returns how many values were poisoned."""
    def write(session):
        count, turn = 0, 0
        tables = {t.name: t for t in Base.metadata.sorted_tables}
        for name, columns in TEXT_COLUMNS.items():
            table = tables.get(name)
            if table is None:
                continue
            key = list(table.primary_key.columns)[0]
            for (row_id,) in session.execute(select(key)).all():
                values = {}
                for column in columns:
                    limit = table.c[column].type.length
                    values[column] = PAYLOADS[turn % len(PAYLOADS)][:limit]
                    turn += 1
                session.execute(update(table).where(key == row_id).values(**values))
                count += len(values)
        for candidate in session.scalars(select(models.Candidate)):
            text = {k: PAYLOADS[(turn + i) % len(PAYLOADS)] for i, k in
                    enumerate(("extra_time_reason", "extra_time_evidence", "approved_by"))}
            session.execute(update(models.Candidate).where(models.Candidate.id == candidate.id).values(
                access_arrangements={**(candidate.access_arrangements or {}), "extra_time_percent": 50,
                                     "approved_on": "2026-01-05", **text}))
            count += 3
        for criterion in session.scalars(select(models.AssessmentCriterion)):
            topics = copy.deepcopy(criterion.amplification or [])
            for topic in topics:
                for field in ("heading", "text"):
                    if isinstance(topic, dict) and field in topic:
                        topic[field], turn, count = PAYLOADS[turn % len(PAYLOADS)], turn + 1, count + 1
            session.execute(update(models.AssessmentCriterion).where(models.AssessmentCriterion.id == criterion.id)
                            .values(amplification=topics))
        for version in session.scalars(select(models.ItemVersion)):
            plugin = item_type(version.type_name, app)
            hostile = copy.deepcopy(version.definition)
            for path in _leaves(hostile):
                if path[-1] in SKIP_LEAVES or (len(path) > 1 and path[-2] in {"keys", "pairs", "accept", "answers"}):
                    continue
                _set(hostile, path, PAYLOADS[turn % len(PAYLOADS)])
                turn, count = turn + 1, count + 1
            # As saving and importing do: the item type's sanitiser, then the stored definition.
            session.execute(update(models.ItemVersion).where(models.ItemVersion.id == version.id)
                            .values(definition=plugin.sanitise_definition(hostile)))
        session.commit()
        return count
    with app.app_context():
        return read(app, write)


def formula_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row if cell.startswith(FORMULA_STARTS)
            and any(p.startswith(cell[:8]) for p in PAYLOADS)]


def test_hostile_text_in_every_field_never_runs_in_any_view_or_export(app, demo, invigilator, candidate_factory):
    world, victim, attacker = build_world(app, demo, invigilator, candidate_factory)
    poisoned = poison(app)
    admin = staff_browser(app, "admin", "admin-demo")
    rendered, exports, executed, formulas, errors = 0, 0, [], [], []
    for label, browser in (("administrator", admin), ("candidate in the test", attacker),
                           ("finished candidate", victim)):
        for rule, _method in rules(app, methods={"GET"}):
            if rule.endpoint == "static":
                continue
            for path in fill(rule, world.victim):
                for headers in ({}, {"HX-Request": "true"}):
                    response = browser.client.get(path, headers=headers)
                    rendered += 1
                    if response.status_code >= 500:
                        errors.append((label, path, response.status_code))
                    if not response.mimetype.startswith("text/"):
                        continue  # images and JSON: nothing a browser would run as a page
                    body = response.get_data(as_text=True)
                    if response.mimetype == "text/html":
                        found = dangers(body)
                        if found:
                            executed.append((label, path, found[:3]))
                    elif response.mimetype in ("text/csv", "text/plain"):
                        exports += 1
                        found = formula_cells(body)
                        if found:
                            formulas.append((label, path, found[:3]))
    record_figure("stored_xss", fields_poisoned=poisoned, responses_rendered=rendered, csv_exports_read=exports,
                  executable=len(executed), csv_formulas=len(formulas), server_errors=len(errors))
    assert poisoned >= 100, poisoned
    assert exports >= 2, "the CSV exports should have been read"
    assert executed == [], f"hostile markup survived in {len(executed)} responses: {executed[:5]}"
    assert formulas == [], f"CSV cells a spreadsheet would run: {formulas[:5]}"
    assert errors == [], f"views that failed on hostile text: {errors[:10]}"


def test_the_payloads_reach_the_pages(app, demo, invigilator, candidate_factory):
    """The control: the poisoned text is shown (escaped), so the test above looks at real output."""
    world, _victim, _attacker = build_world(app, demo, invigilator, candidate_factory)
    poison(app)
    admin = staff_browser(app, "admin", "admin-demo")
    page = admin.client.get(f"/centre/{world.victim['centre_id']}/candidates").get_data(as_text=True)
    assert "&lt;script&gt;" in page or "&lt;img src=x onerror=" in page
    names = read(app, lambda s: s.get(models.Candidate, world.victim["candidate_id"]).first_name)
    assert names in PAYLOADS
