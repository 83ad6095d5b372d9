"""Browser tests: Playwright for Python driving Debian's Chromium against a live server.

The browser is the system's (``/usr/bin/chromium``, installed by ``.ci/run`` / ``make
browser``); Playwright never downloads one. Without Chromium or Playwright the tests skip with
a clear message on a developer's machine, and fail in CI (``CI`` or
``ONSCREEN_REQUIRE_BROWSER=1``), so a missing browser can never pass as green.

Each test gets its own server (a werkzeug thread on a free port) over a fresh copy of the demo
database, so tests never see each other's sittings.
"""
from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from .browser_support import SETTINGS, LiveServer
from engine import create_app, db

CHROMIUM = os.environ.get("ONSCREEN_CHROMIUM", "/usr/bin/chromium")
#: 0 (the default) lets the system choose a free port, so two runs on one machine never collide.
PORT = int(os.environ.get("ONSCREEN_BROWSER_TEST_PORT", "0"))


def _browser_required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("ONSCREEN_REQUIRE_BROWSER") == "1"


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium, or `make browser`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install -e '.[dev]')"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _unavailable()
    if reason is None:
        return
    if _browser_required():
        return  # the browser fixture fails each test with the reason
    browser_items = [item for item in items if Path(str(item.fspath)).parent == Path(__file__).parent]
    for item in browser_items:
        item.add_marker(pytest.mark.skip(reason=f"browser tests skipped: {reason}"))


@pytest.fixture(scope="session")
def playwright_browser():
    reason = _unavailable()
    if reason is not None:
        pytest.fail(f"browser tests are required here (CI or ONSCREEN_REQUIRE_BROWSER=1) but {reason}")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def live_server(demo_snapshot, tmp_path):
    """The app on a real socket, over a copy of the demo (real clock: the browser waits for real)."""
    path = tmp_path / "onscreen.db"
    shutil.copy(demo_snapshot["path"], path)
    app = create_app({**SETTINGS, "DATABASE_URL": f"sqlite:///{path}"})
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in the test output
    server = make_server("127.0.0.1", PORT, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, dict(demo_snapshot["info"]))
    finally:
        server.shutdown()
        thread.join(timeout=10)
        db.engine_for(app).dispose()


@pytest.fixture
def new_context(playwright_browser):
    """Make browser contexts (each its own cookies, like a separate workstation); closed after."""
    contexts = []

    def make(**options):
        context = playwright_browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
