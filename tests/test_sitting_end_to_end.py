"""A whole sitting through the test client: the journey issue 2 promises, on each database."""
from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from engine import db, models
from engine.plugins import item_type


def form_of(app, candidate_number):
    """(position, version, start_state) for each item of the candidate's form."""
    with app.app_context():
        session = db.new_session(app)
        attempt = session.scalar(select(models.Attempt).join(models.Entry).join(models.Candidate)
                                 .where(models.Candidate.candidate_number == candidate_number))
        rows = [(fi.position, fi.item_version, fi.start_state) for fi in attempt.form_items]
        for _, version, _ in rows:
            version.criterion.learning_outcome  # loaded now, read after the session closes
        session.close()
        return rows


def correct_fields(app, version, state):
    with app.app_context():
        plugin = item_type(version.type_name)
        return plugin.fields_for_response(version.definition, state, plugin.correct_response(version.definition))


def wrong_fields(app, version, state):
    """Fields for an answer that scores 0, for any item type: the first choice that is not the
    key where the type has choices, otherwise a blank answer."""
    with app.app_context():
        plugin = item_type(version.type_name)
        correct = plugin.fields_for_response(version.definition, state, plugin.correct_response(version.definition))
        if set(correct) == {"choice"}:
            return {"choice": [next(str(p) for p in range(10) if str(p) not in set(correct["choice"]))]}
        return {}


def test_whole_sitting(app, demo, invigilator, candidate_factory, clock):
    sitting_id = demo["sitting_id"]
    aisha = candidate_factory("0001")
    aisha.sign_in()
    aisha.confirm()
    assert "Waiting for your invigilator" in aisha.client.get("/wait").get_data(as_text=True)
    # Before the start, no item is reachable.
    assert aisha.item_page(1).status_code in (302, 303)

    invigilator.start(sitting_id)
    register = invigilator.client.get(f"/invigilate/sittings/{sitting_id}/register").get_data(as_text=True)
    assert "Working" in register

    form = form_of(app, "0001")
    assert sum(v.marks for _, v, _ in form) == Decimal(30)
    outcomes = {v.criterion.learning_outcome.number for _, v, _ in form}
    assert outcomes == {"1", "2", "3", "4"}

    # Answer all but the last item correctly; the last one wrongly, then correct it later.
    for position, version, state in form[:-1]:
        response = aisha.answer(position, correct_fields(app, version, state))
        assert response.status_code == 200
        assert re.search(r"Saved \d\d:\d\d:\d\d", response.get_data(as_text=True))
    last_position, last_version, last_state = form[-1]
    aisha.answer(last_position, wrong_fields(app, last_version, last_state))

    # The browser is lost: a new one signs in and finds the same form and answers.
    pages_before = [aisha.item_page(p).get_data(as_text=True) for p, _, _ in form]
    replacement = candidate_factory("0001")
    replacement.sign_in()
    assert replacement.client.get("/details").status_code == 302  # already confirmed: straight on
    for (position, _, _), before in zip(form, pages_before):
        after = replacement.item_page(position).get_data(as_text=True)
        assert _checked(after) == _checked(before)
    assert [(p, v.id, s) for p, v, s in form_of(app, "0001")] == [(p, v.id, s) for p, v, s in form]
    # The old browser is cut off.
    assert aisha.item_page(1).status_code in (302, 303)

    replacement.answer(last_position, correct_fields(app, last_version, last_state), htmx=False)
    response = replacement.submit()
    assert response.status_code == 303
    done = replacement.client.get("/test/done").get_data(as_text=True)
    assert "Your answers have been submitted" in done
    # Read-only after submit.
    refused = replacement.answer(1, correct_fields(app, form[0][1], form[0][2]))
    assert refused.status_code == 409

    results = invigilator.client.get(f"/results/sittings/{sitting_id}").get_data(as_text=True)
    assert "30 / 30" in results and "Pass" in results


def _checked(html: str) -> list[str]:
    return re.findall(r'value="(\d+)" checked', html)


def test_time_runs_out_on_the_server(app, demo, invigilator, candidate_factory, clock, runner):
    ben = candidate_factory("0002")  # 25 % extra time: 56 min 15 s
    ben.sign_in()
    ben.confirm()
    invigilator.start(demo["sitting_id"])
    position, version, state = form_of(app, "0002")[0]
    ben.answer(position, correct_fields(app, version, state))
    clock.advance(minutes=56, seconds=14)
    assert ben.answer(position, correct_fields(app, version, state)).status_code == 200
    clock.advance(seconds=5)  # past the deadline, within the grace for saves in flight
    late = ben.answer(position, correct_fields(app, version, state))
    assert late.status_code == 200
    clock.advance(minutes=5)  # the browser is gone; the sweeper finishes the attempt
    result = runner.invoke(args=["sweep"])
    assert "Finished 1 timed-out" in result.output
    with app.app_context():
        session = db.new_session(app)
        attempt = session.scalar(select(models.Attempt).join(models.Entry).join(models.Candidate)
                                 .where(models.Candidate.candidate_number == "0002"))
        assert attempt.state == "finished" and attempt.finish_reason == "timed_out"
        assert attempt.result.total == version.marks
        assert attempt.finished_at - attempt.started_at == __import__("datetime").timedelta(minutes=56, seconds=15)
        session.close()


def test_ending_the_sitting_marks_latest_saves(app, demo, invigilator, candidate_factory):
    chloe = candidate_factory("0003")
    chloe.sign_in()
    chloe.confirm()
    invigilator.start(demo["sitting_id"])
    form = form_of(app, "0003")
    position, version, state = form[0]
    chloe.answer(position, wrong_fields(app, version, state))
    chloe.answer(position, correct_fields(app, version, state))
    invigilator.end(demo["sitting_id"])
    assert "ended by your invigilator" in chloe.client.get("/test/done", follow_redirects=True).get_data(as_text=True).lower() \
        or "invigilator ended the sitting" in chloe.client.get("/test/done").get_data(as_text=True)
    page = invigilator.client.get(f"/results/sittings/{demo['sitting_id']}").get_data(as_text=True)
    assert f"{version.marks.normalize()} / 30" in page
    # A candidate who never signed in is recorded as absent, with no result.
    assert "absent" in page
