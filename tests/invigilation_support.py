"""Helpers shared by the invigilation tests: reading attempts and the ledger straight from the
database, answering a whole form, and htmx-flavoured requests."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from engine import attempts, clock, db, models
from engine.plugins import item_type

HX = {"HX-Request": "true"}


def attempt_of(app, number: str, sitting_id: int | None = None) -> models.Attempt:
    """The candidate's attempt (in ``sitting_id``, else the newest), detached with its form loaded."""
    with app.app_context():
        session = db.new_session(app)
        query = (select(models.Attempt).join(models.Entry).join(models.Candidate)
                 .where(models.Candidate.candidate_number == number).order_by(models.Attempt.id.desc()))
        if sitting_id is not None:
            query = query.where(models.Entry.sitting_id == sitting_id)
        attempt = session.scalars(query).first()
        for form_item in attempt.form_items:
            form_item.item_version
        attempt.entry.candidate, attempt.result
        session.close()
        return attempt


def remaining(app, number: str, sitting_id: int | None = None) -> float:
    with app.app_context():
        session = db.new_session(app)
        attempt = session.get(models.Attempt, attempt_of(app, number, sitting_id).id)
        left = attempts.ledger(session, attempt, clock.now(session)).remaining_seconds
        session.close()
        return left


def ledger(app, number: str, sitting_id: int | None = None):
    with app.app_context():
        session = db.new_session(app)
        attempt = session.get(models.Attempt, attempt_of(app, number, sitting_id).id)
        found = attempts.ledger(session, attempt, clock.now(session))
        session.close()
        return found


def set_arrangements(app, number: str, arrangements: dict) -> None:
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            candidate = session.scalar(select(models.Candidate).where(models.Candidate.candidate_number == number))
            candidate.access_arrangements = arrangements
        session.close()


def correct_fields(app, form_item) -> dict:
    with app.app_context():
        version = form_item.item_version
        plugin = item_type(version.type_name)
        return plugin.fields_for_response(version.definition, form_item.start_state,
                                          plugin.correct_response(version.definition))


def answer_everything(app, browser, number: str) -> dict[int, dict]:
    """Save a blank answer and then the correct one for every item; returns position -> fields."""
    attempt = attempt_of(app, number)
    latest = {}
    for form_item in attempt.form_items:
        blank = browser.answer(form_item.position, {})
        assert blank.status_code == 200, blank.get_data(as_text=True)
        fields = correct_fields(app, form_item)
        saved = browser.answer(form_item.position, fields)
        assert saved.status_code == 200, saved.get_data(as_text=True)
        latest[form_item.position] = fields
    return latest


def assert_marked_with_latest_saves(app, number: str) -> None:
    """Every item was marked on its latest acknowledged save (not an earlier one)."""
    attempt = attempt_of(app, number)
    assert attempt.state == "finished" and attempt.result is not None
    with app.app_context():
        session = db.new_session(app)
        for form_item in attempt.form_items:
            last = session.scalars(select(models.ResponseEvent).where(
                models.ResponseEvent.attempt_id == attempt.id, models.ResponseEvent.position == form_item.position)
                .order_by(models.ResponseEvent.seq.desc())).first()
            assert last is not None, f"item {form_item.position} has no save"
            assert form_item.current_response == last.response
            assert form_item.current_seq == last.seq
            version = form_item.item_version
            expected = item_type(version.type_name).mark(version.definition, last.response)
            assert form_item.marks_awarded == expected.awarded, f"item {form_item.position}"
        session.close()
    assert attempt.result.total == sum(fi.marks_awarded for fi in attempt.form_items)
    assert attempt.result.total > 0  # the blank first saves would score nothing


def save(browser, position: int, fields: dict, *, htmx: bool = True):
    return browser.answer(position, fields, htmx=htmx, key=uuid.uuid4().hex)


def response_count(app, attempt_id: int) -> int:
    with app.app_context():
        session = db.new_session(app)
        count = len(session.scalars(select(models.ResponseEvent.id).where(
            models.ResponseEvent.attempt_id == attempt_id)).all())
        session.close()
        return count


def sign_in_anywhere(browser):
    """Sign in as conftest's helper does, for when the next page has no form (e.g. paused)."""
    import re
    from conftest import csrf_from
    page = browser.client.get("/start").get_data(as_text=True)
    response = browser.client.post("/start", data={
        "centre_number": browser.centre, "candidate_number": browser.number, "keycode": browser.keycode,
        "csrf_token": csrf_from(page)})
    assert response.status_code == 303, response.get_data(as_text=True)
    landing = browser.client.get("/details", follow_redirects=True).get_data(as_text=True)
    browser.csrf = re.search(r'"X-CSRFToken": "([^"]+)"', landing).group(1)
    return landing
