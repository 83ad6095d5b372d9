"""The one-device lock: an attempt is bound to one browser by a signed, purpose-salted token; a
second device is refused until the invigilator moves the candidate."""
from __future__ import annotations

from itsdangerous import URLSafeTimedSerializer

from engine import lock_state

from conftest import csrf_from
from locks_support import HX, attempt_of, audit_actions, set_locks, sign_in_anywhere, working


def _try_sign_in(browser):
    page = browser.client.get("/start").get_data(as_text=True)
    return browser.client.post("/start", data={"centre_number": browser.centre, "candidate_number": browser.number,
                                               "keycode": browser.keycode, "csrf_token": csrf_from(page)})


def _token(browser):
    cookie = browser.client.get_cookie(lock_state.DEVICE_COOKIE)
    return cookie.value if cookie else None


def _set_token(browser, value):
    browser.client.set_cookie(lock_state.DEVICE_COOKIE, value)


def _act(invigilator, sitting_id, attempt_id, action, **data):
    return invigilator.post(f"/invigilate/sittings/{sitting_id}/attempts/{attempt_id}/{action}", **data)


def test_a_second_device_is_refused_and_the_first_carries_on(app, demo, invigilator, candidate_factory):
    set_locks(app, demo["sitting_id"], spec_locks={"one_device": {}})
    first = working(candidate_factory, invigilator, demo["sitting_id"])
    token = _token(first)
    assert token
    second = candidate_factory("0001")
    refused = _try_sign_in(second)
    assert refused.status_code == 403 and "already open on another computer" in refused.get_data(as_text=True)
    assert first.item_page(1).status_code == 200  # not cut off by the attempt
    assert any(a == "attempt.sign_in_refused" for a, _ in audit_actions(app, attempt_of(app, "0001").id))


def test_the_same_browser_may_sign_in_again(app, demo, invigilator, candidate_factory):
    set_locks(app, demo["sitting_id"], spec_locks={"one_device": {}})
    browser = working(candidate_factory, invigilator, demo["sitting_id"])
    browser.client.post("/signout", data={"csrf_token": browser.csrf})
    assert _try_sign_in(browser).status_code == 303
    assert browser.item_page(1).status_code == 200


def test_a_forged_token_is_refused(app, demo, invigilator, candidate_factory):
    set_locks(app, demo["sitting_id"], spec_locks={"one_device": {}})
    first = working(candidate_factory, invigilator, demo["sitting_id"])
    attempt_id = attempt_of(app, "0001").id
    device_id = URLSafeTimedSerializer(app.secret_key, salt=lock_state.DEVICE_SALT).loads(_token(first))["d"]
    thief = candidate_factory("0001")
    # Signed with the wrong key, or with the right key for another purpose: both refused.
    _set_token(thief, URLSafeTimedSerializer("guessed", salt=lock_state.DEVICE_SALT).dumps({"a": attempt_id, "d": device_id}))
    assert _try_sign_in(thief).status_code == 403
    _set_token(thief, URLSafeTimedSerializer(app.secret_key, salt="another.purpose").dumps({"a": attempt_id, "d": device_id}))
    assert _try_sign_in(thief).status_code == 403
    _set_token(thief, _token(first)[:-2] + "xx")
    assert _try_sign_in(thief).status_code == 403


def test_a_token_replayed_from_another_attempt_or_an_old_binding_is_refused(app, demo, invigilator, candidate_factory):
    sitting_id = demo["sitting_id"]
    set_locks(app, sitting_id, spec_locks={"one_device": {}})
    aisha = working(candidate_factory, invigilator, sitting_id, "0001")
    ben = candidate_factory("0002")
    ben.sign_in()
    # Ben's second browser carries Aisha's valid token: it is for another attempt.
    ben_again = candidate_factory("0002")
    _set_token(ben_again, _token(aisha))
    assert _try_sign_in(ben_again).status_code == 403
    # A signed-in session that swaps in another attempt's token is blocked on its next request.
    _set_token(ben, _token(aisha))
    assert ben.client.get("/details").headers["Location"] == "/blocked"


def test_after_a_move_the_new_browser_is_bound_and_the_old_token_is_dead(app, demo, invigilator, candidate_factory):
    sitting_id = demo["sitting_id"]
    set_locks(app, sitting_id, spec_locks={"one_device": {}})
    old = working(candidate_factory, invigilator, sitting_id)
    old_token = _token(old)
    attempt_id = attempt_of(app, "0001").id
    assert _act(invigilator, sitting_id, attempt_id, "move", reason="screen froze").status_code == 303
    new = candidate_factory("0001")
    landing = sign_in_anywhere(new)
    assert "Your test is paused" in landing
    assert _token(new) and _token(new) != old_token
    _act(invigilator, sitting_id, attempt_id, "resume", reason="on workstation 14")
    assert new.item_page(1).status_code == 200
    # The old browser, signing in again with its old token, is now the second device.
    assert _try_sign_in(old).status_code == 403
    actions = [a for a, _ in audit_actions(app, attempt_id)]
    assert actions.count("attempt.device_bound") == 2 and "attempt.device_released" in actions


def test_a_request_without_the_token_is_blocked(app, demo, invigilator, candidate_factory):
    set_locks(app, demo["sitting_id"], spec_locks={"one_device": {}})
    browser = working(candidate_factory, invigilator, demo["sitting_id"])
    browser.client.delete_cookie(lock_state.DEVICE_COOKIE)
    assert browser.item_page(1).headers["Location"] == "/blocked"
    assert browser.client.get("/test/time", headers=HX).headers["HX-Redirect"] == "/blocked"


def test_the_token_cookie_is_http_only_and_strict(app, demo, candidate_factory):
    set_locks(app, demo["sitting_id"], spec_locks={"one_device": {}})
    browser = candidate_factory("0001")
    response = browser.sign_in()
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(lock_state.DEVICE_COOKIE))
    assert "HttpOnly" in header and "SameSite=Strict" in header
