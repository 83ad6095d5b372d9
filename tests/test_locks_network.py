"""The centre-network lock: candidates only from the centre's ranges, judged by the address the
app believes (``request.remote_addr`` after ProxyFix), never by headers a browser can send."""
from __future__ import annotations

from engine import db, models
from engine.locks import config_problems

from conftest import CandidateBrowser
from locks_support import (
    CENTRE_NET, HX, INSIDE, OUTSIDE, attempt_of, audit_actions, from_address, proxied_app, set_centre_ranges,
    set_locks,
)

NETWORK = {"centre_network": {}}


def _configure(app, demo, settings=None):
    set_centre_ranges(app, demo["centre"], [CENTRE_NET])
    set_locks(app, demo["sitting_id"], spec_locks={"centre_network": settings or {}})


def _browser(app, demo, address, number="0001"):
    return from_address(CandidateBrowser(app, demo["centre"], number, demo["keycode"]), address)


def _try_sign_in(browser):
    from conftest import csrf_from
    page = browser.client.get("/start").get_data(as_text=True)
    return browser.client.post("/start", data={"centre_number": browser.centre, "candidate_number": browser.number,
                                               "keycode": browser.keycode, "csrf_token": csrf_from(page)})


def test_a_candidate_on_the_centre_network_signs_in_and_works(app, demo, invigilator):
    _configure(app, demo)
    browser = _browser(app, demo, INSIDE)
    browser.sign_in()
    browser.confirm()
    invigilator.start(demo["sitting_id"])
    assert browser.item_page(1).status_code == 200


def test_a_candidate_outside_the_network_is_refused_at_sign_in_and_told_why(app, demo):
    _configure(app, demo)
    refused = _try_sign_in(_browser(app, demo, OUTSIDE))
    assert refused.status_code == 403
    assert "not on the centre&#39;s network" in refused.get_data(as_text=True)
    attempt = attempt_of(app, "0001")
    assert attempt.state == "ready" and attempt.session_generation == 0
    # The refusal is on the record the invigilator reads.
    assert any(action == "attempt.sign_in_refused" for action, _ in audit_actions(app, attempt.id))


def test_a_spoofed_forwarded_for_header_is_ignored_without_a_trusted_proxy(app, demo):
    _configure(app, demo)
    browser = _browser(app, demo, OUTSIDE)
    browser.client.environ_base["HTTP_X_FORWARDED_FOR"] = INSIDE
    browser.client.environ_base["HTTP_X_REAL_IP"] = INSIDE
    assert _try_sign_in(browser).status_code == 403


def test_a_signed_in_candidate_who_leaves_the_network_is_blocked_on_every_page(app, demo, invigilator):
    _configure(app, demo)
    browser = _browser(app, demo, INSIDE)
    browser.sign_in()
    browser.confirm()
    invigilator.start(demo["sitting_id"])
    from_address(browser, OUTSIDE)
    page = browser.item_page(1)
    assert page.status_code == 303 and page.headers["Location"] == "/blocked"
    blocked = browser.client.get("/blocked")
    assert blocked.status_code == 403 and "exam room" in blocked.get_data(as_text=True)
    assert 'name="r-' not in blocked.get_data(as_text=True)
    saves_refused = browser.answer(1, {"choice": "1"})
    assert saves_refused.status_code == 409 and saves_refused.headers["HX-Redirect"] == "/blocked"
    assert browser.client.get("/wait").headers["Location"] == "/blocked"
    # Back on the network: the blocked page's poll sends the candidate on.
    from_address(browser, INSIDE)
    assert browser.client.get("/blocked", headers=HX).headers["HX-Redirect"] == "/test"


def test_behind_a_proxy_only_the_address_the_proxy_saw_counts(app, demo, clock):
    _configure(app, demo)
    behind = proxied_app(app, clock, hops=1)
    try:
        # The proxy (127.0.0.1) appends the address it saw; a browser's own header comes first.
        honest = _browser(behind, demo, "127.0.0.1")
        honest.client.environ_base["HTTP_X_FORWARDED_FOR"] = INSIDE
        assert honest.sign_in().status_code == 303
        spoofing = _browser(behind, demo, "127.0.0.1", number="0002")
        spoofing.client.environ_base["HTTP_X_FORWARDED_FOR"] = f"{INSIDE}, {OUTSIDE}"
        assert _try_sign_in(spoofing).status_code == 403
        wrong = _browser(behind, demo, "127.0.0.1", number="0003")
        wrong.client.environ_base["HTTP_X_FORWARDED_FOR"] = OUTSIDE
        assert _try_sign_in(wrong).status_code == 403
    finally:
        db.engine_for(behind).dispose()


def test_a_centre_with_no_recorded_network_lets_nobody_in(app, demo):
    set_locks(app, demo["sitting_id"], spec_locks=NETWORK)
    set_centre_ranges(app, demo["centre"], [])
    refused = _try_sign_in(_browser(app, demo, INSIDE))
    assert refused.status_code == 403 and "no network is recorded" in refused.get_data(as_text=True)


def test_extra_ranges_in_the_specification_and_ipv6(app, demo):
    set_locks(app, demo["sitting_id"], spec_locks={"centre_network": {"use_centre_ranges": False,
                                                                      "extra_ranges": ["2001:db8::/48"]}})
    set_centre_ranges(app, demo["centre"], [CENTRE_NET])
    assert _try_sign_in(_browser(app, demo, INSIDE)).status_code == 403  # the centre's ranges are not used
    assert _try_sign_in(_browser(app, demo, "2001:db8::7")).status_code == 303


def test_settings_are_checked(app):
    with app.app_context():
        problems = dict(config_problems({"centre_network": {"extra_ranges": ["10.0.0.0/33", "fish"],
                                                            "use_centre_ranges": "yes", "colour": 1}}))
    assert problems[("centre_network", "extra_ranges", 0)].startswith("'10.0.0.0/33' is not an IP range")
    assert ("centre_network", "extra_ranges", 1) in problems
    assert problems[("centre_network", "use_centre_ranges")] == "must be true or false"
    assert "is not a setting of centre_network" in problems[("centre_network", "colour")]


def test_the_network_lock_does_not_touch_another_sitting(app, demo):
    set_centre_ranges(app, demo["centre"], [CENTRE_NET])
    with app.app_context():
        session = db.new_session(app)
        assert session.get(models.Sitting, demo["sitting_id"]).specification.locks == {}
        session.close()
    assert _try_sign_in(_browser(app, demo, OUTSIDE)).status_code == 303
