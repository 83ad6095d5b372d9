"""Benchmark: how long form assembly takes (a benchmark, not a test; figures go to docs/performance.md).

    .venv/bin/python loadtests/bench_assembly.py [--banks item_banks] [--forms 200] [--sitting 500]
                                                 [--database-url postgresql://...]

For every test specification under ``--banks`` it measures:

* one form from a fresh window (``--forms`` different seeds): median and worst;
* one form at a time through a sitting's register of ``--sitting`` candidates, each form counting
  towards the exposure of the next (in memory): median and worst per form, and the total;
* the real thing: ``attempts.open_sitting`` for ``--sitting`` candidates on a scratch database
  (SQLite in a temporary folder unless ``--database-url`` is given): assembly, item start states,
  audit records and the commit, end to end.

It prints a Markdown table. Times are wall-clock on this machine; run it on a quiet machine.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from engine import attempts, banks, clock, create_app, db, migrations, models  # noqa: E402
from engine.assembly import Assembler, Usage  # noqa: E402
from engine.forms_report import sources_from_path  # noqa: E402
from engine.plugins import item_types  # noqa: E402


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def bench_pure(source, forms: int, sitting: int) -> dict:
    assembler = Assembler(source.pool, source.blueprint)
    single = []
    for seed in range(forms):
        started = time.perf_counter()
        assembler.assemble(seed)
        single.append(time.perf_counter() - started)
    window, register = Usage(), []
    started_all = time.perf_counter()
    for seed in range(sitting):
        started = time.perf_counter()
        made = assembler.assemble(10_000 + seed, usage=window)
        register.append(time.perf_counter() - started)
        window = window.plus(made.items)
    total = time.perf_counter() - started_all
    return {"single": single, "register": register, "register_total": total}


def bench_open_sitting(bank_folder: Path, code: str, sitting: int, database_url: str | None) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        url = database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        app = create_app({"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url})
        migrations.upgrade(app)
        session = db.new_session(app)
        try:
            with app.app_context(), db.writing(session):
                banks.load(session, bank_folder, item_types(app), clock.now(session))
                centre = models.Centre(number=f"B{uuid.uuid4().hex[:12]}", name="Benchmark centre")
                session.add(centre)
                session.flush()
                session.add_all([models.Candidate(centre_id=centre.id, candidate_number=f"{n:05d}", first_name="Bench",
                                                  last_name=f"Candidate {n}") for n in range(sitting)])
            spec = session.scalar(select(models.TestSpecification).where(models.TestSpecification.code == code))
            candidates = list(session.scalars(select(models.Candidate).where(models.Candidate.centre_id == centre.id)))
            started = time.perf_counter()
            with app.app_context(), db.writing(session):
                attempts.open_sitting(session, centre=centre, specification=spec, candidates=candidates,
                                      title="Benchmark", actor="bench", staff_id=None, now=clock.now(session))
            return time.perf_counter() - started
        finally:
            session.close()
            db.engine_for(app).dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--banks", type=Path, default=Path("item_banks"))
    parser.add_argument("--forms", type=int, default=200, help="single forms per specification")
    parser.add_argument("--sitting", type=int, default=500, help="candidates in the sitting")
    parser.add_argument("--database-url", default=None, help="scratch database for open_sitting (default: SQLite)")
    args = parser.parse_args()
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": "sqlite://"})
    with app.app_context():
        sources = sources_from_path(args.banks)
    folders = {bank.unit["urn"]: bank.folder for bank in banks.read_banks(args.banks, item_types(app))[0]}
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPU(s); "
          f"{args.forms} single forms, a register of {args.sitting}\n")
    print("| specification | pool | one form: median | one form: worst | register of "
          f"{args.sitting}, per form: median / worst | register of {args.sitting}: assembly only | "
          f"`open_sitting` for {args.sitting} (with the database) |")
    print("|---|---|---|---|---|---|---|")
    for source in sources:
        pure = bench_pure(source, args.forms, args.sitting)
        opened = bench_open_sitting(folders[source.urn], source.code, args.sitting, args.database_url)
        marks = sum(p.marks for p in source.pool)
        print(f"| {source.code} | {len(source.pool)} items, {marks} marks | {_ms(statistics.median(pure['single']))} | "
              f"{_ms(max(pure['single']))} | {_ms(statistics.median(pure['register']))} / "
              f"{_ms(max(pure['register']))} | {pure['register_total']:.2f} s | {opened:.2f} s |")


if __name__ == "__main__":
    main()
