"""Browser signals: the script only reports; the server records an incident, and with the
"lock" policy locks the test until the invigilator unlocks it (a reason, audited)."""
from __future__ import annotations

from sqlalchemy import select

from engine import db, models
from engine.models_locks import BrowserSignal

from locks_support import HX, attempt_of, audit_actions, set_locks, working
from invigilation_support import remaining


def _signal(browser, kind):
    return browser.client.post("/test/signal", data={"csrf_token": browser.csrf, "kind": kind})


def _act(invigilator, sitting_id, attempt_id, action, **data):
    return invigilator.post(f"/invigilate/sittings/{sitting_id}/attempts/{attempt_id}/{action}", **data)


def _incidents(app):
    with app.app_context():
        session = db.new_session(app)
        found = [(i.category, i.description, [a.id for a in i.attempts]) for i in session.scalars(select(models.Incident))]
        session.close()
        return found


def _signals(app):
    with app.app_context():
        session = db.new_session(app)
        found = [(s.kind, s.action) for s in session.scalars(select(BrowserSignal).order_by(BrowserSignal.id))]
        session.close()
        return found


def test_the_script_is_served_and_loaded_only_on_item_pages_of_tests_that_use_it(app, demo, invigilator,
                                                                                  candidate_factory):
    browser = working(candidate_factory, invigilator, demo["sitting_id"])
    script = "/lock-assets/browser_signals/signals.js"
    assert script not in browser.item_page(1).get_data(as_text=True)
    set_locks(app, demo["sitting_id"], spec_locks={"browser_signals": {}})
    page = browser.item_page(1).get_data(as_text=True)
    assert f'<script src="{script}" defer></script>' in page
    served = browser.client.get(script)
    assert served.status_code == 200 and "fullscreenchange" in served.get_data(as_text=True)
    assert browser.client.get("/lock-assets/browser_signals/__init__.py").status_code == 404
    assert browser.client.get("/lock-assets/nothing/signals.js").status_code == 404


def test_record_policy_writes_an_incident_once_a_minute_per_kind(app, demo, invigilator, candidate_factory, clock):
    set_locks(app, demo["sitting_id"], spec_locks={"browser_signals": {"policy": "record"}})
    browser = working(candidate_factory, invigilator, demo["sitting_id"])
    attempt_id = attempt_of(app, "0001").id
    first = _signal(browser, "fullscreen_exit")
    assert first.status_code == 200 and first.get_json() == {"recorded": ["incident"], "go": None}
    assert _signal(browser, "fullscreen_exit").get_json()["recorded"] == ["counted"]
    assert _signal(browser, "copy").get_json()["recorded"] == ["incident"]
    clock.advance(seconds=61)
    assert _signal(browser, "fullscreen_exit").get_json()["recorded"] == ["incident"]
    assert _signals(app) == [("fullscreen_exit", "incident"), ("fullscreen_exit", "counted"), ("copy", "incident"),
                             ("fullscreen_exit", "incident")]
    found = _incidents(app)
    assert len(found) == 3 and all(category == "other" and ids == [attempt_id] for category, _, ids in found)
    assert "left full screen" in found[0][1]
    assert browser.item_page(1).status_code == 200  # recorded, not locked


def test_signals_not_listed_or_unknown_or_from_a_test_without_the_lock_are_not_recorded(app, demo, invigilator,
                                                                                       candidate_factory):
    browser = working(candidate_factory, invigilator, demo["sitting_id"])
    assert _signal(browser, "copy").get_json()["recorded"] == []
    set_locks(app, demo["sitting_id"], spec_locks={"browser_signals": {"signals": ["fullscreen_exit"]}})
    assert _signal(browser, "copy").get_json()["recorded"] == []
    assert _signal(browser, "rm -rf").status_code == 400
    assert _signals(app) == [] and _incidents(app) == []
    # No CSRF token, no report.
    assert browser.client.post("/test/signal", data={"kind": "copy"}).status_code == 400


def test_lock_policy_locks_until_the_invigilator_unlocks_and_stops_the_clock(app, demo, invigilator,
                                                                            candidate_factory, clock):
    sitting_id = demo["sitting_id"]
    set_locks(app, sitting_id, spec_locks={"browser_signals": {"policy": "lock", "clock": "stop"}})
    browser = working(candidate_factory, invigilator, sitting_id)
    attempt_id = attempt_of(app, "0001").id
    clock.advance(minutes=5)
    answer = _signal(browser, "focus_lost").get_json()
    assert answer == {"recorded": ["locked"], "go": "/blocked"}
    before = remaining(app, "0001")
    clock.advance(minutes=10)
    assert remaining(app, "0001") == before  # the clock is stopped while locked
    # The candidate sees why, everywhere: item pages, saves, the timer poll, the paused page.
    assert browser.item_page(1).headers["Location"] == "/blocked"
    assert browser.client.get("/paused").headers["Location"] == "/blocked"
    assert browser.client.get("/test/time", headers=HX).headers["HX-Redirect"] == "/blocked"
    page = browser.client.get("/blocked").get_data(as_text=True)
    assert "Your test is locked: You switched to another window or tab." in page
    assert "Your clock is stopped until then." in page and 'name="r-' not in page
    assert browser.client.get("/blocked", headers=HX).status_code == 204
    # A signal while locked (the clock stopped, so the attempt is paused) adds nothing.
    assert _signal(browser, "copy").status_code == 204
    assert len(_incidents(app)) == 1
    # The invigilator sees an alert and the reason, and must give a reason to unlock.
    register = invigilator.client.get(f"/invigilate/sittings/{sitting_id}/register", headers=HX).get_data(as_text=True)
    assert "is locked since 09:05" in register
    their_page = invigilator.client.get(f"/invigilate/sittings/{sitting_id}/attempts/{attempt_id}").get_data(as_text=True)
    assert "Unlock this candidate" in their_page and "switched to another window or tab" in their_page
    refused = _act(invigilator, sitting_id, attempt_id, "unlock", reason=" ")
    assert refused.status_code == 400 and "Give a reason for unlocking" in refused.get_data(as_text=True)
    assert _act(invigilator, sitting_id, attempt_id, "unlock", reason="spoke to candidate").status_code == 303
    assert ("attempt.unlock", "spoke to candidate") in audit_actions(app, attempt_id)
    assert attempt_of(app, "0001").state == "in_progress"
    assert browser.client.get("/blocked", headers=HX).headers["HX-Redirect"] == "/test"
    assert browser.item_page(1).status_code == 200
    clock.advance(minutes=1)
    assert remaining(app, "0001") == before - 60
    assert _act(invigilator, sitting_id, attempt_id, "unlock", reason="again").status_code == 400


def test_keep_running_policy_leaves_the_clock_running(app, demo, invigilator, candidate_factory, clock):
    sitting_id = demo["sitting_id"]
    set_locks(app, sitting_id, spec_locks={"browser_signals": {"policy": "lock", "clock": "keep_running"}})
    browser = working(candidate_factory, invigilator, sitting_id)
    _signal(browser, "print")
    before = remaining(app, "0001")
    clock.advance(minutes=3)
    assert remaining(app, "0001") == before - 180
    assert attempt_of(app, "0001").state == "in_progress"
    page = browser.client.get("/blocked").get_data(as_text=True)
    assert "Your clock keeps running." in page
    assert _signal(browser, "copy").get_json() == {"recorded": ["counted"], "go": "/blocked"}
    assert len(_incidents(app)) == 1


def test_unlock_does_not_restart_a_clock_the_invigilator_stopped(app, demo, invigilator, candidate_factory):
    sitting_id = demo["sitting_id"]
    set_locks(app, sitting_id, spec_locks={"browser_signals": {"policy": "lock"}})
    browser = working(candidate_factory, invigilator, sitting_id)
    attempt_id = attempt_of(app, "0001").id
    _signal(browser, "paste")
    invigilator.post(f"/invigilate/sittings/{sitting_id}/emergency")
    assert _act(invigilator, sitting_id, attempt_id, "unlock", reason="ok").status_code == 303
    assert attempt_of(app, "0001").state == "paused"  # still paused: the room is stopped


def test_a_signal_after_submit_or_while_paused_is_ignored(app, demo, invigilator, candidate_factory):
    sitting_id = demo["sitting_id"]
    set_locks(app, sitting_id, spec_locks={"browser_signals": {"policy": "lock"}})
    browser = working(candidate_factory, invigilator, sitting_id)
    _act(invigilator, sitting_id, attempt_of(app, "0001").id, "pause", reason="toilet")
    assert _signal(browser, "focus_lost").status_code == 204
    _act(invigilator, sitting_id, attempt_of(app, "0001").id, "resume")
    browser.submit()
    assert _signal(browser, "focus_lost").status_code == 204
    assert _signals(app) == []


def test_the_candidate_start_page_says_what_the_test_requires(app, demo, candidate_factory):
    set_locks(app, demo["sitting_id"], spec_locks={"browser_signals": {"policy": "lock"}, "one_device": {}})
    browser = candidate_factory("0001")
    browser.sign_in()
    page = browser.client.get("/details").get_data(as_text=True)
    assert "This test requires" in page
    assert "locks your test until your invigilator unlocks it" in page and "one computer only" in page


def test_resume_is_not_unlock_and_a_finished_candidate_is_not_held_by_a_lock(app, demo, invigilator,
                                                                            candidate_factory, clock):
    sitting_id = demo["sitting_id"]
    set_locks(app, sitting_id, spec_locks={"browser_signals": {"policy": "lock"}})
    browser = working(candidate_factory, invigilator, sitting_id)
    attempt_id = attempt_of(app, "0001").id
    _signal(browser, "context_menu")
    # The invigilator resumes the clock without unlocking: the candidate is still held, and told
    # truthfully that the clock runs.
    assert _act(invigilator, sitting_id, attempt_id, "resume").status_code == 303
    page = browser.client.get("/blocked").get_data(as_text=True)
    assert "Your test is locked" in page and "Your clock keeps running." in page
    # Time runs out while locked: the candidate goes to the finished page, and no alert remains.
    clock.advance(minutes=50)
    assert browser.client.get("/test/done").status_code == 200
    assert browser.client.get("/blocked", headers=HX).headers["HX-Redirect"] == "/test/done"
    register = invigilator.client.get(f"/invigilate/sittings/{sitting_id}/register", headers=HX).get_data(as_text=True)
    assert "is locked since" not in register
