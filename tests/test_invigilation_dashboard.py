"""The live dashboard: bounded queries for a big room, what each row says, and alerts."""
from __future__ import annotations

import re

from sqlalchemy import event, select

from engine import attempts, clock, db, models
from engine import invigilation_actions as actions
from engine.attempt_states import IN_PROGRESS
from engine.plugins import item_type
from invigilation_support import HX, attempt_of, correct_fields


def _room_in_every_state(app, size: int) -> int:
    """A sitting of ``size`` candidates (demo centre, topped up) with candidates in every state."""
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            now = clock.now(session)
            centre = session.scalar(select(models.Centre).where(models.Centre.number == "99001"))
            have = session.scalars(select(models.Candidate).where(models.Candidate.centre_id == centre.id)).all()
            for i in range(size - len(have)):
                session.add(models.Candidate(centre_id=centre.id, candidate_number=f"9{i:03d}", first_name="Test",
                                             last_name=f"Candidate {i}", access_arrangements=(
                                                 {"extra_time_percent": 25, "rest_breaks": True} if i % 10 == 0 else {})))
            session.flush()
            candidates = session.scalars(select(models.Candidate).where(models.Candidate.centre_id == centre.id)
                                         .order_by(models.Candidate.id)).all()[:size]
            spec = session.scalar(select(models.TestSpecification).where(models.TestSpecification.code == "unit-2"))
            sitting = attempts.open_sitting(session, centre=centre, specification=spec, candidates=candidates,
                                            title=f"Room of {size}", actor="test", staff_id=None, now=now)
            session.flush()
            for i, entry in enumerate(sitting.entries):
                if i % 6 != 0:
                    attempts.confirm_details(session, entry.attempt, now)
                    entry.attempt.last_contact_at = now
            attempts.start_sitting(session, sitting, "test", now)
            for i, entry in enumerate(sitting.entries):
                attempt = entry.attempt
                if attempt.state != IN_PROGRESS:
                    continue
                first = attempt.form_items[0]
                plugin = item_type(first.item_version.type_name)
                attempts.save_response(session, attempt, 1, plugin.correct_response(first.item_version.definition),
                                       f"k{i}", now, 10)
                first.flagged = i % 4 == 0
                if i % 5 == 4:
                    actions.pause(session, attempt, now, "test", "unwell")
                elif i % 7 == 2:
                    actions.add_time(session, attempt, now, "test", kind="credit", minutes=2, reason="x",
                                     grace_seconds=10)
                elif i % 11 == 3:
                    attempts.submit(session, attempt, now)
            asking = [e.attempt for e in sitting.entries
                      if e.attempt.state == IN_PROGRESS and actions.has_rest_breaks(e.attempt)]
            if asking:
                actions.request_break(session, asking[0], now)
            sitting_id = sitting.id
        session.close()
    return sitting_id


def _count_statements(app, call) -> int:
    seen = []
    engine = db.engine_for(app)

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len([s for s in seen if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"))])


def test_register_queries_stay_bounded_for_120_candidates(app, demo, invigilator, clock):
    small = _room_in_every_state(app, 6)
    big = _room_in_every_state(app, 120)
    clock.advance(seconds=90)  # some out of contact, none timed out

    def fetch(sitting_id):
        response = invigilator.client.get(f"/invigilate/sittings/{sitting_id}/register", headers=HX)
        assert response.status_code == 200
        fetch.body = response.get_data(as_text=True)

    small_count = _count_statements(app, lambda: fetch(small))
    big_count = _count_statements(app, lambda: fetch(big))
    assert big_count == small_count, (small_count, big_count)
    assert big_count <= 10, big_count
    body = fetch.body
    assert body.count("<tr class=") == 120
    assert body.count("asked for a rest break") == 1 and "Start the break" in body
    assert "disconnected?" in body
    # The whole dashboard page is bounded too.
    page_small = _count_statements(app, lambda: invigilator.client.get(f"/invigilate/sittings/{small}"))
    page_big = _count_statements(app, lambda: invigilator.client.get(f"/invigilate/sittings/{big}"))
    assert page_big == page_small


def test_rows_show_state_progress_time_with_arrangements_and_contact(app, demo, invigilator, candidate_factory, clock):
    sitting_id = demo["sitting_id"]
    ben = candidate_factory("0002")  # 25 % extra time
    ben.sign_in()
    ben.confirm()
    register = invigilator.client.get(f"/invigilate/sittings/{sitting_id}/register").get_data(as_text=True)
    row = _row(register, "0002")
    assert "Waiting" in row and "56:15" in row and "allowed" in row and "+25%" in row
    # Each row links to that candidate's own page (one url_for for the register, not one a row).
    page = f'href="/invigilate/sittings/{sitting_id}/attempts/{attempt_of(app, "0002").id}"'
    assert page in row and page not in _row(register, "0001")
    assert "Not signed in" in _row(register, "0001")
    invigilator.start(sitting_id)
    first = attempt_of(app, "0002").form_items[0]
    plugin_fields = correct_fields(app, first)
    ben.answer(first.position, plugin_fields)
    ben.client.post(f"/test/item/{first.position}/flag", data={"csrf_token": ben.csrf, "flagged": "1"})
    clock.advance(minutes=1)
    row = _row(invigilator.client.get(f"/invigilate/sittings/{sitting_id}/register").get_data(as_text=True), "0002")
    total = len(attempt_of(app, "0002").form_items)
    assert "Working" in row and f"1 / {total}" in row and "<td>1</td>" in row and "55:15" in row
    assert "disconnected?" not in row
    clock.advance(seconds=61)  # the browser went quiet
    row = _row(invigilator.client.get(f"/invigilate/sittings/{sitting_id}/register").get_data(as_text=True), "0002")
    assert "disconnected?" in row
    ben.client.get("/test/time", headers=HX)  # the timer poll is the heartbeat
    row = _row(invigilator.client.get(f"/invigilate/sittings/{sitting_id}/register").get_data(as_text=True), "0002")
    assert "disconnected?" not in row
    invigilator.post(f"/invigilate/sittings/{sitting_id}/attempts/{attempt_of(app, '0002').id}/pause", reason="toilet")
    row = _row(invigilator.client.get(f"/invigilate/sittings/{sitting_id}/register").get_data(as_text=True), "0002")
    assert "Paused" in row and "toilet" in row and "stopped" in row


def test_selection_ticks_survive_the_poll(app, demo, invigilator):
    page = invigilator.client.get(f"/invigilate/sittings/{demo['sitting_id']}").get_data(as_text=True)
    box = re.search(r'<input type="checkbox" id="sel-\d+"[^>]*>', page).group(0)
    assert 'hx-preserve="true"' in box and 'form="selection-form"' in box
    assert 'id="selection-form"' in page and 'hx-trigger="every 5s"' in page


def test_dashboard_links_and_room_buttons(app, demo, invigilator, candidate_factory):
    sitting_id = demo["sitting_id"]
    page = invigilator.client.get(f"/invigilate/sittings/{sitting_id}").get_data(as_text=True)
    assert "Start the sitting" in page and "Emergency" not in page and demo["keycode"] in page
    invigilator.start(sitting_id)
    page = invigilator.client.get(f"/invigilate/sittings/{sitting_id}").get_data(as_text=True)
    assert "Emergency: stop the room" in page and "Pause the whole room" in page
    assert f"/invigilate/sittings/{sitting_id}/incidents" in page and f"/invigilate/sittings/{sitting_id}/report" in page
    invigilator.end(sitting_id)
    page = invigilator.client.get(f"/invigilate/sittings/{sitting_id}").get_data(as_text=True)
    assert "Emergency" not in page and "See results" in page and 'hx-trigger="every 5s"' not in page


def _row(html: str, number: str) -> str:
    for row in re.findall(r"<tr class=.*?</tr>", html, re.S):
        if f"<td>{number}</td>" in row:
            return row
    raise AssertionError(f"no row for {number}")
