"""Answer-key leak crawler over a full sitting with every item type.

The demo form holds only some of the item types, so the candidate's frozen form is extended with
every good fixture example of every registered type (tests/fixtures/items/<type>/), and a live
bank version of each type the bank has. Then the candidate's browser crawls everything it can
reach, at every stage of the sitting: each item before and after answering (plain and htmx), the
save and flag answers, the review, the timer, submission, the done page, and every GET route in
``app.url_map`` (so a page added later is crawled too). Counted as a leak, which must never happen:
an option or gap id that makes up the key, an answer or key value in an attribute before the
candidate typed it, any text of a mark scheme or feedback, "correct"/score/answer attributes.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

import yaml
from sqlalchemy import func, select

from engine import models
from engine.plugins import item_type, item_types

from centres_support import read
from security_support import fill, ids_of, record_figure, rules
from test_answer_key_leak import Tags, assert_no_key_leak, key_ids

FIXTURES = Path(__file__).parent / "fixtures" / "items"
#: Definition fields that hold the key or the marker's notes.
SECRET_FIELDS = {"answers", "answer", "key", "keys", "pairs", "tolerance", "correct", "accept", "mark_scheme",
                 "feedback", "rationale", "explanation", "model_answer"}
#: Of those, the ones a candidate never types, so their text must never appear at all.
NOTES_FIELDS = {"mark_scheme", "feedback", "rationale", "explanation", "model_answer"}


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _split(defn, fields, secret=None, shown=None):
    """(secret strings, shown strings) of a definition: under ``fields`` anywhere, and elsewhere."""
    secret, shown = (secret if secret is not None else []), (shown if shown is not None else [])
    if isinstance(defn, dict):
        for key, value in defn.items():
            if key in fields:
                secret += _strings(value)
            else:
                _split(value, fields, secret, shown)
    elif isinstance(defn, list):
        for value in defn:
            _split(value, fields, secret, shown)
    elif isinstance(defn, str):
        shown.append(defn)
    return secret, shown


def _plain(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def secrets_of(defn: dict) -> tuple[set[str], list[str]]:
    """Key values that must not sit in an attribute before the candidate answers, and note
    fragments (mark schemes, feedback) that must never appear."""
    secret, shown = _split(defn, SECRET_FIELDS)
    shown_text = " ".join(shown)
    values = {s for s in secret if s.strip() and s not in shown_text}
    notes = []
    for text in _split(defn, NOTES_FIELDS)[0]:
        plain = _plain(text)
        if len(plain) >= 12:
            notes.append(plain[:40])
    return values, notes


def _extend_form(app, candidate_number: str) -> list[str]:
    """Add every fixture example of every type (and a live bank version of each type) to the
    candidate's form; returns the item types now in it."""
    def extend(session):
        attempt = session.scalar(select(models.Attempt).join(models.Entry).join(models.Candidate)
                                 .where(models.Candidate.candidate_number == candidate_number))
        first = attempt.form_items[0].item_version
        position = max(fi.position for fi in attempt.form_items)
        versions = []
        for name, plugin in sorted(item_types(app).items()):
            live = session.scalar(select(models.ItemVersion).join(models.Item).where(
                models.ItemVersion.type_name == name, models.Item.status == "live").limit(1))
            versions += [live] if live else []
            examples = FIXTURES / name / "examples.yaml"
            for index, example in enumerate(yaml.safe_load(examples.read_text())["good"] if examples.exists() else []):
                defn = plugin.sanitise_definition(example["definition"])
                item = models.Item(unit_id=first.item.unit_id, key=f"security-{name}-{index}", status="draft")
                session.add(item)
                session.flush()
                version = models.ItemVersion(
                    item_id=item.id, version=1, type_name=name, marks=defn.get("marks", 1), criterion_id=first.criterion_id,
                    definition=defn, content_hash=hashlib.sha256(json.dumps(defn, sort_keys=True).encode()).hexdigest(),
                    created_at=first.created_at)
                session.add(version)
                versions.append(version)
        session.flush()
        for version in versions:
            position += 1
            state = item_type(version.type_name, app).start_attempt(version.definition, random.Random(position))
            session.add(models.FormItem(attempt_id=attempt.id, position=position, item_version_id=version.id,
                                        start_state=state))
        session.commit()
        return sorted({v.type_name for v in versions} | {fi.item_version.type_name for fi in attempt.form_items})
    with app.app_context():
        return read(app, extend)


def _form(app, candidate_number):
    def rows(session):
        attempt = session.scalar(select(models.Attempt).join(models.Entry).join(models.Candidate)
                                 .where(models.Candidate.candidate_number == candidate_number))
        return [(fi.position, fi.item_version.type_name, fi.item_version.definition, fi.start_state, fi.item_version)
                for fi in attempt.form_items]
    with app.app_context():
        return read(app, rows)


def item_choices_not_positions(html: str) -> list[str]:
    """The item's own choices (fields ``r-*``) are posted as display positions, never ids; the
    page's other controls (display settings, say) are not the item's."""
    problems, select_name = [], ""
    for tag, attrs in Tags(html).tags:
        if tag == "select":
            select_name = attrs.get("name") or ""
        value = attrs.get("value") or ""
        item_option = tag == "option" and select_name.startswith("r-")
        item_input = tag == "input" and attrs.get("type") in ("radio", "checkbox") and (attrs.get("name") or "").startswith("r-")
        if (item_option or item_input) and value and not value.isdigit():
            problems.append(f"{tag} value={value!r} is not a display position")
    return problems


class Crawl:
    def __init__(self, app, form):
        self.app, self.checked, self.leaks = app, 0, []
        self.all_keys = set().union(*(key_ids(app, v) for *_, v in form))
        self.notes = [n for *_, defn, _s, _v in form for n in secrets_of(defn)[1]]

    def check(self, response, where, *, keys=None, values=frozenset()):
        """One response: no key ids, no key values in attributes, no notes text, positions only."""
        self.checked += 1
        if response.status_code >= 500:
            self.leaks.append((where, f"server error {response.status_code}"))
        if not response.mimetype.startswith("text/"):
            return
        html = response.get_data(as_text=True)
        problems = []
        try:
            assert_no_key_leak(html, self.all_keys if keys is None else keys)
        except AssertionError as error:
            problems.append(str(error)[:120])
        problems += item_choices_not_positions(html)
        for tag, attrs in Tags(html).tags:
            problems += [f"{tag} {name}={value!r} is a key value" for name, value in attrs.items()
                         if name not in ("class",) and value in values]
        text = _plain(html)
        problems += [f"mark scheme text shown: {note!r}" for note in self.notes if note in text]
        if problems:
            self.leaks.append((where, problems[:3]))


def test_no_page_of_a_full_sitting_with_every_item_type_reveals_a_key(app, demo, invigilator, candidate_factory):
    browser = candidate_factory("0003")
    browser.sign_in()
    browser.confirm()
    invigilator.start(demo["sitting_id"])
    types_in_form = _extend_form(app, "0003")
    assert set(types_in_form) == set(item_types(app)), "every registered item type is in the sitting"
    form = _form(app, "0003")
    crawl = Crawl(app, form)
    client = browser.client
    own_ids = ids_of(app, "0003")

    def crawl_every_page(stage, htmx_too=False):
        for rule, _method in rules(app, methods={"GET"}):
            for path in fill(rule, own_ids):
                crawl.check(client.get(path), f"{stage}: GET {path}")
                if htmx_too:
                    crawl.check(client.get(path, headers={"HX-Request": "true"}), f"{stage}: GET {path} (htmx)")

    crawl_every_page("in the test", htmx_too=True)
    for position, type_name, defn, state, version in form:
        values, _notes = secrets_of(defn)
        for headers in ({}, {"HX-Request": "true"}):
            crawl.check(browser.item_page(position) if not headers else client.get(f"/test/item/{position}", headers=headers),
                        f"item {position} ({type_name}) unanswered", keys=key_ids(app, version), values=values)
    for position, type_name, defn, state, version in form:
        plugin = item_type(type_name, app)
        fields = plugin.fields_for_response(defn, state, plugin.correct_response(defn)) if plugin.auto_marked \
            else {"text": ["My own answer to the question."]}
        # What the candidate typed is theirs to see again (a gap's id can equal its answer).
        keys = key_ids(app, version) - {v for values in fields.values() for v in values}
        crawl.check(browser.answer(position, fields), f"save {position} ({type_name})", keys=keys)
        crawl.check(client.post(f"/test/item/{position}/flag", data={"csrf_token": browser.csrf, "flagged": "1"},
                                headers={"HX-Request": "true"}), f"flag {position}", keys=keys)
        crawl.check(browser.item_page(position), f"item {position} ({type_name}) answered", keys=keys)
    crawl_every_page("answered")
    assert browser.submit().status_code == 303
    crawl_every_page("submitted")
    answered = read(app, lambda s: s.scalar(select(func.count()).select_from(models.ResponseEvent).where(
        models.ResponseEvent.attempt_id == own_ids["attempt_id"])))
    record_figure("answer_key_leak", item_types=len(types_in_form), items_in_form=len(form),
                  responses_checked=crawl.checked, keys_found=len(crawl.leaks))
    assert answered >= len(form), "every item was answered (the crawl saw answered pages)"
    assert crawl.checked >= 4 * len(form)
    assert crawl.leaks == [], f"{len(crawl.leaks)} responses reveal a key: {crawl.leaks[:5]}"


def test_the_crawler_finds_a_planted_key(app, demo):
    """The control: a page with a key id, a key value or mark-scheme text is caught."""
    from werkzeug.wrappers import Response
    defn = {"stem": "<p>Q</p>", "answers": ["Trade Descriptions Act"],
            "mark_scheme": "<p>Award one mark for naming the Trade Descriptions Act.</p>"}
    values, notes = secrets_of(defn)
    assert "Trade Descriptions Act" in values and notes
    crawl = Crawl.__new__(Crawl)
    crawl.checked, crawl.leaks, crawl.all_keys, crawl.notes = 0, [], {"b"}, notes
    crawl.check(Response('<input name="r-choice" value="b">', mimetype="text/html"), "id")
    crawl.check(Response('<input name="r-text" value="Trade Descriptions Act">', mimetype="text/html"), "value",
                values=values)
    crawl.check(Response(f"<p>{notes[0]}</p>", mimetype="text/html"), "notes")
    assert [where for where, _ in crawl.leaks] == ["id", "value", "notes"]
