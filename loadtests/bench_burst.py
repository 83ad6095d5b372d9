"""The deadline burst as each candidate's browser meets it, measured in-process.

    .venv/bin/python loadtests/bench_burst.py [--candidates 60] [--database-url URL] [--profile]

At a deadline every browser's timer poll finds the time up: once the grace is over, the poll is
sent to the done page (engine/quiet_polls.py, in front of Flask), whose route finishes the attempt
(engine/candidate.py, ``_sweep_if_expired``): the first of a room finishes every timed-out
attempt of the room together, marks worked out before the write lock (engine/time_outs.py), and
the others find theirs finished. ``loadtests/bench_finish.py`` measures one finish alone; this
measures what the finishing candidates cost the server through the app: the polls, the lock
guard, the finishes and the done pages.

It builds a scratch SQLite database (or uses an EMPTY PostgreSQL database you name) with the
bundled banks and the demo centre, prepares two rooms of ``--candidates`` as ``onscreen
loadtest prepare`` does, signs each candidate in with their own test client, starts the rooms,
saves an answer to every item, draws each timer 5 s before the deadline (a page's timer is
drawn again at least every heartbeat), moves a test clock past the deadline and the grace, and
then sends each candidate's finishing poll (the timer's, as drawn) and done page in turn. One
room is timed (``time.process_time``): the mean is what a candidate costs, the room's work
shared out, and the worst is the first of the room, which does it. The other room runs under
cProfile, whose count of Python function calls per candidate does not move with the host's
speed (a slower or busier host changes the times, not the calls), so two versions of the code
can be compared on a noisy machine. ``--profile`` prints that profile (by cumulative time;
``SORT=tottime`` in the environment sorts by each function's own time). The figures go to
docs/performance.md by hand.
"""
from __future__ import annotations

import argparse
import cProfile
import html
import os
import datetime as dt
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

from sqlalchemy import select  # noqa: E402

from engine import attempts, create_app, db, migrations, models  # noqa: E402
from engine.demo import create_demo  # noqa: E402
from engine.loadtest_prepare import PrepareOptions, prepare as prepare_rooms  # noqa: E402

sys.path.insert(0, str(REPO / "loadtests"))
from profile_requests import csrf_from  # noqa: E402


class TestClock:
    """The app's clock (``CLOCK``), moved by hand: the deadline comes without waiting for it."""

    def __init__(self):
        self.now = dt.datetime(2026, 6, 1, 9, 0)

    def __call__(self) -> dt.datetime:
        return self.now


def started_rooms(app, clock: TestClock, size: int, rooms: int = 2):
    """``rooms`` started rooms of ``size`` signed-in candidates, every item answered: each room's
    test clients, and the latest deadline."""
    plan = prepare_rooms(app, PrepareOptions(candidates=size * rooms, room_size=size, centre_number="98778"))
    assert len(plan["rooms"]) == rooms, plan["rooms"]
    browsers = {room["sitting_id"]: [] for room in plan["rooms"]}
    for room in plan["rooms"]:
        for number in room["candidates"]:
            client = app.test_client()
            page = client.get("/start").get_data(as_text=True)
            response = client.post("/start", data={"centre_number": plan["centre"], "candidate_number": number,
                                                   "keycode": room["keycode"], "csrf_token": csrf_from(page)})
            assert response.status_code == 303, f"sign-in of {number}: {response.status_code}"
            csrf = csrf_from(client.get("/details", follow_redirects=True).get_data(as_text=True))
            client.post("/details", data={"confirm": "yes", "csrf_token": csrf})
            browsers[room["sitting_id"]].append((number, client, csrf))
    session = db.new_session(app)
    positions, deadline = {}, None
    with app.app_context():
        for sitting_id in browsers:
            with db.writing(session):
                assert attempts.start_sitting(session, session.get(models.Sitting, sitting_id), "bench",
                                              clock.now) == size
            started = session.scalars(select(models.Attempt).join(models.Entry)
                                      .where(models.Entry.sitting_id == sitting_id)).all()
            deadline = max([attempt.deadline_at for attempt in started] + ([deadline] if deadline else []))
            # Each candidate's own form: forms of one room may differ in length.
            positions.update({a.entry.candidate.candidate_number: [fi.position for fi in a.form_items]
                              for a in started})
    session.close()
    clock.now += dt.timedelta(minutes=1)
    # A text answer that any item type parses or ignores: every save is real either way.
    for room in browsers.values():
        for number, client, csrf in room:
            for position in positions[number]:
                response = client.post(f"/test/item/{position}", headers={"HX-Request": "true"},
                                       data={"csrf_token": csrf, "idem": uuid.uuid4().hex, "r-choice": "a"})
                assert response.status_code == 200, f"save of {number}, item {position}: {response.status_code}"
    return [[client for _number, client, _csrf in room] for room in browsers.values()], deadline


#: The timer's poll as the page draws it (templates/candidate/_timer.html): with what it shows.
TIMER_POLL = re.compile(r'<div id="timer"[^>]*?hx-get="([^"]+)"')


def draw_timers(browsers) -> list[str]:
    """Each browser's timer as the route draws it a few seconds before the deadline (as a page's
    timer is drawn at most a heartbeat before): the poll path each will send."""
    paths = []
    for client in browsers:
        answer = client.get("/test/time", headers={"HX-Request": "true"})
        drawn = TIMER_POLL.search(answer.get_data(as_text=True))
        assert answer.status_code == 200 and drawn, f"no timer drawn: {answer.status_code}"
        paths.append(html.unescape(drawn.group(1)))
    return paths


def finish(client, timer_path: str) -> tuple[float, float]:
    """One candidate's finishing poll and done page: the CPU ms of each."""
    started = time.process_time()
    poll = client.get(timer_path, headers={"HX-Request": "true"})
    polled = time.process_time()
    assert poll.headers.get("HX-Redirect") == "/test/done", f"the poll did not finish: {poll.status_code}"
    done = client.get("/test/done")
    ended = time.process_time()
    assert done.status_code == 200 and "Your test has finished" in done.get_data(as_text=True), done.status_code
    return (polled - started) * 1000, (ended - polled) * 1000


def run(database_url: str, size: int, profile: bool = False) -> dict:
    """The burst for two rooms of ``size``: the CPU of the timed room's candidates, the calls of
    the counted room's."""
    clock = TestClock()
    app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": database_url, "CLOCK": clock,
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    migrations.upgrade(app)
    create_demo(app, REPO / "item_banks")
    (timed, counted), deadline = started_rooms(app, clock, size)
    clock.now = deadline - dt.timedelta(seconds=5)
    timed, counted = list(zip(timed, draw_timers(timed))), list(zip(counted, draw_timers(counted)))
    clock.now = deadline + dt.timedelta(seconds=app.config["SAVE_GRACE_SECONDS"] + 1)
    polls, dones = zip(*(finish(client, path) for client, path in timed))
    both = [poll + done for poll, done in zip(polls, dones)]
    profiler = cProfile.Profile()
    for client, path in counted:
        profiler.enable()
        finish(client, path)
        profiler.disable()
    stats = pstats.Stats(profiler)
    if profile:
        stats.sort_stats(os.environ.get("SORT", "cumulative")).print_stats(40)
    with app.app_context():
        session = db.new_session(app)
        unfinished = session.scalar(select(models.Attempt.id).where(models.Attempt.state != "finished",
                                                                    models.Attempt.started_at.is_not(None)))
        session.close()
    db.engine_for(app).dispose()
    assert unfinished is None, f"attempt {unfinished} was not finished"
    return {"poll": statistics.mean(polls), "done": statistics.mean(dones), "both": statistics.mean(both),
            "median": statistics.median(both), "worst": max(both),
            "calls": stats.total_calls / len(counted), "timed": len(timed), "counted": len(counted)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=30, help="in each of the two rooms")
    parser.add_argument("--database-url", help="an EMPTY database (default: a scratch SQLite file)")
    parser.add_argument("--profile", action="store_true", help="print the cProfile of the counted room")
    options = parser.parse_args(argv)
    if options.candidates < 1:
        parser.error("--candidates: at least 1 in each room")
    with tempfile.TemporaryDirectory() as folder:
        figures = run(options.database_url or f"sqlite:///{Path(folder) / 'bench.db'}", options.candidates,
                      options.profile)
    print(f"Two rooms of {options.candidates} finished at the deadline "
          f"({figures['timed']} candidates timed, {figures['counted']} counted)")
    print(f"{'request':<20} {'CPU mean ms':>12}")
    print(f"{'finishing poll':<20} {figures['poll']:>12.2f}")
    print(f"{'done page':<20} {figures['done']:>12.2f}")
    print(f"{'both':<20} {figures['both']:>12.2f}   (median {figures['median']:.2f}, worst {figures['worst']:.2f})")
    print(f"Python function calls per finishing candidate: {figures['calls']:,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
