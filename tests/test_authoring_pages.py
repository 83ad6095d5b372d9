"""The authoring pages: an item of every type written through its author form, previewed as the
candidate sees it, checked with messages on the fields they concern, reviewed, approved, and then
in the pool new sittings are assembled from; the bank browsed and filtered."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine import db, models
from engine.attempts import live_pool
from engine.plugins import item_types

from authoring_support import author_fields, create_item, example_definition, item_id, staff, unit_and_criterion
from conftest import TEST_SETTINGS
from engine import create_app

TYPE_NAMES = sorted(item_types(create_app({**TEST_SETTINGS, "DATABASE_URL": "sqlite://"})))


def test_every_type_can_be_written_previewed_reviewed_and_used(app, demo):
    writer, reviewer = staff(app, "writer", "write-demo"), staff(app, "reviewer", "review-demo")
    unit_id, _, _ = unit_and_criterion(app)
    for type_name in TYPE_NAMES:
        page = writer.client.get(f"/author/new?unit={unit_id}&type={type_name}")
        assert page.status_code == 200, type_name
        html = page.get_data(as_text=True)
        assert 'name="a-stem"' in html and 'name="csrf_token"' in html and 'hx-post="/author/preview"' in html, (type_name, html[html.find("<fieldset"):][:600])
        # The live preview (htmx) shows the item exactly as the candidate template renders it.
        fields = author_fields(app, type_name, example_definition(type_name))
        preview = writer.client.post("/author/preview", headers={"HX-Request": "true"},
                                     data={"csrf_token": writer.csrf, "type_name": type_name, **fields})
        assert preview.status_code == 200
        shown = preview.get_data(as_text=True)
        assert 'class="item"' in shown and 'name="r-' in shown or type_name == "extended_response" and "r-" in shown, type_name
        key = f"u2-ui-{type_name.replace('_', '-')}"
        saved = create_item(writer, app, type_name, key)
        assert saved.status_code == 303, (type_name, saved.get_data(as_text=True)[:2000])
        number = item_id(app, key)
        assert writer.post(f"/author/items/{number}/workflow", action="submit").status_code == 303
        assert reviewer.post(f"/author/items/{number}/workflow", action="approve").status_code == 303
    with app.app_context():
        session = db.new_session(app)
        spec = session.scalar(select(models.TestSpecification).join(models.Unit).where(models.Unit.urn == "Y/506/2152"))
        pooled = {p.key for p in live_pool(session, spec)}
        session.close()
    assert {f"u2-ui-{t.replace('_', '-')}" for t in TYPE_NAMES} <= pooled


def test_problems_are_shown_on_the_fields_they_concern(app, demo):
    writer = staff(app, "writer", "write-demo")
    unit_id, criterion, _ = unit_and_criterion(app)
    definition = {**example_definition("single_choice"), "stem": "<p>See <img src=\"/assets/x.png\"></p>", "marks": "two"}
    response = writer.client.post("/author/new", data={
        "csrf_token": writer.csrf, "unit": str(unit_id), "type": "single_choice", "type_name": "single_choice",
        "key": "Bad Id", "criterion": criterion, "topics": [], "difficulty": "7", "action": "save",
        **author_fields(app, "single_choice", definition)})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for field, words in [("key", "lower-case id"), ("topics", "tick at least one topic"),
                         ("difficulty", "from 0 (easy) to 1"), ("a-marks", "positive number of marks"),
                         ("a-stem", "alt text")]:
        error = re.search(rf'<p class="field-error" id="{field}-error-\d">([^<]*)</p>', html)
        assert error and words in error.group(1), field
    assert re.search(r'id="a-marks"[^>]*aria-describedby="a-marks-hint a-marks-error-1"[^>]*aria-invalid="true"', html)
    assert re.search(r'id="difficulty"[^>]*aria-describedby="difficulty-hint difficulty-error-1" aria-invalid="true"', html)
    assert "upload it on the Images page" in html  # an image that is not an uploaded asset
    with app.app_context():
        session = db.new_session(app)
        assert session.scalar(select(models.Item).where(models.Item.key == "Bad Id")) is None
        session.close()


def test_plain_post_preview_works_without_javascript(app, demo):
    writer = staff(app, "writer", "write-demo")
    unit_id, criterion, topics = unit_and_criterion(app)
    response = writer.client.post("/author/new", data={
        "csrf_token": writer.csrf, "unit": str(unit_id), "type": "numeric", "type_name": "numeric",
        "key": "u2-prev-01", "criterion": criterion, "topics": topics, "action": "preview",
        **author_fields(app, "numeric", example_definition("numeric"))})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<div id="live-preview"><div class="item">' in html.replace("\n", "")
    with app.app_context():
        session = db.new_session(app)
        assert session.scalar(select(models.Item).where(models.Item.key == "u2-prev-01")) is None  # nothing saved
        session.close()


def test_the_bank_can_be_browsed_and_filtered(app, demo):
    reviewer = staff(app, "reviewer", "review-demo")
    everything = reviewer.client.get("/author/").get_data(as_text=True)
    total = int(re.search(r"<caption>(\d+) items</caption>", everything).group(1))
    assert total > 100
    numeric = reviewer.client.get("/author/?type=numeric").get_data(as_text=True)
    keys = re.findall(r'<th scope="row"><a href="/author/items/\d+">([^<]+)</a>', numeric)
    with app.app_context():
        session = db.new_session(app)
        expected = {i.key for i in session.scalars(select(models.Item)) if i.versions[-1].type_name == "numeric"}
        session.close()
    assert set(keys) == expected and 0 < len(keys) < total
    by_ac = reviewer.client.get("/author/?ac=1.1&lo=1").get_data(as_text=True)
    assert all(k.startswith(("u2-1.1", "u4-1.1", "u5-1.1")) for k in re.findall(r'/author/items/\d+">([^<]+)<', by_ac))
    assert "0 items" in reviewer.client.get("/author/?status=retired").get_data(as_text=True)


def test_only_writers_and_reviewers_reach_the_pages(app, demo):
    invigilator = staff(app, "invigilator", "invigilate-demo")
    assert invigilator.client.get("/author/").status_code == 403
    reviewer = staff(app, "reviewer", "review-demo")
    assert reviewer.client.get("/author/new").status_code == 403  # reviewers review; writers write
    assert reviewer.client.get("/author/images").status_code == 403
    anonymous = app.test_client()
    assert anonymous.get("/author/").status_code == 302


def test_hostile_html_is_cleaned_in_the_preview_and_on_save(app, demo):
    from xss_payloads import BASE
    writer = staff(app, "writer", "write-demo")
    unit_id, criterion, topics = unit_and_criterion(app)
    hostile = "<p>Pick one.</p>" + "".join(p for p in BASE if "<img" not in p.lower()) + '<p data-hx-get="/x" hx-post="/y">Hi</p>'
    definition = {**example_definition("single_choice"), "stem": hostile}
    fields = author_fields(app, "single_choice", definition)
    preview = writer.client.post("/author/preview", headers={"HX-Request": "true"},
                                 data={"csrf_token": writer.csrf, "type_name": "single_choice", **fields})
    assert preview.headers["Vary"] and "HX-Request" in preview.headers["Vary"]
    response = writer.client.post("/author/new", data={
        "csrf_token": writer.csrf, "unit": str(unit_id), "type": "single_choice", "type_name": "single_choice",
        "key": "u2-xss-01", "criterion": criterion, "topics": topics, "action": "save", **fields})
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    with app.app_context():
        session = db.new_session(app)
        stem = session.scalar(select(models.Item).where(models.Item.key == "u2-xss-01")).versions[-1].definition["stem"]
        session.close()
    shown = preview.get_data(as_text=True)
    for text in (stem, shown):
        lowered = text.lower()
        for bad in ("<script", "javascript:", "onerror", "onload", "hx-", "<iframe", "<svg", "<object", "<form"):
            assert bad not in lowered, (bad, text[:500])
    assert "Pick one." in stem and "Hi" in stem


def test_typed_item_forms_show_problems_on_their_fields_too(app, demo):
    writer = staff(app, "writer", "write-demo")
    unit_id, criterion, topics = unit_and_criterion(app)
    definition = {**example_definition("numeric"), "answer": "twelve"}
    response = writer.client.post("/author/new", data={
        "csrf_token": writer.csrf, "unit": str(unit_id), "type": "numeric", "type_name": "numeric",
        "key": "u2-num-bad", "criterion": criterion, "topics": topics, "action": "save",
        **author_fields(app, "numeric", definition)})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(r'<p class="field-error" id="a-answer-error-1">([^<]+)</p>\s*<input[^>]*id="author-answer"([^>]*)>', html)
    assert error, html[html.find("author-answer") - 400:][:900]
    assert 'aria-describedby="author-answer-hint a-answer-error-1"' in error.group(2)
    assert 'aria-invalid="true"' in error.group(2)


def test_statistics_flags_are_shown_and_filter_the_list(app, demo, monkeypatch):
    import engine.item_statistics as statistics
    from types import SimpleNamespace
    flagged = {item_id(app, "u2-1.1-01"): ["hard: facility 0.12 is below 0.2"],
               item_id(app, "u2-1.1-02"): ["negative discrimination -0.30: check the key", "hard: facility 0.10 is below 0.2"]}
    monkeypatch.setattr(statistics, "statistics_for_items", lambda session, ids: {
        i: SimpleNamespace(flags=flagged.get(i, [])) for i in ids})
    reviewer = staff(app, "reviewer", "review-demo")
    page = reviewer.client.get("/author/?unit=&flag=").get_data(as_text=True)
    assert '<option value="hard">hard</option>' in page
    assert '<option value="negative discrimination">negative discrimination</option>' in page
    hard = reviewer.client.get("/author/?flag=hard").get_data(as_text=True)
    assert re.findall(r'/author/items/\d+">([^<]+)<', hard) == ["u2-1.1-01", "u2-1.1-02"]
    assert "negative discrimination -0.30: check the key" in hard
    negative = reviewer.client.get("/author/?flag=negative+discrimination").get_data(as_text=True)
    assert re.findall(r'/author/items/\d+">([^<]+)<', negative) == ["u2-1.1-02"]
    # Statistics that fail never take the bank page down with them.
    monkeypatch.setattr(statistics, "statistics_for_items", lambda session, ids: 1 / 0)
    assert reviewer.client.get("/author/").status_code == 200
