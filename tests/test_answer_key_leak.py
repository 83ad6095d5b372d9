"""Nothing a candidate's browser receives may reveal an answer key.

Every item of every type in the demo bank is rendered as the candidate sees it (a form holds
only 30 of the bank's 45 marks, so every live item version is also rendered directly through
its type's candidate template), and every page of the candidate's journey is crawled.
"""
from __future__ import annotations

import random
import re
from html.parser import HTMLParser

from flask import render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from engine import db, models
from engine.plugins import item_type

FORBIDDEN_STRINGS = ("data-key", "data-correct", "data-score", "data-answer")


class Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def option_ids(defn: dict) -> set[str]:
    """The ids of a choice item's options (a true/false preset has its own two)."""
    if defn.get("preset") == "true_false" and "options" not in defn:
        return {"true", "false"}
    options = defn.get("options")
    return {o["id"] for o in options if isinstance(o, dict)} if isinstance(options, list) else set()


def definition_ids(value) -> set[str]:
    """Every ``id`` of a mapping anywhere in a definition: options, premises, items, gaps."""
    if isinstance(value, dict):
        found = {value["id"]} if isinstance(value.get("id"), str) else set()
        return found.union(*(definition_ids(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(definition_ids(v) for v in value))
    return set()


def string_leaves(value) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, (dict, list)):
        values = value.values() if isinstance(value, dict) else value
        return set().union(*(string_leaves(v) for v in values))
    return set()


def key_ids(app, version: models.ItemVersion) -> set[str]:
    """The identifiers from the definition that the correct answer is made of."""
    defn = version.definition
    correct = item_type(version.type_name, app).correct_response(defn)
    return string_leaves(correct) & (definition_ids(defn) | option_ids(defn))


def choice_values(html: str) -> list[str]:
    return [a.get("value") for tag, a in Tags(html).tags if tag == "input" and a.get("name") == "r-choice"]


def assert_no_key_leak(html: str, keys: set[str]) -> None:
    """Checks that hold for a whole page as well as for an item's fragment."""
    lowered = html.lower()
    for forbidden in FORBIDDEN_STRINGS:
        assert forbidden not in lowered, forbidden
    # Digits cannot be told apart from display positions; every other key id must not appear.
    keys = {k for k in keys if not k.isdigit()}
    for tag, attrs in Tags(html).tags:
        for name, value in attrs.items():
            value = value or ""
            if name == "class":
                tokens = value.split()
                assert not any("correct" in t.lower() for t in tokens), (tag, attrs)
                assert not set(tokens) & keys, (tag, attrs)
            if name.startswith("data-"):
                assert "correct" not in name.lower() and "correct" not in value.lower(), (tag, attrs)
                assert "score" not in name.lower() and "answer" not in name.lower(), (tag, attrs)
            if name in ("value", "name", "id", "for", "title") or name.startswith("data-"):
                assert value not in keys, f"{tag} {name}={value!r} is a key id"
                assert not any(value.endswith(f"-{k}") for k in keys), f"{tag} {name}={value!r} ends in a key id"


def assert_choices_are_positions(html: str) -> None:
    """Whatever the type, a choice the candidate makes is posted as a position, never an id.
    Only the item's own fields (``r-*``) count: the page's other controls (the candidate's
    display settings, say) are not the item's."""
    select_name = ""
    for tag, attrs in Tags(html).tags:
        if tag == "select":
            select_name = attrs.get("name") or ""
        item_field = (tag == "option" and select_name.startswith("r-")) or (
            tag == "input" and attrs.get("type") in ("radio", "checkbox") and (attrs.get("name") or "").startswith("r-"))
        if item_field:
            value = attrs.get("value") or ""
            assert value == "" or value.isdigit(), f"{tag} value={value!r} is not a display position"


def assert_fragment_is_clean(app, html: str, version: models.ItemVersion, state: dict) -> None:
    """An item's own fragment, rendered without an answer."""
    defn = version.definition
    assert_no_key_leak(html, key_ids(app, version))
    assert_choices_are_positions(html)
    ids = option_ids(defn)
    if not (ids and choice_values(html)):
        return
    # A choice item: no option id in any attribute, values 0..n-1, options in the attempt's order.
    for tag, attrs in Tags(html).tags:
        for name, value in attrs.items():
            assert value not in ids, f"{tag} {name}={value!r} is an option id"
    assert choice_values(html) == [str(i) for i in range(len(ids))]
    texts = {o["id"]: o["text"] for o in defn.get("options", [])} or {"true": "True", "false": "False"}
    found = [html.find(f">{texts[oid]}<") for oid in state["order"]]
    assert -1 not in found and found == sorted(found)


def assert_candidate_headers(response, where: str) -> None:
    assert "no-store" in response.headers.get("Cache-Control", ""), where
    csp = response.headers.get("Content-Security-Policy", "")
    assert csp, where
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    assert "script-src 'self'" in csp, where


def live_versions(app) -> list[models.ItemVersion]:
    session = db.new_session(app)
    try:
        return list(session.scalars(
            select(models.ItemVersion).join(models.Item).where(models.Item.status == "live")
            .options(selectinload(models.ItemVersion.item)).order_by(models.ItemVersion.id)))
    finally:
        session.close()


def form_of(app, candidate_number):
    """(position, version, start_state) for each item of the candidate's form."""
    session = db.new_session(app)
    try:
        attempt = session.scalar(select(models.Attempt).join(models.Entry).join(models.Candidate)
                                 .where(models.Candidate.candidate_number == candidate_number))
        return [(fi.position, fi.item_version, fi.start_state) for fi in attempt.form_items]
    finally:
        session.close()


def test_every_live_item_renders_without_its_key(app, demo):
    versions = live_versions(app)
    assert len(versions) >= 30
    rendered_types = set()
    with app.test_request_context():
        for version in versions:
            plugin = item_type(version.type_name, app)
            for seed in range(3):
                state = plugin.start_attempt(version.definition, random.Random(seed))
                html = render_template(
                    f"itemtype-{version.type_name}/candidate.html",
                    ctx=plugin.candidate_context(version.definition, state, None),
                    prefix="r-", number=1, marks=version.marks, readonly=False)
                assert_fragment_is_clean(app, html, version, state)
            if plugin.auto_marked:
                # The candidate's own (here: right) answer is shown as their choice, nothing more.
                answered = render_template(
                    f"itemtype-{version.type_name}/candidate.html",
                    ctx=plugin.candidate_context(version.definition, state, plugin.correct_response(version.definition)),
                    prefix="r-", number=1, marks=version.marks, readonly=False)
                assert_no_key_leak(answered, set())
                assert_choices_are_positions(answered)
            rendered_types.add(version.type_name)
    assert {"single_choice", "multiple_response"} <= rendered_types


def test_a_checked_answer_shows_only_as_checked_positions(app, demo):
    """Rendering the candidate's own answer marks their positions checked, and nothing else."""
    with app.test_request_context():
        for version in live_versions(app):
            if not option_ids(version.definition):
                continue
            plugin = item_type(version.type_name, app)
            state = plugin.start_attempt(version.definition, random.Random(99))
            correct = plugin.correct_response(version.definition)
            html = render_template(
                f"itemtype-{version.type_name}/candidate.html",
                ctx=plugin.candidate_context(version.definition, state, correct),
                prefix="r-", number=1, marks=version.marks, readonly=True)
            checked = re.findall(r'value="(\d+)" checked', html)
            assert checked == sorted(plugin.fields_for_response(version.definition, state, correct)["choice"], key=int)


def test_candidate_journey_never_reveals_a_key(app, demo, invigilator, candidate_factory):
    responses = []

    def seen(response, where):
        responses.append((where, response))
        return response

    browser = candidate_factory("0001")
    client = browser.client
    seen(client.get("/start"), "GET /start")
    seen(client.post("/start", data={"centre_number": "99001", "candidate_number": "0001", "keycode": "WRONG",
                                     "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"',
                                                             client.get("/start").get_data(as_text=True)).group(1)}),
         "POST /start (wrong keycode)")
    browser.sign_in()
    seen(client.get("/details"), "GET /details")
    seen(browser.confirm(), "POST /details")
    seen(client.get("/wait"), "GET /wait")
    seen(client.get("/wait", headers={"HX-Request": "true"}), "GET /wait (htmx)")
    invigilator.start(demo["sitting_id"])
    seen(client.get("/wait", headers={"HX-Request": "true"}), "GET /wait (htmx, started)")
    seen(client.get("/test"), "GET /test")

    form = form_of(app, "0001")
    all_keys = set().union(*(key_ids(app, v) for _, v, _ in form))

    for position, version, state in form:
        page = seen(browser.item_page(position), f"GET /test/item/{position}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert_no_key_leak(html, key_ids(app, version))
        assert_choices_are_positions(html)
        if choice_values(html):
            assert choice_values(html) == [str(i) for i in range(len(option_ids(version.definition)))]
        plugin = item_type(version.type_name, app)
        fields = plugin.fields_for_response(version.definition, state, plugin.correct_response(version.definition)) \
            if plugin.auto_marked else {}
        saved = seen(browser.answer(position, fields), f"POST /test/item/{position} (htmx)")
        assert saved.status_code == 200 and "Saved" in saved.get_data(as_text=True)
        flagged = seen(client.post(f"/test/item/{position}/flag", data={"csrf_token": browser.csrf, "flagged": "1"},
                                   headers={"HX-Request": "true"}), f"POST flag {position} (htmx)")
        assert flagged.status_code == 200
        # After saving, the page shows the candidate's answer as their choice, and nothing more.
        again = seen(browser.item_page(position), f"GET /test/item/{position} (answered)")
        assert_no_key_leak(again.get_data(as_text=True), key_ids(app, version))
        assert_choices_are_positions(again.get_data(as_text=True))

    position, version, state = form[0]
    plugin = item_type(version.type_name, app)
    fields = plugin.fields_for_response(version.definition, state, plugin.correct_response(version.definition)) \
        if plugin.auto_marked else {}
    seen(browser.answer(position, fields, htmx=False), "POST /test/item/1 (plain)")
    seen(client.post("/test/item/1/flag", data={"csrf_token": browser.csrf, "flagged": "0"}), "POST flag 1 (plain)")
    seen(client.get("/test/review"), "GET /test/review")
    seen(client.get("/test/time", headers={"HX-Request": "true"}), "GET /test/time")
    seen(client.post("/test/submit", data={"csrf_token": browser.csrf}), "POST /test/submit (unconfirmed)")
    seen(browser.submit(), "POST /test/submit")
    done = seen(client.get("/test/done"), "GET /test/done")
    assert "submitted" in done.get_data(as_text=True)
    seen(client.get("/test/time", headers={"HX-Request": "true"}), "GET /test/time (finished)")

    assert len(responses) > 4 * len(form)
    for where, response in responses:
        assert_candidate_headers(response, where)
        assert response.status_code < 500, where
        if response.mimetype == "text/html":
            assert_no_key_leak(response.get_data(as_text=True), all_keys)
