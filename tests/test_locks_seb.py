"""The Safe Exam Browser lock checks the Config Key / Browser Exam Key request hashes, never the
User-Agent, and tells the candidate clearly what to do when the check fails."""
from __future__ import annotations

from conftest import CandidateBrowser, csrf_from
from locks_support import seb_hash, set_locks, working

CONFIG_KEY = "3f" * 32
EXAM_KEY = "a1" * 32
BASE = "http://localhost"


def _seb_headers(url, config_key=CONFIG_KEY, exam_key=None):
    headers = {"X-SafeExamBrowser-ConfigKeyHash": seb_hash(url, config_key)}
    if exam_key:
        headers["X-SafeExamBrowser-RequestHash"] = seb_hash(url, exam_key)
    return headers


def _sign_in(app, demo, headers_for, number="0001"):
    browser = CandidateBrowser(app, demo["centre"], number, demo["keycode"])
    page = browser.client.get("/start").get_data(as_text=True)
    response = browser.client.post("/start", headers=headers_for(f"{BASE}/start"), data={
        "centre_number": demo["centre"], "candidate_number": number, "keycode": demo["keycode"],
        "csrf_token": csrf_from(page)})
    return browser, response


def test_seb_with_the_right_config_key_is_let_in(app, demo):
    set_locks(app, demo["sitting_id"], spec_locks={"safe_exam_browser": {"config_keys": [CONFIG_KEY]}})
    browser, response = _sign_in(app, demo, _seb_headers)
    assert response.status_code == 303
    details = browser.client.get("/details", headers=_seb_headers(f"{BASE}/details"))
    assert details.status_code == 200 and "Safe Exam Browser" in details.get_data(as_text=True)


def test_an_ordinary_browser_is_refused_with_a_clear_message(app, demo):
    set_locks(app, demo["sitting_id"], spec_locks={"safe_exam_browser": {"config_keys": [CONFIG_KEY]}})
    _browser, response = _sign_in(app, demo, lambda url: {})
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "must be taken in Safe Exam Browser" in page and "link your invigilator gives you" in page


def test_a_spoofed_user_agent_is_not_enough(app, demo):
    set_locks(app, demo["sitting_id"], spec_locks={"safe_exam_browser": {"config_keys": [CONFIG_KEY]}})
    _browser, response = _sign_in(app, demo, lambda url: {"User-Agent": "Mozilla/5.0 SEB/3.5 (x64)"})
    assert response.status_code == 403


def test_a_hash_for_another_url_or_key_is_refused(app, demo):
    set_locks(app, demo["sitting_id"], spec_locks={"safe_exam_browser": {"config_keys": [CONFIG_KEY]}})
    # Replayed from another page: the hash covers the URL.
    _b, replayed = _sign_in(app, demo, lambda url: _seb_headers(f"{BASE}/details"))
    assert replayed.status_code == 403
    # Made with another configuration's key.
    _b, wrong_key = _sign_in(app, demo, lambda url: _seb_headers(url, config_key="00" * 32))
    assert wrong_key.status_code == 403


def test_both_keys_must_match_when_both_are_configured(app, demo, invigilator):
    set_locks(app, demo["sitting_id"], spec_locks={"safe_exam_browser": {"config_keys": [CONFIG_KEY],
                                                                         "browser_exam_keys": [EXAM_KEY]}})
    _b, config_only = _sign_in(app, demo, _seb_headers)
    assert config_only.status_code == 403 and "version" in config_only.get_data(as_text=True)
    browser, both = _sign_in(app, demo, lambda url: _seb_headers(url, exam_key=EXAM_KEY))
    assert both.status_code == 303
    # Every later request is checked too, with its own URL.
    confirm = browser.client.post("/details", headers=_seb_headers(f"{BASE}/details", exam_key=EXAM_KEY),
                                  data={"confirm": "yes", "csrf_token": csrf_from(browser.client.get(
                                      "/details", headers=_seb_headers(f"{BASE}/details", exam_key=EXAM_KEY))
                                      .get_data(as_text=True))})
    assert confirm.status_code == 303
    invigilator.start(demo["sitting_id"])
    url = f"{BASE}/test/item/1"
    assert browser.client.get("/test/item/1", headers=_seb_headers(url, exam_key=EXAM_KEY)).status_code == 200
    assert browser.client.get("/test/item/1").headers["Location"] == "/blocked"


def test_settings_need_at_least_one_well_formed_key(app):
    from engine.locks import config_problems
    with app.app_context():
        assert dict(config_problems({"safe_exam_browser": {}})) == {
            ("safe_exam_browser", "config_keys"): "give at least one Config Key or Browser Exam Key"}
        problems = dict(config_problems({"safe_exam_browser": {"config_keys": ["short"], "browser_exam_keys": "x"}}))
        assert ("safe_exam_browser", "config_keys", 0) in problems
        assert problems[("safe_exam_browser", "browser_exam_keys")] == "must be a list of strings"


def test_a_sitting_without_the_lock_ignores_seb_headers(app, demo, invigilator, candidate_factory):
    browser = working(candidate_factory, invigilator, demo["sitting_id"])
    assert browser.item_page(1).status_code == 200
