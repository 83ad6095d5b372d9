"""The time-out finish at a deadline, measured in-process: what each finishing poll costs.

    .venv/bin/python loadtests/bench_finish.py [--candidates 60] [--database-url URL] [--profile]

At a deadline every browser's timer poll sends it to the done page, which finishes the attempt
(engine/candidate.py, ``_sweep_if_expired``): the marks are worked out before the write lock,
then the finish's writes (the attempt, the form items' marks, the result, the time event, the
audit record) go in one write transaction. This builds a scratch SQLite database (or uses an EMPTY PostgreSQL database
you name) with the bundled banks and the demo centre, opens a room of ``--candidates``, starts
it, saves a full-marks answer to every item of every form, and then finishes each attempt after
its deadline and the grace as the poll does, each in a fresh session (as each request has).

It prints the CPU (``time.process_time``) and the statements of the part before the write
lock and of the write itself, medians over the room; ``--profile`` adds a cProfile of the
whole finish. The figures go to docs/performance.md by hand.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
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
from engine.demo import CENTRE, DEMO_SPECIFICATION, create_demo  # noqa: E402
from engine.plugins import item_type  # noqa: E402


def open_started_room(app, size: int) -> tuple[list[int], dt.datetime]:
    """A started room of ``size`` new candidates at the demo centre, every item answered
    correctly a minute in. Returns the attempt ids and a moment after every deadline and grace."""
    session = db.new_session(app)
    with app.app_context():
        with db.writing(session):
            now = clock.now(session)
            centre = session.scalar(select(models.Centre).where(models.Centre.number == CENTRE["number"]))
            specification = session.scalar(select(models.TestSpecification).where(
                models.TestSpecification.code == DEMO_SPECIFICATION))
            candidates = [models.Candidate(centre_id=centre.id, candidate_number=f"B{n:04d}", first_name="Bench",
                                           last_name=f"Candidate {n}", access_arrangements={}) for n in range(size)]
            session.add_all(candidates)
            session.flush()
            sitting = attempts.open_sitting(session, centre=centre, specification=specification,
                                            candidates=candidates, title="Finish benchmark", actor="bench",
                                            staff_id=None, now=now)
            for entry in sitting.entries:
                attempts.confirm_details(session, entry.attempt, now)
            attempts.start_sitting(session, sitting, "bench", now)
            sitting_id = sitting.id
        ids = list(session.scalars(select(models.Attempt.id).join(models.Entry)
                                   .where(models.Entry.sitting_id == sitting_id).order_by(models.Attempt.id)))
        answered_at = now + dt.timedelta(minutes=1)
        grace = app.config["SAVE_GRACE_SECONDS"]
        for attempt_id in ids:
            with db.writing(session):
                attempt = attempts.reload_for_write(session, attempt_id)
                for form_item in attempt.form_items:
                    definition = form_item.item_version.definition
                    response = item_type(form_item.item_version.type_name).correct_response(definition)
                    attempts.save_response(session, attempt, form_item.position, response, uuid.uuid4().hex,
                                           answered_at, grace)
        latest = max(session.scalars(select(models.Attempt.deadline_at).where(models.Attempt.id.in_(ids))))
    session.close()
    return ids, latest + dt.timedelta(seconds=grace + 1)


def finish_each(app, ids: list[int], now: dt.datetime, profiler: cProfile.Profile | None):
    """Each attempt finished as its timer poll finishes it: (CPU ms before the lock, CPU ms of
    the write, statements before, statements in the write) per attempt."""
    statements = {"n": 0}

    def _count(*_args):
        statements["n"] += 1
    engine = db.engine_for(app)
    event.listen(engine, "before_cursor_execute", _count)
    grace = app.config["SAVE_GRACE_SECONDS"]
    rows = []
    try:
        with app.app_context():
            for attempt_id in ids:
                session = db.new_session(app)
                if profiler:
                    profiler.enable()
                statements["n"], started = 0, time.process_time()
                attempt = attempts.load_with_context(session, attempt_id)
                prepared = attempts.prepare_time_out(session, attempt, now, grace)
                before_cpu, before_n = time.process_time() - started, statements["n"]
                statements["n"], started = 0, time.process_time()
                with db.writing(session):
                    attempt = attempts.reload_for_write(session, attempt_id)
                    finished = attempts.finish_if_expired(session, attempt, now, grace, prepared)
                write_cpu = time.process_time() - started
                if profiler:
                    profiler.disable()
                session.close()
                assert prepared is not None and finished, f"attempt {attempt_id} was not finished"
                rows.append((before_cpu * 1000, write_cpu * 1000, before_n, statements["n"]))
    finally:
        event.remove(engine, "before_cursor_execute", _count)
    return rows


def check_marks(app, ids: list[int]) -> None:
    """Every answer was correct: every result must be full marks (the benchmark measures real work)."""
    session = db.new_session(app)
    try:
        for result in session.scalars(select(models.Result).where(models.Result.attempt_id.in_(ids))):
            assert result.total == result.available > 0, f"attempt {result.attempt_id}: {result.total}/{result.available}"
    finally:
        session.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=60)
    parser.add_argument("--database-url", help="an EMPTY database (default: a scratch SQLite file)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the finishes")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = options.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": url, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
        migrations.upgrade(app)
        create_demo(app, REPO / "item_banks")
        ids, after_deadline = open_started_room(app, options.candidates)
        profiler = cProfile.Profile() if options.profile else None
        rows = finish_each(app, ids, after_deadline, profiler)
        check_marks(app, ids)
        db.engine_for(app).dispose()
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    before, write = [r[0] for r in rows], [r[1] for r in rows]
    print(f"{len(rows)} time-out finishes, every item answered (full marks checked)")
    print(f"{'part':<26} {'CPU median ms':>14} {'CPU worst ms':>13} {'statements':>11}")
    print(f"{'before the write lock':<26} {statistics.median(before):>14.2f} {max(before):>13.2f} {max(r[2] for r in rows):>11}")
    print(f"{'the write':<26} {statistics.median(write):>14.2f} {max(write):>13.2f} {max(r[3] for r in rows):>11}")
    print(f"{'whole finish':<26} {statistics.median(b + w for b, w in zip(before, write)):>14.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
