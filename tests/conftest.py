"""Fixtures in the flaskr style (``app``, ``client``, ``runner``) plus action helpers.

Tests that take ``app`` run once on SQLite and, when ``ONSCREEN_TEST_DATABASE_URL`` is set,
once more on PostgreSQL. Each test gets its own migrated database: a copy of a migrated SQLite
file, or a PostgreSQL schema truncated between tests; with ``demo``, a copy of the demo made
once per session.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine import create_app, db, migrations
from engine.config import REPO_ROOT

POSTGRES_URL = os.environ.get("ONSCREEN_TEST_DATABASE_URL")
# One schema per test process, so two runs on one server never truncate each other's tables.
PG_SCHEMA = f"onscreen_test_{os.getpid()}"
BANKS = REPO_ROOT / "item_banks"
TEST_SETTINGS = {"TESTING": True, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "SECRET_KEY": "test-secret"}


class FakeClock:
    """A clock the test moves by hand; installed as ``app.config["CLOCK"]``."""

    def __init__(self, start: dt.datetime | None = None):
        self.now = start or dt.datetime(2026, 11, 23, 9, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


def _pg_url() -> str:
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{PG_SCHEMA}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": f"sqlite:///{path}"})
    migrations.upgrade(app)
    db.engine_for(app).dispose()
    return path


@pytest.fixture(scope="session")
def postgres_schema():
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": _pg_url()})
    migrations.upgrade(app)
    db.engine_for(app).dispose()
    yield _pg_url()
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def demo_snapshot(tmp_path_factory, sqlite_template):
    """The demo, made once per session (loading three banks and assembling forms is slow): a
    SQLite file to copy, the rows of every table to replay on PostgreSQL, and what it printed."""
    from engine.demo import create_demo
    from engine.models import Base
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    shutil.copy(sqlite_template, path)
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": f"sqlite:///{path}", "CLOCK": FakeClock()})
    printed = "\n".join(create_demo(app, BANKS))
    with db.engine_for(app).connect() as connection:
        rows = {table.name: [dict(row._mapping) for row in connection.execute(table.select())]
                for table in Base.metadata.sorted_tables}
    db.engine_for(app).dispose()
    info = {"keycode": re.search(r"keycode (\w+)\.", printed).group(1),
            "sitting_id": int(re.search(r"Sitting (\d+):", printed).group(1)), "centre": "99001"}
    return {"path": path, "rows": rows, "info": info}


def _replay_rows(connection, rows: dict) -> None:
    from engine.models import Base
    for table in Base.metadata.sorted_tables:
        if rows.get(table.name):
            connection.execute(table.insert(), rows[table.name])
            if "id" in table.c:
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT MAX(id) FROM {table.name}))"))


@pytest.fixture(params=["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"])
def database_url(request, tmp_path) -> str:
    """An empty migrated database, or one holding the demo when the test asks for ``demo``."""
    wants_demo = "demo" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "onscreen.db"
        source = request.getfixturevalue("demo_snapshot")["path"] if wants_demo else request.getfixturevalue("sqlite_template")
        shutil.copy(source, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_schema")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        tables = connection.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = :schema AND tablename <> 'alembic_version'"),
            {"schema": PG_SCHEMA}).scalars().all()
        connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        if wants_demo:
            _replay_rows(connection, request.getfixturevalue("demo_snapshot")["rows"])
    engine.dispose()
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(database_url, clock, tmp_path):
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": database_url, "CLOCK": clock})
    yield app
    db.engine_for(app).dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def demo(app, demo_snapshot):
    """The demo centre, staff, candidates and one open sitting of the Unit 2 test (already in
    the test's database: see ``database_url``)."""
    return dict(demo_snapshot["info"])


# --- action helpers -------------------------------------------------------------------------------

def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


class Invigilator:
    def __init__(self, app, username="invigilator", password="invigilate-demo"):
        self.client = app.test_client()
        page = self.client.get("/staff/login").get_data(as_text=True)
        response = self.client.post("/staff/login", data={
            "username": username, "password": password, "csrf_token": csrf_from(page)})
        assert response.status_code == 303, response.get_data(as_text=True)
        self.csrf = csrf_from(self.client.get("/staff/").get_data(as_text=True))

    def post(self, url, **data):
        return self.client.post(url, data={"csrf_token": self.csrf, **data})

    def start(self, sitting_id):
        response = self.post(f"/invigilate/sittings/{sitting_id}/start")
        assert response.status_code == 303, response.get_data(as_text=True)

    def end(self, sitting_id):
        response = self.post(f"/invigilate/sittings/{sitting_id}/end", confirm="yes", reason="test over")
        assert response.status_code == 303, response.get_data(as_text=True)


class CandidateBrowser:
    """A candidate at a workstation: a browser with its own cookies."""

    def __init__(self, app, centre, number, keycode):
        self.app, self.centre, self.number, self.keycode = app, centre, number, keycode
        self.client = app.test_client()
        self.csrf = None

    def sign_in(self):
        page = self.client.get("/start").get_data(as_text=True)
        response = self.client.post("/start", data={
            "centre_number": self.centre, "candidate_number": self.number, "keycode": self.keycode,
            "csrf_token": csrf_from(page)})
        assert response.status_code == 303, response.get_data(as_text=True)
        self.csrf = csrf_from(self.client.get("/details", follow_redirects=True).get_data(as_text=True))
        return response

    def confirm(self):
        response = self.client.post("/details", data={"confirm": "yes", "csrf_token": self.csrf})
        assert response.status_code == 303
        return response

    def item_page(self, position):
        return self.client.get(f"/test/item/{position}")

    def answer(self, position, fields: dict, htmx=True, key=None):
        """Post an item's fields (without the engine prefix) as the autosave would."""
        import uuid
        data = {"csrf_token": self.csrf, "idem": key or uuid.uuid4().hex}
        data.update({f"r-{name}": value for name, value in fields.items()})
        headers = {"HX-Request": "true"} if htmx else {}
        return self.client.post(f"/test/item/{position}", data=data, headers=headers)

    def submit(self):
        return self.client.post("/test/submit", data={"confirm": "yes", "csrf_token": self.csrf})


@pytest.fixture
def invigilator(app, demo):
    return Invigilator(app)


@pytest.fixture
def candidate_factory(app, demo):
    def make(number="0001"):
        return CandidateBrowser(app, demo["centre"], number, demo["keycode"])
    return make


@pytest.fixture
def started_candidate(candidate_factory, invigilator, demo):
    """Candidate 0001 signed in and confirmed, in the demo sitting the invigilator has started."""
    browser = candidate_factory("0001")
    browser.sign_in()
    browser.confirm()
    invigilator.start(demo["sitting_id"])
    return browser
