"""Room-level control: the emergency stop and resume, pausing a selection, keycodes."""
from __future__ import annotations

import re

from sqlalchemy import select

from engine import db, models
from invigilation_support import HX, attempt_of, correct_fields, ledger, remaining, response_count


def _sign_in_all(candidate_factory, numbers):
    browsers = {}
    for number in numbers:
        browser = candidate_factory(number)
        browser.sign_in()
        browser.confirm()
        browsers[number] = browser
    return browsers


def _audit(app, action):
    with app.app_context():
        session = db.new_session(app)
        rows = session.scalars(select(models.AuditEvent).where(models.AuditEvent.action == action)).all()
        session.close()
        return rows


def test_emergency_stop_then_resume_gives_everyone_exactly_their_time(app, demo, invigilator, candidate_factory, clock):
    sitting_id = demo["sitting_id"]
    room = _sign_in_all(candidate_factory, ["0001", "0002", "0003"])
    invigilator.start(sitting_id)
    clock.advance(minutes=7, seconds=13)
    # 0003 was paused on their own before the alarm: the room's resume must not restart them.
    chloe = attempt_of(app, "0003")
    assert invigilator.post(f"/invigilate/sittings/{sitting_id}/attempts/{chloe.id}/pause",
                            reason="feeling unwell").status_code == 303
    clock.advance(minutes=2)

    before = {n: remaining(app, n) for n in room}
    response = invigilator.post(f"/invigilate/sittings/{sitting_id}/emergency")
    assert response.status_code == 303
    page = invigilator.client.get(f"/invigilate/sittings/{sitting_id}").get_data(as_text=True)
    assert "The room is stopped" in page and "Resume the room" in page

    # Every screen notices within one poll: the timer, item pages and saves all go to the paused screen.
    for number, browser in room.items():
        poll = browser.client.get("/test/time", headers=HX)
        assert poll.headers.get("HX-Redirect") == "/paused", number
        assert browser.item_page(1).headers["Location"].endswith("/paused")
        form_item = attempt_of(app, number).form_items[0]
        saves = response_count(app, attempt_of(app, number).id)
        refused = browser.answer(1, correct_fields(app, form_item))
        assert refused.headers.get("HX-Redirect") == "/paused"
        assert response_count(app, attempt_of(app, number).id) == saves
        paused = browser.client.get("/paused").get_data(as_text=True)
        _assert_no_item_content(app, number, paused)
    assert "stopped for the whole room" in room["0001"].client.get("/paused").get_data(as_text=True)

    clock.advance(minutes=23, seconds=41)  # the evacuation
    assert {n: remaining(app, n) for n in room} == before
    response = invigilator.post(f"/invigilate/sittings/{sitting_id}/room/resume", note="fire alarm test, all back")
    assert response.status_code == 303
    assert {n: remaining(app, n) for n in room} == before
    assert attempt_of(app, "0001").state == "in_progress" and attempt_of(app, "0002").state == "in_progress"
    assert attempt_of(app, "0003").state == "paused"
    assert room["0001"].client.get("/paused", headers={**HX, "HX-Current-URL": "/paused"}).headers["HX-Redirect"] == "/test"

    # The clocks run again from exactly where they stopped.
    clock.advance(seconds=30)
    assert remaining(app, "0001") == before["0001"] - 30
    assert remaining(app, "0002") == before["0002"] - 30

    with app.app_context():
        session = db.new_session(app)
        incident = session.scalar(select(models.Incident).where(models.Incident.category == "emergency"))
        assert incident.stops_room and incident.ended_at is not None
        assert incident.resolution == "fire alarm test, all back"
        assert sorted(a.entry.candidate.candidate_number for a in incident.attempts) == ["0001", "0002"]
        assert (incident.ended_at - incident.happened_at).total_seconds() == 23 * 60 + 41
        session.close()
    stop, resume = _audit(app, "sitting.stop"), _audit(app, "sitting.resume")
    assert stop[0].actor == "staff:invigilator" and resume[0].detail["restarted"] == 2


def _assert_no_item_content(app, number, html):
    assert 'name="r-' not in html and "item-form" not in html
    for form_item in attempt_of(app, number).form_items:
        stem = form_item.item_version.definition.get("stem", "")
        words = re.sub(r"<[^>]+>", "", stem).strip()[:40]
        if words:
            assert words not in html


def test_a_late_starter_during_the_stop_waits_and_starts_with_full_time_on_resume(
        app, demo, invigilator, candidate_factory, clock):
    sitting_id = demo["sitting_id"]
    _sign_in_all(candidate_factory, ["0001"])
    invigilator.start(sitting_id)
    invigilator.post(f"/invigilate/sittings/{sitting_id}/emergency")
    late = _sign_in_all(candidate_factory, ["0004"])["0004"]
    assert attempt_of(app, "0004").state == "waiting"
    clock.advance(minutes=10)
    invigilator.post(f"/invigilate/sittings/{sitting_id}/room/resume")
    assert attempt_of(app, "0004").state == "in_progress"
    assert remaining(app, "0004") == 45 * 60
    # Straight to the first item (one request fewer for each candidate when a room starts).
    assert late.client.get("/wait", headers=HX).headers["HX-Redirect"] == "/test/item/1"


def test_room_pause_needs_a_reason_and_a_kind(app, demo, invigilator, candidate_factory):
    sitting_id = demo["sitting_id"]
    _sign_in_all(candidate_factory, ["0001"])
    invigilator.start(sitting_id)
    missing = invigilator.post(f"/invigilate/sittings/{sitting_id}/room/pause", category="disturbance", reason=" ")
    assert missing.status_code == 400 and "Give a reason" in missing.get_data(as_text=True)
    wrong = invigilator.post(f"/invigilate/sittings/{sitting_id}/room/pause", category="aliens", reason="noise")
    assert wrong.status_code == 400 and "Choose the kind of incident" in wrong.get_data(as_text=True)
    assert attempt_of(app, "0001").state == "in_progress"  # nothing half-done
    done = invigilator.post(f"/invigilate/sittings/{sitting_id}/room/pause", category="disturbance",
                            reason="building work noise")
    assert done.status_code == 303 and attempt_of(app, "0001").state == "paused"
    again = invigilator.post(f"/invigilate/sittings/{sitting_id}/emergency")
    assert again.status_code == 409 and "already stopped" in again.get_data(as_text=True)


def test_pause_and_resume_a_selection(app, demo, invigilator, candidate_factory, clock):
    sitting_id = demo["sitting_id"]
    _sign_in_all(candidate_factory, ["0001", "0002", "0003"])
    invigilator.start(sitting_id)
    ids = {n: attempt_of(app, n).id for n in ("0001", "0002", "0003")}
    url = f"/invigilate/sittings/{sitting_id}/selection"
    no_reason = invigilator.client.post(url, data={"csrf_token": invigilator.csrf, "action": "pause",
                                                   "attempt": [ids["0001"], ids["0002"]]})
    assert no_reason.status_code == 400 and "Give a reason" in no_reason.get_data(as_text=True)
    none_ticked = invigilator.post(url, action="pause", reason="noise")
    assert none_ticked.status_code == 400 and "Tick the candidates" in none_ticked.get_data(as_text=True)
    paused = invigilator.client.post(url, data={"csrf_token": invigilator.csrf, "action": "pause", "reason": "noise",
                                                "attempt": [ids["0001"], ids["0002"]]})
    assert paused.status_code == 303
    assert [attempt_of(app, n).state for n in ("0001", "0002", "0003")] == ["paused", "paused", "in_progress"]
    clock.advance(minutes=3)
    assert remaining(app, "0001") == 45 * 60 and remaining(app, "0003") == 42 * 60
    invigilator.client.post(url, data={"csrf_token": invigilator.csrf, "action": "resume",
                                       "attempt": [ids["0001"], ids["0002"], ids["0003"]]})
    assert [attempt_of(app, n).state for n in ("0001", "0002", "0003")] == ["in_progress"] * 3
    page = invigilator.client.get(f"/invigilate/sittings/{sitting_id}").get_data(as_text=True)
    assert "Not changed" in page and "is not paused" in page  # 0003 was not paused: said so
    pauses = _audit(app, "attempt.pause")
    assert {p.reason for p in pauses} == {"noise"} and {p.actor for p in pauses} == {"staff:invigilator"}


def test_selection_only_touches_this_sittings_candidates(app, demo, invigilator, candidate_factory):
    sitting_id = demo["sitting_id"]
    _sign_in_all(candidate_factory, ["0001"])
    invigilator.start(sitting_id)
    response = invigilator.client.post(f"/invigilate/sittings/{sitting_id}/selection", data={
        "csrf_token": invigilator.csrf, "action": "pause", "reason": "x", "attempt": [999999]})
    assert response.status_code == 303
    assert attempt_of(app, "0001").state == "in_progress"


def test_keycode_revoke_and_regenerate(app, demo, invigilator, candidate_factory):
    sitting_id = demo["sitting_id"]
    inside = _sign_in_all(candidate_factory, ["0001"])["0001"]
    invigilator.start(sitting_id)
    assert invigilator.post(f"/invigilate/sittings/{sitting_id}/keycode", action="revoke").status_code == 303
    page = invigilator.client.get(f"/invigilate/sittings/{sitting_id}").get_data(as_text=True)
    assert "Revoked" in page and demo["keycode"] not in page
    refused = candidate_factory("0002")
    sign_in_page = refused.client.get("/start").get_data(as_text=True)
    from conftest import csrf_from
    attempt = refused.client.post("/start", data={"centre_number": "99001", "candidate_number": "0002",
                                                  "keycode": demo["keycode"], "csrf_token": csrf_from(sign_in_page)})
    assert attempt.status_code == 400
    assert inside.client.get("/test/time", headers=HX).status_code == 200  # already in: carries on

    assert invigilator.post(f"/invigilate/sittings/{sitting_id}/keycode", action="regenerate").status_code == 303
    with app.app_context():
        session = db.new_session(app)
        sitting = session.get(models.Sitting, sitting_id)
        new_code, active = sitting.keycode, sitting.keycode_active
        session.close()
    assert active and new_code != demo["keycode"]
    old = candidate_factory("0002")
    old_page = old.client.get("/start").get_data(as_text=True)
    assert old.client.post("/start", data={"centre_number": "99001", "candidate_number": "0002",
                                           "keycode": demo["keycode"], "csrf_token": csrf_from(old_page)}).status_code == 400
    from conftest import CandidateBrowser
    fresh = CandidateBrowser(app, "99001", "0002", new_code.lower())
    fresh.sign_in()
    assert [e.action for e in _audit(app, "sitting.keycode_revoke")] == ["sitting.keycode_revoke"]
    assert len(_audit(app, "sitting.keycode_regenerate")) == 1


def test_ending_a_stopped_room_closes_the_stop(app, demo, invigilator, candidate_factory):
    sitting_id = demo["sitting_id"]
    _sign_in_all(candidate_factory, ["0001"])
    invigilator.start(sitting_id)
    invigilator.post(f"/invigilate/sittings/{sitting_id}/emergency")
    invigilator.end(sitting_id)
    with app.app_context():
        session = db.new_session(app)
        sitting = session.get(models.Sitting, sitting_id)
        incident = session.scalar(select(models.Incident))
        assert sitting.stopped_at is None and sitting.state == "ended" and incident.ended_at is not None
        session.close()
    assert attempt_of(app, "0001").state == "finished"
    assert ledger(app, "0001").paused_seconds == 0
