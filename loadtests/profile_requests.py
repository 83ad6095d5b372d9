"""Server CPU and SQL statements per request on the test-taking path, measured in-process.

    .venv/bin/python loadtests/profile_requests.py [--requests 200] [--database-url URL] [--profile save]

Builds a scratch SQLite database (or uses an empty PostgreSQL database you name) with the bundled
banks and the demo, signs candidate 0001 in, starts the sitting, then times the item page, the save
and the timer sync through the Flask test client; and the invigilator's register poll for a
started room of 30 (made as ``onscreen loadtest prepare`` makes one). CPU is ``time.process_time`` (robust to
other load on the machine, unlike wall time); statements are counted with an SQLAlchemy event. On a
PostgreSQL server on this host, the server's CPU is measured too: that of the backends serving the
app's connections, read from /proc (``-`` where the server is elsewhere). ``--profile``
prints a cProfile of one kind of request (by cumulative time; `SORT=tottime` in the environment
sorts by each function's own time; `CLOCK=cpu` times CPU, leaving out the waits for the
database). The figures go to docs/performance.md by hand.
"""
from __future__ import annotations

import argparse
import os
import cProfile
import pstats
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import event, select  # noqa: E402

from engine import attempts, clock, create_app, db, migrations, models  # noqa: E402
from engine.demo import create_demo  # noqa: E402
from engine.loadtest_prepare import PrepareOptions, prepare as prepare_rooms  # noqa: E402


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def prepare(database_url: str):
    app = create_app({"SECRET_KEY": "profile", "DATABASE_URL": database_url,
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    migrations.upgrade(app)
    printed = "\n".join(create_demo(app, REPO / "item_banks"))
    keycode = re.search(r"keycode (\w+)\.", printed).group(1)
    sitting_id = int(re.search(r"Sitting (\d+):", printed).group(1))
    client = app.test_client()
    page = client.get("/start").get_data(as_text=True)
    response = client.post("/start", data={"centre_number": "99001", "candidate_number": "0001",
                                           "keycode": keycode, "csrf_token": csrf_from(page)})
    assert response.status_code == 303, response.get_data(as_text=True)
    csrf = csrf_from(client.get("/details", follow_redirects=True).get_data(as_text=True))
    client.post("/details", data={"confirm": "yes", "csrf_token": csrf})
    session = db.new_session(app)
    with app.app_context(), db.writing(session):
        attempts.start_sitting(session, session.get(models.Sitting, sitting_id), "profile", clock.now(session))
    # A text answer that any item type parses or ignores: the save path runs in full either way.
    with app.app_context():
        first = session.scalar(select(models.FormItem).join(models.Attempt).order_by(models.FormItem.position))
        position = first.position
    session.close()
    return app, client, csrf, position


def invigilator_client(app, room_size: int = 30):
    """A signed-in invigilator's client and the register poll of their started room."""
    plan = prepare_rooms(app, PrepareOptions(candidates=room_size, room_size=room_size, centre_number="98777"))
    room = plan["rooms"][0]
    session = db.new_session(app)
    with app.app_context(), db.writing(session):
        attempts.start_sitting(session, session.get(models.Sitting, room["sitting_id"]), "profile", clock.now(session))
    session.close()
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    response = client.post("/staff/login", data={"username": room["invigilator"], "csrf_token": csrf_from(page),
                                                 "password": plan["invigilator_password"]})
    assert response.status_code in (302, 303), response.status_code
    return client, f"/invigilate/sittings/{room['sitting_id']}/register"


def backend_cpu_seconds(pids: set[int]) -> float | None:
    """CPU seconds used so far by these PostgreSQL backends; None if one is not on this host."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(app, client, csrf, position, requests: int, profile: str | None):
    statements = {"n": 0}
    engine = db.engine_for(app)
    backends: set[int] = set()

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args):
        statements["n"] += 1

    if engine.dialect.name == "postgresql":
        engine.dispose()  # every connection from now on is seen by the listener below

        @event.listens_for(engine, "connect")
        def _backend(dbapi_connection, _record):
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                backends.add(cursor.fetchone()[0])
            dbapi_connection.commit()

    kinds = {
        "item page": lambda: client.get(f"/test/item/{position}"),
        "save": lambda: client.post(f"/test/item/{position}", headers={"HX-Request": "true"},
                                    data={"csrf_token": csrf, "idem": uuid.uuid4().hex, "r-choice": "a"}),
        "timer sync": lambda: client.get("/test/time", headers={"HX-Request": "true"}),
    }
    invigilator, register = invigilator_client(app)
    kinds["register"] = lambda: invigilator.get(register, headers={"HX-Request": "true"})
    rows = []
    for name, call in kinds.items():
        call()  # warm caches and templates
        cpu, counts = [], []
        # CLOCK=cpu: each function's CPU, not its wall time (which counts the waits for the database).
        timer = time.process_time if os.environ.get("CLOCK") == "cpu" else time.perf_counter
        profiler = cProfile.Profile(timer) if profile == name else None
        seen_backends = frozenset(backends)
        database_before = backend_cpu_seconds(seen_backends) if seen_backends else None
        for _ in range(requests):
            statements["n"] = 0
            started = time.process_time()
            if profiler:
                profiler.enable()
            response = call()
            if profiler:
                profiler.disable()
            cpu.append((time.process_time() - started) * 1000)
            counts.append(statements["n"])
            assert response.status_code < 400, (name, response.status_code)
        database_after = backend_cpu_seconds(seen_backends) if database_before is not None else None
        # A backend opened during the loop is missing from ``before``: leave the figure out then.
        database_ms = (1000 * (database_after - database_before) / requests
                       if database_after is not None and backends == seen_backends else None)
        rows.append((name, statistics.median(cpu), statistics.mean(cpu), max(counts), database_ms))
        if profiler:
            stats = pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative"))
            stats.print_stats(int(os.environ.get("TOP", "35")))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", help="an EMPTY database (default: a scratch SQLite file)")
    parser.add_argument("--profile", choices=["item page", "save", "timer sync", "register"])
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = options.database_url or f"sqlite:///{Path(folder) / 'profile.db'}"
        app, client, csrf, position = prepare(url)
        rows = measure(app, client, csrf, position, options.requests, options.profile)
        db.engine_for(app).dispose()
    print(f"{'request':<12} {'CPU median ms':>14} {'CPU mean ms':>12} {'statements':>11} {'database CPU mean ms':>21}")
    for name, median, mean, count, database_ms in rows:
        database = "-" if database_ms is None else f"{database_ms:.2f}"
        print(f"{name:<12} {median:>14.2f} {mean:>12.2f} {count:>11} {database:>21}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
