"""The browser-signals script in a real browser (Debian's Chromium through Playwright) under the
strict CSP: a copy attempt is blocked in the page, reported, and with the "lock" policy the
candidate is taken to the page that says why; after the invigilator's unlock the test goes on.

Skipped where Chromium or Playwright is missing (required in CI, like the rest of tests/browser/).
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from engine import attempts, clock, create_app, db, lock_state, models

from conftest import TEST_SETTINGS

CHROMIUM = os.environ.get("ONSCREEN_CHROMIUM", "/usr/bin/chromium")


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Chromium is not installed at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed"
    return None


@pytest.fixture
def server(demo_snapshot, tmp_path):
    reason = _unavailable()
    if reason:
        if os.environ.get("CI") or os.environ.get("ONSCREEN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here but {reason}")
        pytest.skip(f"browser test skipped: {reason}")
    path = tmp_path / "onscreen.db"
    shutil.copy(demo_snapshot["path"], path)
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": f"sqlite:///{path}"})
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    live = make_server("127.0.0.1", 0, app, threaded=True)  # any free port
    thread = threading.Thread(target=live.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{live.server_port}", dict(demo_snapshot["info"])
    finally:
        live.shutdown()
        thread.join(timeout=10)
        db.engine_for(app).dispose()


def _in_db(app, fn):
    with app.app_context():
        session = db.new_session(app)
        try:
            with db.writing(session):
                return fn(session)
        finally:
            session.close()


def test_a_copy_attempt_is_reported_and_locks_the_test(server, new_context):
    app, url, info = server
    sitting_id = info["sitting_id"]

    def configure(session):
        sitting = session.get(models.Sitting, sitting_id)
        sitting.specification.locks = {"browser_signals": {"policy": "lock", "clock": "stop"}}
    _in_db(app, configure)
    # One Playwright per process: the browser comes from tests/browser/conftest.py.
    context = new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        errors = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(f"{url}/start")
        page.fill("#centre_number", info["centre"])
        page.fill("#candidate_number", "0001")
        page.fill("#keycode", info["keycode"])
        page.get_by_role("button", name="Sign in").click()
        assert "This test requires" in page.content()
        page.check("#confirm")
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(re.compile(r"/wait$"))
        _in_db(app, lambda s: attempts.start_sitting(s, s.get(models.Sitting, sitting_id), "test", clock.now(s)))
        page.goto(f"{url}/test")
        page.wait_for_url(re.compile(r"/test/item/\d+$"))
        assert page.locator('script[src="/lock-assets/browser_signals/signals.js"]').count() == 1
        # The script cancels the copy and reports it; the server locks; the page moves on.
        cancelled = page.evaluate("""() => {
            const event = new Event("copy", {cancelable: true});
            document.dispatchEvent(event);
            return event.defaultPrevented;
        }""")
        assert cancelled is True
        page.wait_for_url(re.compile(r"/blocked$"))
        assert "Your test is locked: You tried to copy." in page.content()
        assert not [e for e in errors if "Content Security Policy" in e], errors
        attempt = _in_db(app, lambda s: s.scalar(select(models.Attempt).join(models.Entry).join(models.Candidate)
                                                 .where(models.Candidate.candidate_number == "0001",
                                                        models.Entry.sitting_id == sitting_id)))
        assert attempt.state == "paused" and attempt.locked_at is not None

        def unlock(session):
            found = session.get(models.Attempt, attempt.id)
            lock_state.unlock(session, found, clock.now(session), "staff:invigilator", "spoke to them")
        _in_db(app, unlock)
        # The blocked page's poll notices and takes the candidate back to the test.
        page.wait_for_url(re.compile(r"/test/item/\d+$"), timeout=15_000)
    finally:
        page.close()
