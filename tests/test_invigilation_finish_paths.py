"""Every way an attempt finishes marks the latest saved answer of every item: the candidate's
submit, the time-out sweep (with pauses, a break and time given back on the way), the
invigilator's end, and an end after a crash (a new app instance on the same database)."""
from __future__ import annotations

import datetime as dt

from engine import create_app, db
from invigilation_support import answer_everything, assert_marked_with_latest_saves, attempt_of, set_arrangements
from conftest import TEST_SETTINGS, Invigilator


def _working(candidate_factory, invigilator, sitting_id, number):
    browser = candidate_factory(number)
    browser.sign_in()
    browser.confirm()
    invigilator.start(sitting_id)
    return browser


def test_candidate_submit(app, demo, invigilator, candidate_factory):
    aisha = _working(candidate_factory, invigilator, demo["sitting_id"], "0001")
    answer_everything(app, aisha, "0001")
    assert aisha.submit().status_code == 303
    assert attempt_of(app, "0001").finish_reason == "submitted"
    assert_marked_with_latest_saves(app, "0001")


def test_time_out_sweep_after_pauses_a_break_and_a_credit(app, demo, invigilator, candidate_factory, clock, runner):
    set_arrangements(app, "0002", {"extra_time_percent": 25, "rest_breaks": True})
    ben = _working(candidate_factory, invigilator, demo["sitting_id"], "0002")
    attempt_id = attempt_of(app, "0002").id
    base = f"/invigilate/sittings/{demo['sitting_id']}/attempts/{attempt_id}"
    answer_everything(app, ben, "0002")
    clock.advance(minutes=10)
    invigilator.post(f"{base}/pause", reason="fire alarm")
    clock.advance(minutes=15)
    invigilator.post(f"{base}/resume")
    clock.advance(minutes=5)
    invigilator.post(f"{base}/break-start")
    clock.advance(minutes=6)
    invigilator.post(f"{base}/break-end")
    invigilator.post(f"{base}/time", kind="credit", minutes="3", reason="network drop")
    # 56 min 15 s (25 % extra) + 3 min credit; 15 min paused and 6 min on a break not counted.
    clock.advance(minutes=56 + 3 - 15, seconds=15 - 1)
    assert "Finished 0" in runner.invoke(args=["sweep"]).output
    clock.advance(seconds=60)  # past the deadline and the grace: nobody is looking
    assert "Finished 1" in runner.invoke(args=["sweep"]).output
    attempt = attempt_of(app, "0002")
    assert attempt.finish_reason == "timed_out"
    assert attempt.finished_at - attempt.started_at == dt.timedelta(minutes=56 + 3 + 15 + 6, seconds=15)
    assert_marked_with_latest_saves(app, "0002")


def test_invigilator_ends_the_sitting(app, demo, invigilator, candidate_factory):
    chloe = _working(candidate_factory, invigilator, demo["sitting_id"], "0003")
    answer_everything(app, chloe, "0003")
    invigilator.end(demo["sitting_id"])
    assert attempt_of(app, "0003").finish_reason == "ended_by_invigilator"
    assert_marked_with_latest_saves(app, "0003")


def test_end_after_a_crash_uses_a_new_app_on_the_same_database(app, demo, invigilator, candidate_factory, clock,
                                                              database_url):
    dylan = _working(candidate_factory, invigilator, demo["sitting_id"], "0004")
    answer_everything(app, dylan, "0004")
    invigilator.post(f"/invigilate/sittings/{demo['sitting_id']}/emergency")
    # The server dies: nothing of the old process survives but the database.
    db.engine_for(app).dispose()
    restarted = create_app({**TEST_SETTINGS, "DATABASE_URL": database_url, "CLOCK": clock})
    try:
        clock.advance(minutes=20)
        Invigilator(restarted).end(demo["sitting_id"])
        attempt = attempt_of(restarted, "0004")
        assert attempt.finish_reason == "ended_by_invigilator"
        assert_marked_with_latest_saves(restarted, "0004")
    finally:
        db.engine_for(restarted).dispose()
