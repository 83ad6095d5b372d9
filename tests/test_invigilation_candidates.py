"""One candidate under the invigilator's control: rest breaks, added time, moving workstation,
absent / withdrawn / voided, and the arrangement rules applied when the form is made."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from engine import db, models
from invigilation_support import (
    HX, answer_everything, attempt_of, correct_fields, ledger, remaining, response_count, set_arrangements,
    sign_in_anywhere,
)


def _in(candidate_factory, number):
    browser = candidate_factory(number)
    browser.sign_in()
    browser.confirm()
    return browser


def _act(invigilator, sitting_id, attempt_id, action, **data):
    return invigilator.post(f"/invigilate/sittings/{sitting_id}/attempts/{attempt_id}/{action}", **data)


def test_rest_break_requested_by_the_candidate_and_run_by_the_invigilator(app, demo, invigilator, candidate_factory,
                                                                          clock):
    sitting_id = demo["sitting_id"]
    set_arrangements(app, "0003", {"rest_breaks": True})
    chloe = _in(candidate_factory, "0003")
    invigilator.start(sitting_id)
    page = chloe.item_page(1).get_data(as_text=True)
    assert "Request a rest break" in page
    assert "Request a rest break" not in _in(candidate_factory, "0001").item_page(1).get_data(as_text=True)

    clock.advance(minutes=10)
    requested = chloe.client.post("/test/break-request", data={"csrf_token": chloe.csrf}, headers=HX)
    assert requested.status_code == 200 and "Cancel break request" in requested.get_data(as_text=True)
    register = invigilator.client.get(f"/invigilate/sittings/{sitting_id}/register").get_data(as_text=True)
    assert "asked for a rest break" in register and "Start the break" in register

    attempt = attempt_of(app, "0003")
    before = remaining(app, "0003")
    started = _act(invigilator, sitting_id, attempt.id, "break-start", next="dashboard")
    assert started.status_code == 303 and started.headers["Location"].endswith(f"/invigilate/sittings/{sitting_id}")
    assert attempt_of(app, "0003").state == "on_break" and attempt_of(app, "0003").break_requested_at is None
    assert chloe.client.get("/test/time", headers=HX).headers["HX-Redirect"] == "/paused"
    screen = chloe.client.get("/paused").get_data(as_text=True)
    assert "supervised rest break" in screen and 'name="r-' not in screen
    assert chloe.client.get("/paused?shown=break", headers=HX).status_code == 204  # nothing changed: nothing swapped

    clock.advance(minutes=7)
    assert remaining(app, "0003") == before
    ended = _act(invigilator, sitting_id, attempt.id, "break-end")
    assert ended.status_code == 303
    assert chloe.client.get("/paused?shown=break", headers=HX).headers["HX-Redirect"] == "/test"
    assert remaining(app, "0003") == before
    found = ledger(app, "0003")
    assert found.break_seconds == 7 * 60 and found.breaks == 1
    candidate_page = invigilator.client.get(f"/invigilate/sittings/{sitting_id}/attempts/{attempt.id}").get_data(as_text=True)
    assert "1 taken, 7 min 00 s" in candidate_page
    report = invigilator.client.get(f"/invigilate/sittings/{sitting_id}/report").get_data(as_text=True)
    assert "1: 7 min 00 s" in report


def test_a_break_outside_the_arrangements_needs_a_reason(app, demo, invigilator, candidate_factory):
    sitting_id = demo["sitting_id"]
    _in(candidate_factory, "0001")
    invigilator.start(sitting_id)
    attempt = attempt_of(app, "0001")
    refused = _act(invigilator, sitting_id, attempt.id, "break-start")
    assert refused.status_code == 400 and "no rest-break arrangement" in refused.get_data(as_text=True)
    assert attempt_of(app, "0001").state == "in_progress"
    assert _act(invigilator, sitting_id, attempt.id, "break-start", reason="taken ill").status_code == 303
    # A candidate without the arrangement cannot put a request on the dashboard either.
    set_arrangements(app, "0004", {})
    dylan = _in(candidate_factory, "0004")
    dylan.client.post("/test/break-request", data={"csrf_token": dylan.csrf})
    assert attempt_of(app, "0004").break_requested_at is None


def test_extra_time_and_time_given_back_need_a_reason_and_sane_minutes(app, demo, invigilator, candidate_factory,
                                                                       clock):
    sitting_id = demo["sitting_id"]
    _in(candidate_factory, "0001")
    invigilator.start(sitting_id)
    attempt = attempt_of(app, "0001")
    clock.advance(minutes=5)
    for data, words in [({"kind": "credit", "minutes": "5"}, "Give a reason"),
                        ({"kind": "credit", "minutes": "0", "reason": "x"}, "whole number from 1 to 120"),
                        ({"kind": "credit", "minutes": "121", "reason": "x"}, "whole number from 1 to 120"),
                        ({"kind": "credit", "minutes": "ten", "reason": "x"}, "whole number from 1 to 120"),
                        ({"kind": "bonus", "minutes": "5", "reason": "x"}, "Choose extra time or time given back")]:
        refused = _act(invigilator, sitting_id, attempt.id, "time", **data)
        assert refused.status_code == 400 and words in refused.get_data(as_text=True), data
    assert remaining(app, "0001") == 40 * 60
    assert _act(invigilator, sitting_id, attempt.id, "time", kind="credit", minutes="4",
                reason="network outage 10:05-10:09").status_code == 303
    assert _act(invigilator, sitting_id, attempt.id, "time", kind="extend", minutes="10",
                reason="awarding body approved").status_code == 303
    assert remaining(app, "0001") == 54 * 60
    found = ledger(app, "0001")
    assert (found.credit_seconds, found.extra_seconds) == (240, 600)
    with app.app_context():
        session = db.new_session(app)
        events = session.scalars(select(models.TimeEvent).where(models.TimeEvent.attempt_id == attempt.id,
                                                                models.TimeEvent.kind.in_(["credit", "extend"]))).all()
        assert [(e.kind, e.seconds, e.reason, e.actor) for e in events] == [
            ("credit", 240, "network outage 10:05-10:09", "staff:invigilator"),
            ("extend", 600, "awarding body approved", "staff:invigilator")]
        session.close()


def test_time_added_moves_the_server_deadline(app, demo, invigilator, candidate_factory, clock, runner):
    sitting_id = demo["sitting_id"]
    _in(candidate_factory, "0001")
    invigilator.start(sitting_id)
    _act(invigilator, sitting_id, attempt_of(app, "0001").id, "time", kind="credit", minutes="3", reason="lost time")
    clock.advance(minutes=46)
    assert "Finished 0" in runner.invoke(args=["sweep"]).output
    clock.advance(minutes=3)
    assert "Finished 1" in runner.invoke(args=["sweep"]).output
    attempt = attempt_of(app, "0001")
    assert (attempt.finished_at - attempt.started_at).total_seconds() == 48 * 60


def test_moving_workstation_keeps_form_answers_and_time_and_cuts_off_the_old_device(
        app, demo, invigilator, candidate_factory, clock):
    sitting_id = demo["sitting_id"]
    old = _in(candidate_factory, "0002")
    invigilator.start(sitting_id)
    before_move = attempt_of(app, "0002")
    for form_item in before_move.form_items[:5]:
        assert old.answer(form_item.position, correct_fields(app, form_item)).status_code == 200
    clock.advance(minutes=12)
    answers = {fi.position: fi.current_response for fi in attempt_of(app, "0002").form_items}
    form = [(fi.position, fi.item_version_id, fi.start_state) for fi in before_move.form_items]
    left = remaining(app, "0002")

    refused = _act(invigilator, sitting_id, before_move.id, "move")
    assert refused.status_code == 400 and "Give a reason" in refused.get_data(as_text=True)
    moved = _act(invigilator, sitting_id, before_move.id, "move", reason="screen froze", credit_minutes="2")
    assert moved.status_code == 303

    # The old workstation is cut off at once: its saves are refused and nothing is recorded.
    saves = response_count(app, before_move.id)
    first = before_move.form_items[0]
    assert old.answer(first.position, correct_fields(app, first)).headers["HX-Redirect"].startswith("/start?moved=1")
    plain = old.answer(first.position, correct_fields(app, first), htmx=False)
    assert plain.status_code in (302, 303) and "/start" in plain.headers["Location"]
    assert old.client.get("/test/time", headers=HX).headers["HX-Redirect"].startswith("/start")
    assert response_count(app, before_move.id) == saves

    clock.advance(minutes=4)  # walking to the spare workstation: the clock is paused
    new = candidate_factory("0002")
    landing = sign_in_anywhere(new)
    assert "Your test is paused" in landing and 'name="r-' not in landing
    _act(invigilator, sitting_id, before_move.id, "resume", reason="on workstation 14")
    after = attempt_of(app, "0002")
    assert [(fi.position, fi.item_version_id, fi.start_state) for fi in after.form_items] == form
    assert {fi.position: fi.current_response for fi in after.form_items} == answers
    assert remaining(app, "0002") == left + 120
    page = new.item_page(first.position).get_data(as_text=True)
    assert "Saved" in page
    # The old device stays cut off after the move is over; the new one saves.
    assert old.answer(first.position, correct_fields(app, first)).headers["HX-Redirect"] == "/start"
    assert response_count(app, before_move.id) == saves
    assert new.answer(first.position, correct_fields(app, first)).status_code == 200
    assert response_count(app, before_move.id) == saves + 1
    with app.app_context():
        session = db.new_session(app)
        incident = session.scalar(select(models.Incident))
        assert incident.category == "technical_failure" and incident.description == "Moved to another workstation: screen froze"
        assert [a.id for a in incident.attempts] == [before_move.id]
        session.close()


def test_absent_reinstate_withdraw_and_void_are_recorded_and_shown_in_results(
        app, demo, invigilator, candidate_factory):
    sitting_id = demo["sitting_id"]
    aisha = _in(candidate_factory, "0001")
    _in(candidate_factory, "0004")
    invigilator.start(sitting_id)
    ids = {n: attempt_of(app, n).id for n in ("0001", "0004", "0005", "0006")}

    signed_in = _act(invigilator, sitting_id, ids["0004"], "absent")
    assert signed_in.status_code == 400 and "withdraw them instead" in signed_in.get_data(as_text=True)
    assert _act(invigilator, sitting_id, ids["0005"], "absent").status_code == 303
    assert _act(invigilator, sitting_id, ids["0006"], "absent").status_code == 303
    assert attempt_of(app, "0005").outcome == "absent"
    assert _act(invigilator, sitting_id, ids["0006"], "reinstate").status_code == 400  # reason needed
    assert _act(invigilator, sitting_id, ids["0006"], "reinstate", reason="arrived 09:40").status_code == 303
    assert attempt_of(app, "0006").state == "ready" and attempt_of(app, "0006").outcome is None

    assert _act(invigilator, sitting_id, ids["0004"], "withdraw").status_code == 400
    assert _act(invigilator, sitting_id, ids["0004"], "withdraw", reason="taken ill").status_code == 303
    dylan = attempt_of(app, "0004")
    assert (dylan.state, dylan.finish_reason, dylan.outcome) == ("finished", "withdrawn", "withdrawn")

    answer_everything(app, aisha, "0001")
    aisha.submit()
    assert attempt_of(app, "0001").outcome == "complete"
    assert _act(invigilator, sitting_id, ids["0001"], "void").status_code == 400
    assert _act(invigilator, sitting_id, ids["0001"], "void", reason="notes found under keyboard").status_code == 303
    voided = attempt_of(app, "0001")
    assert (voided.finish_reason, voided.outcome) == ("submitted", "voided")
    assert voided.result is not None and voided.result.total > Decimal(0)  # marks kept as evidence
    assert _act(invigilator, sitting_id, ids["0001"], "void", reason="again").status_code == 400

    results = invigilator.client.get(f"/results/sittings/{sitting_id}").get_data(as_text=True).lower()
    for word in ("voided", "withdrawn", "absent"):
        assert word in results
    register = invigilator.client.get(f"/invigilate/sittings/{sitting_id}/register").get_data(as_text=True)
    assert "Voided" in register and "Withdrawn" in register and "Absent" in register
    with app.app_context():
        session = db.new_session(app)
        malpractice = session.scalar(select(models.Incident).where(models.Incident.category == "malpractice_suspicion"))
        assert malpractice.description == "Attempt voided: notes found under keyboard"
        actions = [a.action for a in session.scalars(select(models.AuditEvent).order_by(models.AuditEvent.id))]
        session.close()
    for action in ("attempt.absent", "attempt.reinstate", "attempt.withdraw", "attempt.void"):
        assert action in actions


def test_a_sitting_refuses_extra_time_above_25_percent_without_a_reason(app, demo, invigilator):
    set_arrangements(app, "0006", {"extra_time_percent": 40})
    with app.app_context():
        session = db.new_session(app)
        spec = session.scalar(select(models.TestSpecification).where(models.TestSpecification.code == "unit-2"))
        candidate_ids = [c.id for c in session.scalars(select(models.Candidate).order_by(models.Candidate.id))]
        session.close()
    page = invigilator.client.get("/invigilate/sittings/new").get_data(as_text=True)
    from conftest import csrf_from
    data = {"csrf_token": csrf_from(page), "specification": spec.id, "candidates": candidate_ids}
    refused = invigilator.client.post("/invigilate/sittings/new", data=data)
    assert refused.status_code == 400
    assert "0006 Finn O&#39;Brien: 40% extra time is above the standard 25%" in refused.get_data(as_text=True)
    set_arrangements(app, "0006", {"extra_time_percent": 40, "extra_time_reason": "Form 8: slow processing"})
    assert invigilator.client.post("/invigilate/sittings/new", data=data).status_code == 303
    newest = attempt_of(app, "0006")
    assert newest.allowed_seconds == 45 * 60 * 140 // 100
    assert attempt_of(app, "0002").allowed_seconds == 2700 * 5 // 4  # 25 % exactly
