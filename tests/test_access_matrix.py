"""Every candidate route, tried by everyone who is not the owner: another candidate's session,
a copied (foreign) session on another computer, a stale session from before a sign-in
elsewhere, no session, and a member of staff. None of them gets through to the owner's
attempt or changes it; only the owner, in the state the route is for, gets through.

The routes are read from the app's URL map, so a candidate route added later is tried the
moment it exists (with the negative actors; add it to ``OWNER`` for the positive control).
"""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from engine import db, models
from engine.models_locks import BrowserSignal

from conftest import CandidateBrowser
from locks_support import HX, attempt_of, set_locks, working

#: Blueprints whose routes act on the signed-in candidate's attempt.
CANDIDATE_BLUEPRINTS = ("candidate", "locks")
#: Routes anyone may use: the front page, signing in and out, and static lock assets.
PUBLIC = {"candidate.index", "candidate.sign_in", "candidate.sign_out", "locks.asset"}
SESSION_COOKIE = "onscreen_session"


def candidate_routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every candidate route, filled in with position 1."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in CANDIDATE_BLUEPRINTS or rule.endpoint in PUBLIC:
            continue
        url = rule.rule.replace("<int:position>", "1")
        assert "<" not in url, f"{rule.rule}: give the access matrix a value for this argument"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url))
    return sorted(found)


def _post_data(csrf: str | None) -> dict:
    """Fields that would make each candidate form do something if it were accepted."""
    data = {"confirm": "yes", "flagged": "1", "hidden": "1", "kind": "copy", "idem": uuid.uuid4().hex,
            "r-choice": "1", "r-answer": "x"}
    if csrf:
        data["csrf_token"] = csrf
    return data


def _request(client, method, url, csrf, htmx=False):
    headers = dict(HX) if htmx else {}
    if method == "GET":
        return client.get(url, headers=headers)
    if csrf:
        headers["X-CSRFToken"] = csrf
    return client.post(url, data=_post_data(csrf), headers=headers)


def _snapshot(app, attempt_id: int) -> dict:
    with app.app_context():
        session = db.new_session(app)
        attempt = session.get(models.Attempt, attempt_id)
        found = {
            "state": attempt.state, "last_seq": attempt.last_seq, "timer_hidden": attempt.timer_hidden,
            "break_requested_at": attempt.break_requested_at, "generation": attempt.session_generation,
            "locked_at": attempt.locked_at, "flags": [fi.flagged for fi in attempt.form_items],
            "answers": [fi.current_response for fi in attempt.form_items],
            "saves": session.scalar(select(func.count()).select_from(models.ResponseEvent)
                                    .where(models.ResponseEvent.attempt_id == attempt_id)),
            "signals": session.scalar(select(func.count()).select_from(BrowserSignal)
                                      .where(BrowserSignal.attempt_id == attempt_id)),
            "time_events": session.scalar(select(func.count()).select_from(models.TimeEvent)
                                          .where(models.TimeEvent.attempt_id == attempt_id)),
        }
        session.close()
        return found


def _got_through(response) -> bool:
    """A 2xx answer with something in it, not a redirect in disguise (htmx), got through. An
    empty 204 (a poll told "nothing changed") shows nothing; changes are checked separately."""
    return (200 <= response.status_code < 300 and "HX-Redirect" not in response.headers
            and bool(response.get_data()))


@pytest.fixture
def room(app, demo, invigilator, candidate_factory):
    """The owner (0001) and another candidate (0002) both working, under the one-device lock and
    a lock that listens to browser signals; a copied and a stale session of the owner's."""
    sitting_id = demo["sitting_id"]
    set_locks(app, sitting_id, spec_locks={"one_device": {}, "browser_signals": {"policy": "record"}})
    stale = CandidateBrowser(app, demo["centre"], "0001", demo["keycode"])
    stale.sign_in()  # a session of generation 1 on this computer
    owner = candidate_factory("0001")
    owner.client.set_cookie("onscreen_device", stale.client.get_cookie("onscreen_device").value)
    stale.client.post("/signout", data={"csrf_token": stale.csrf})
    # The stale computer keeps a copy of its old session cookie; the owner signs in (same
    # device token, so allowed) and the old session is cut off by the new generation.
    stale_cookie = stale.client.get_cookie(SESSION_COOKIE)
    owner.sign_in()
    owner.confirm()
    other = working(candidate_factory, invigilator, sitting_id, "0002")
    # A copy of the owner's current session cookie, on a computer without the device token.
    foreign = CandidateBrowser(app, demo["centre"], "0001", demo["keycode"])
    foreign.client.set_cookie(SESSION_COOKIE, owner.client.get_cookie(SESSION_COOKIE).value)
    foreign.csrf = owner.csrf
    if stale_cookie is not None:
        stale.client.set_cookie(SESSION_COOKIE, stale_cookie.value)
    stale.client.set_cookie("onscreen_device", owner.client.get_cookie("onscreen_device").value)
    nobody = CandidateBrowser(app, demo["centre"], "0001", demo["keycode"])
    return {"owner": owner, "other": other, "foreign": foreign, "stale": stale, "nobody": nobody,
            "staff": invigilator, "attempt_id": attempt_of(app, "0001").id}


def test_nobody_but_the_owner_gets_through_to_the_owners_attempt(app, demo, room):
    with app.app_context():  # the owner's name must not appear on anyone else's page
        session = db.new_session(app)
        first_name = session.get(models.Attempt, room["attempt_id"]).entry.candidate.first_name
        session.close()
    before = _snapshot(app, room["attempt_id"])
    assert before["state"] == "in_progress"
    tried, leaks, changed_by = 0, [], []
    for endpoint, method, url in candidate_routes(app):
        for actor in ("other", "foreign", "stale", "nobody", "staff"):
            browser = room[actor]
            csrf = getattr(browser, "csrf", None)
            for htmx in (False, True):
                response = _request(browser.client, method, url, csrf, htmx=htmx)
                tried += 1
                body = response.get_data(as_text=True)
                if actor == "other":
                    # Another candidate only ever reaches their own attempt.
                    if first_name in body:
                        leaks.append((actor, method, url, htmx))
                elif _got_through(response):
                    leaks.append((actor, method, url, htmx, response.status_code))
                if _snapshot(app, room["attempt_id"]) != before:
                    changed_by.append((actor, method, url, htmx))
                    before = _snapshot(app, room["attempt_id"])
    assert tried >= 5 * 2 * 14
    assert leaks == [], f"requests that got through to the owner's attempt: {leaks}"
    assert changed_by == [], f"requests that changed the owner's attempt: {changed_by}"
    # The control: the owner's own page does show the name the check above looks for.
    assert first_name in room["owner"].item_page(1).get_data(as_text=True)


#: endpoint -> the owner's state in which the route is for them, and what a success looks like.
OWNER = {
    ("candidate.details", "GET"): ("ready", 200),
    ("candidate.details", "POST"): ("ready", 303),
    ("candidate.waiting", "GET"): ("waiting", 200),
    ("candidate.paused", "GET"): ("paused", 200),
    ("candidate.test", "GET"): ("in_progress", 302),
    ("candidate.item", "GET"): ("in_progress", 200),
    ("candidate.save", "POST"): ("in_progress", 200),
    ("candidate.flag", "POST"): ("in_progress", 200),
    ("candidate.time_left", "GET"): ("in_progress", 200),
    ("candidate.review", "GET"): ("in_progress", 200),
    ("candidate.timer_visibility", "POST"): ("in_progress", 200),
    ("candidate.break_request", "POST"): ("in_progress", 200),
    ("locks.signal", "POST"): ("in_progress", 200),
    ("candidate.submit", "POST"): ("in_progress", 303),
    ("candidate.done", "GET"): ("finished", 200),
    ("locks.blocked", "GET"): ("blocked", 403),
}


def test_the_owner_gets_through_in_the_state_each_route_is_for(app, demo, invigilator, candidate_factory):
    """The positive control: the same requests, from the owner, in the right state, succeed
    (so the matrix above fails for the right reason); in any other state they do not."""
    sitting_id = demo["sitting_id"]
    routes = {(endpoint, method): url for endpoint, method, url in candidate_routes(app)}
    assert set(OWNER) <= set(routes), "a route in OWNER no longer exists"
    owner = candidate_factory("0001")
    owner.sign_in()

    def call(endpoint, method):
        htmx = endpoint in ("candidate.save", "candidate.flag", "candidate.time_left",
                            "candidate.timer_visibility", "candidate.break_request")
        return _request(owner.client, method, routes[(endpoint, method)], owner.csrf, htmx=htmx)

    def check(state):
        for (endpoint, method), (wanted_state, status) in OWNER.items():
            if wanted_state != state or (endpoint, method) == ("candidate.submit", "POST"):
                continue
            if (endpoint, method) == ("candidate.details", "POST"):
                continue  # done below: it moves the candidate on
            response = call(endpoint, method)
            assert response.status_code == status and "HX-Redirect" not in response.headers, (endpoint, method, state)
        # And the item routes are out of reach outside "in_progress".
        if state != "in_progress":
            assert not _got_through(call("candidate.item", "GET"))
            assert not _got_through(call("candidate.save", "POST"))

    check("ready")
    assert call("candidate.details", "POST").status_code == 303
    check("waiting")
    invigilator.start(sitting_id)
    check("in_progress")
    attempt_id = attempt_of(app, "0001").id
    invigilator.post(f"/invigilate/sittings/{sitting_id}/attempts/{attempt_id}/pause", reason="matrix")
    check("paused")
    invigilator.post(f"/invigilate/sittings/{sitting_id}/attempts/{attempt_id}/resume")
    set_locks(app, sitting_id, spec_locks={"browser_signals": {"policy": "lock", "clock": "keep_running"}})
    call("locks.signal", "POST")
    check("blocked")
    invigilator.post(f"/invigilate/sittings/{sitting_id}/attempts/{attempt_id}/unlock", reason="matrix")
    assert call("candidate.submit", "POST").headers["Location"] == "/test/done"
    check("finished")
