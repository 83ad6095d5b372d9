"""The start gate, read-only after submit, results hidden, the sitting window, and the manager
collecting every reason rather than the first."""
from __future__ import annotations

import datetime as dt
import types

from engine import db, locks, models
from engine.attempt_states import FINISHED

from locks_support import (
    CENTRE_NET, HX, OUTSIDE, attempt_of, audit_actions, from_address, set_centre_ranges, set_locks, working,
)
from invigilation_support import correct_fields


def _act(invigilator, sitting_id, attempt_id, action, **data):
    return invigilator.post(f"/invigilate/sittings/{sitting_id}/attempts/{attempt_id}/{action}", **data)


def _check(app, number, endpoint="candidate.item", stage=locks.PAGE, **request):
    """Ask the manager directly, as the guard would, for the candidate's attempt now."""
    with app.test_request_context("/test/item/1"), app.app_context():
        session = db.session()
        attempt = session.get(models.Attempt, attempt_of(app, number).id)
        from engine import clock
        ctx = locks.Context(attempt=attempt, now=clock.now(session), stage=stage, db=session, endpoint=endpoint,
                            method=request.get("method", "GET"), remote_addr=request.get("address", "127.0.0.1"),
                            url="http://localhost/test/item/1", headers=request.get("headers", {}),
                            secret_key=app.secret_key)
        return [(b.lock.name, b.reason) for b in locks.reasons(ctx)]


# --- start gate ---------------------------------------------------------------------------------


def test_no_item_before_the_invigilator_starts(app, demo, candidate_factory):
    browser = candidate_factory("0001")
    browser.sign_in()
    assert _check(app, "0001") == [("start_gate", "Your invigilator has not started your test yet: confirm your "
                                                  "details first.")]
    assert browser.item_page(1).headers["Location"].endswith("/details")
    browser.confirm()
    assert _check(app, "0001") == [("start_gate", "Your invigilator has not started your test yet.")]
    assert browser.item_page(1).headers["Location"].endswith("/wait")
    saved = browser.answer(1, {"choice": "1"})
    assert saved.status_code == 409 and saved.headers["HX-Redirect"] == "/wait"


def test_no_item_while_paused_or_on_a_break(app, demo, invigilator, candidate_factory):
    sitting_id = demo["sitting_id"]
    browser = working(candidate_factory, invigilator, sitting_id)
    attempt_id = attempt_of(app, "0001").id
    assert _check(app, "0001") == []
    assert _act(invigilator, sitting_id, attempt_id, "pause", reason="illness").status_code == 303
    assert _check(app, "0001") == [("start_gate", "Your invigilator has paused your test.")]
    assert browser.item_page(1).headers["Location"].endswith("/paused")
    assert browser.client.post("/test/item/1", data={"csrf_token": browser.csrf, "r-choice": "1"},
                               headers=HX).headers["HX-Redirect"] == "/paused"
    _act(invigilator, sitting_id, attempt_id, "resume")
    _act(invigilator, sitting_id, attempt_id, "break-start", reason="unwell")
    assert _check(app, "0001") == [("start_gate", "You are on a supervised rest break.")]
    assert browser.client.get("/test/review").headers["Location"].endswith("/paused")
    _act(invigilator, sitting_id, attempt_id, "break-end")
    assert browser.item_page(1).status_code == 200


def test_the_waiting_and_paused_pages_are_not_item_routes(app, demo, candidate_factory):
    browser = candidate_factory("0001")
    browser.sign_in()
    browser.confirm()
    assert _check(app, "0001", endpoint="candidate.waiting") == []
    assert browser.client.get("/wait").status_code == 200


# --- read-only after submit, results hidden --------------------------------------------------------


def test_after_submit_nothing_can_be_seen_or_changed(app, demo, invigilator, candidate_factory):
    browser = working(candidate_factory, invigilator, demo["sitting_id"])
    form_item = attempt_of(app, "0001").form_items[0]
    assert browser.answer(1, correct_fields(app, form_item)).status_code == 200
    assert browser.submit().status_code == 303
    reasons = dict(_check(app, "0001", method="POST", endpoint="candidate.save"))
    assert reasons == {"start_gate": "Your test has finished.",
                       "read_only_after_submit": "Your test has been submitted: answers can no longer be seen or "
                                                 "changed."}
    refused = browser.answer(1, {})
    assert refused.status_code == 409 and refused.headers["HX-Redirect"] == "/test/done"
    assert browser.answer(1, {}, htmx=False).headers["Location"] == "/test/done"
    assert browser.item_page(1).headers["Location"] == "/test/done"
    assert browser.client.post("/test/item/1/flag", data={"csrf_token": browser.csrf, "flagged": "1"}).status_code == 303
    attempt = attempt_of(app, "0001")
    assert attempt.form_items[0].current_response is not None and not attempt.form_items[0].flagged
    assert browser.client.get("/test/done").status_code == 200


def test_results_stay_hidden_unless_the_specification_releases_them(app, demo, invigilator, candidate_factory):
    browser = working(candidate_factory, invigilator, demo["sitting_id"])
    browser.submit()
    registry = locks.registry(app)
    lock_class = registry["read_only_after_submit"]
    attempt = attempt_of(app, "0001")
    assert attempt.state == FINISHED and attempt.result is not None
    spec = types.SimpleNamespace(locks={})
    hidden = lock_class.make(spec, {**lock_class.defaults}, dt.datetime(2026, 1, 1))
    released = lock_class.make(spec, {"release_results": True}, dt.datetime(2026, 1, 1))
    assert not hidden.results_visible(attempt)
    assert released.results_visible(attempt) == (getattr(attempt.result, "released_at", True) is not None)
    locks.RESULT_ENDPOINTS.add("candidate.result_test_only")
    try:
        reasons = dict(_check(app, "0001", endpoint="candidate.result_test_only"))
        assert reasons["read_only_after_submit"].startswith("Results for this test are not released")
    finally:
        locks.RESULT_ENDPOINTS.discard("candidate.result_test_only")


# --- the sitting window ---------------------------------------------------------------------------


def _schedule(app, sitting_id, start, end):
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            sitting = session.get(models.Sitting, sitting_id)
            sitting.scheduled_start, sitting.scheduled_end = start, end
        session.close()


def test_sign_in_only_in_the_window(app, demo, clock, candidate_factory):
    sitting_id = demo["sitting_id"]
    set_locks(app, sitting_id, spec_locks={"sitting_window": {"minutes_before_start": 15}})
    _schedule(app, sitting_id, clock.now + dt.timedelta(minutes=30), clock.now + dt.timedelta(minutes=90))
    early = candidate_factory("0001")
    page = early.client.get("/start").get_data(as_text=True)
    from conftest import csrf_from
    refused = early.client.post("/start", data={"centre_number": demo["centre"], "candidate_number": "0001",
                                                "keycode": demo["keycode"], "csrf_token": csrf_from(page)})
    assert refused.status_code == 403 and "sitting opens at 09:15" in refused.get_data(as_text=True)
    clock.advance(minutes=16)
    assert early.sign_in().status_code == 303
    clock.advance(minutes=80)  # past the end: no new sign-in
    late = candidate_factory("0002")
    page = late.client.get("/start").get_data(as_text=True)
    closed = late.client.post("/start", data={"centre_number": demo["centre"], "candidate_number": "0002",
                                              "keycode": demo["keycode"], "csrf_token": csrf_from(page)})
    assert closed.status_code == 403 and "sitting closed at 10:30" in closed.get_data(as_text=True)


def test_a_candidate_working_when_the_window_closes_may_finish_their_own_time(app, demo, clock, invigilator,
                                                                            candidate_factory):
    sitting_id = demo["sitting_id"]
    set_locks(app, sitting_id, spec_locks={"sitting_window": {}})
    _schedule(app, sitting_id, clock.now, clock.now + dt.timedelta(minutes=40))
    working_one = working(candidate_factory, invigilator, sitting_id, "0001")
    waiting_one = candidate_factory("0002")
    waiting_one.sign_in()
    clock.advance(minutes=42)
    assert working_one.item_page(1).status_code == 200
    assert waiting_one.client.get("/details").headers["Location"] == "/blocked"
    set_locks(app, sitting_id, sitting_locks={"sitting_window": {"finish_after_end": False}})
    assert working_one.item_page(1).headers["Location"] == "/blocked"


def test_an_unscheduled_sitting_has_no_window(app, demo, candidate_factory):
    set_locks(app, demo["sitting_id"], spec_locks={"sitting_window": {}})
    assert candidate_factory("0001").sign_in().status_code == 303


# --- the manager -----------------------------------------------------------------------------------


def test_every_reason_is_collected_not_just_the_first(app, demo, invigilator, candidate_factory):
    sitting_id = demo["sitting_id"]
    browser = working(candidate_factory, invigilator, sitting_id)
    set_centre_ranges(app, demo["centre"], [CENTRE_NET])
    set_locks(app, sitting_id, spec_locks={"centre_network": {}, "safe_exam_browser": {"config_keys": ["a" * 64]}})
    _act(invigilator, sitting_id, attempt_of(app, "0001").id, "pause", reason="check")
    names = [name for name, _ in _check(app, "0001", address=OUTSIDE)]
    assert names == ["centre_network", "safe_exam_browser", "start_gate"]
    from_address(browser, OUTSIDE)
    assert browser.item_page(1).headers["Location"] == "/blocked"
    page = browser.client.get("/blocked").get_data(as_text=True)
    assert "exam room" in page and "Safe Exam Browser" in page
    blocked = [reason for action, reason in audit_actions(app, attempt_of(app, "0001").id) if action == "attempt.blocked"]
    assert len(blocked) == 1 and "Safe Exam Browser" in blocked[0] and "exam room" in blocked[0]
    # A page polled every few seconds is recorded once a minute, not on every poll.
    browser.item_page(1)
    assert [a for a, _ in audit_actions(app, attempt_of(app, "0001").id)].count("attempt.blocked") == 1
