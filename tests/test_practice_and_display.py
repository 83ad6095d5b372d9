"""Practice mode and the display tools, without a browser: every item type has a valid practice
item, the practice works as plain posts, and display choices are checked, remembered per attempt
and switched on by the candidate's arrangements."""
from __future__ import annotations

import re

from conftest import csrf_from
from engine import access_tools, practice
from engine.plugins import item_types


def test_every_registered_item_type_has_a_valid_practice_item(app):
    with app.app_context():
        samples = practice.samples(app)
        assert practice.missing_types(app) == []
        assert sorted(s["type"] for s in samples) == sorted(item_types(app))
        for sample in samples:
            assert item_types(app)[sample["type"]].validate_definition(sample["definition"]) == [], sample["type"]


def test_practice_works_as_plain_posts_and_marks_at_the_end(client):
    page = client.get("/practice/item/1").get_data(as_text=True)
    token = csrf_from(page)
    assert 'data-save-queue data-attempt="practice"' in page
    response = client.post("/practice/item/1", data={"csrf_token": token, "r-choice": "1", "go": "2"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/practice/item/2")
    receipt = client.post("/practice/item/1", data={"csrf_token": token, "r-choice": "2"}, headers={"HX-Request": "true"})
    assert re.search(r"Saved \d\d:\d\d:\d\d", receipt.get_data(as_text=True))
    assert 'id="nav-1" hx-swap-oob="true"' in receipt.get_data(as_text=True)
    client.post("/practice/item/4/flag", data={"csrf_token": token, "flagged": "1"})
    review = client.get("/practice/review").get_data(as_text=True)
    assert "Flagged for review (1)" in review and "Not answered (8)" in review
    done = client.post("/practice/finish", data={"csrf_token": token}).get_data(as_text=True)
    assert done.count("<tr>") == 10  # a header and nine items
    assert "Not answered (9)" in client.get("/practice/review").get_data(as_text=True)  # forgotten


def test_practice_needs_no_sign_in_and_touches_no_test(client):
    assert client.get("/practice/").status_code == 200
    assert client.get("/practice/item/99").status_code == 404


def test_display_choices_are_checked_field_by_field(client):
    token = csrf_from(client.get("/start").get_data(as_text=True))
    bad = client.post("/display", data={"csrf_token": token, "colour_scheme": "purple", "text_size": "900"})
    assert bad.status_code == 400
    problems = bad.get_json()["problems"]
    assert any(p.startswith("colour_scheme:") for p in problems) and any(p.startswith("text_size:") for p in problems)
    good = client.post("/display", data={"csrf_token": token, "colour_scheme": "yellow", "line_spacing": "wider",
                                         "next": "/start"})
    assert good.status_code == 303 and good.headers["Location"] == "/start"
    html = client.get("/start").get_data(as_text=True)
    assert re.search(r'<html lang="en-GB" class="[^"]*scheme-yellow[^"]*spacing-wider|spacing-wider[^"]*scheme-yellow', html)
    away = client.post("/display", data={"csrf_token": token, "next": "//evil.example/"})
    assert away.headers["Location"] == "/"


def test_arrangements_switch_tools_on_and_a_choice_belongs_to_the_attempt(app, demo, candidate_factory):
    from sqlalchemy import select

    from engine import db, models
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            candidate = session.scalar(select(models.Candidate).where(models.Candidate.candidate_number == "0003"))
            candidate.access_arrangements = {"colour_scheme": "blue", "enlarged_text": True, "computer_reader": True}
        session.close()
    chloe = candidate_factory("0003")
    chloe.sign_in()
    page = chloe.client.get("/details").get_data(as_text=True)
    assert 'class="text-150 spacing-normal scheme-blue reader-on"' in page
    chloe.client.post("/display", data={"csrf_token": chloe.csrf, "colour_scheme": "pink", "read_aloud_shown": "1"})
    page = chloe.client.get("/details").get_data(as_text=True)
    assert 'class="text-150 spacing-normal scheme-pink"' in page  # read aloud unticked, the rest kept


def test_read_aloud_is_withheld_where_the_test_forbids_it(app, demo, candidate_factory):
    app.config["READ_ALOUD_FORBIDDEN"] = ("unit-2",)
    aisha = candidate_factory("0001")
    aisha.sign_in()
    page = aisha.client.get("/details").get_data(as_text=True)
    assert "data-read-aloud-controls" not in page and 'name="read_aloud"' not in page
    assert access_tools.from_arrangements({"computer_reader": True})["read_aloud"] is True


def test_keycodes_have_no_confusable_characters_and_sign_in_allows_paste(client):
    from engine.attempts import KEYCODE_ALPHABET, normalise_keycode
    assert not set("0O1IL2Z5S8B") & set(KEYCODE_ALPHABET)
    assert normalise_keycode(" gq-j3 9kwq ") == "GQJ39KWQ"  # pasted with spaces or a dash, small letters
    page = client.get("/start").get_data(as_text=True)
    assert "onpaste" not in page and 'for="keycode"' in page
