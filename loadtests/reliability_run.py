"""The long reliability runs behind ``make reliability-crash`` and ``make reliability-soak``.

Each scenario starts a real gunicorn (engine/gunicorn_conf.py) on its own database, signs a
room of candidates in over HTTP, lets them save answers (one save at a time each, retried with
the same key until acknowledged, as the page's script does) while a fault is injected, then
reconciles every acknowledged save with the database (tests/reliability/reconcile.py) and
prints one JSON line of figures, also appended to instance/reliability/results.jsonl.

  crash        SIGKILL a random worker every few seconds; every fifth time the master and all
               workers at once (then start again). --db sqlite or postgresql.
  pg-restart   a throwaway PostgreSQL of our own (port 5499): stop it immediately and start it
               again, several times, under load.
  conn-loss    pg_terminate_backend on the app's connections, at random, under load.
  soak         constant load for a sitting's length; resident memory of the server sampled.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import psycopg  # noqa: E402

from engine import http_server  # noqa: E402
from reliability import prepare  # noqa: E402
from reliability.reconcile import LOSS_COUNTS, reconcile  # noqa: E402
from reliability.server import Server  # noqa: E402
from reliability.throwaway_pg import ThrowawayPostgres  # noqa: E402
from reliability.workload import Log, run_candidates  # noqa: E402

PG_URL = os.environ.get("RELIABILITY_PG_URL", "postgresql://postgres@127.0.0.1:5432/onscreen_reliability")
PORT = int(os.environ.get("RELIABILITY_PORT", "8118"))


def results_folder() -> Path:
    folder = Path(os.environ.get("ONSCREEN_INSTANCE_PATH", REPO / "instance")) / "reliability"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def fresh_postgres(url: str) -> None:
    """Drop and create the run's own database (never anyone else's)."""
    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


class Run:
    """A server, a room and its candidates; ``fault`` is called in a loop until time is up."""

    def __init__(self, args, url: str, folder: Path):
        self.args, self.url, self.folder = args, url, folder
        self.room = prepare.build(url, args.candidates)
        self.positions = prepare.positions(url, self.room.sitting_id)
        self.server = Server(url, PORT, folder, workers=args.workers, threads=args.threads, server=args.server,
                             log=results_folder() / f"{args.scenario}-{'postgresql' if url.startswith('postgresql') else 'sqlite'}-{args.server}.log")
        self.log, self.stop = Log(), threading.Event()
        self.faults: dict[str, int] = {}
        self.samples: list[tuple[float, int]] = []

    def go(self, fault, every: float) -> dict:
        self.server.start()
        started = time.monotonic()
        try:
            threads = run_candidates(self.server.base_url, self.room, self.log, self.stop, self.positions,
                                     pause=self.args.pause)
            prepare.start_room(self.url, self.room.sitting_id)
            for thread in threads:
                thread.start()
            rng = random.Random(self.args.seed)
            end = started + self.args.minutes * 60
            while time.monotonic() < end:
                time.sleep(min(rng.uniform(0.5, 1.5) * every, max(0, end - time.monotonic())))
                if time.monotonic() < end and fault is not None:
                    fault(rng)
                self.samples.append((time.monotonic() - started, self.server.rss_bytes()))
            self.stop.set()
            for thread in threads:
                thread.join(120)
            continued = sum(1 for thread in threads if thread.save(1, {"answer": "after the run", "number": "1"}).acked)
        finally:
            self.stop.set()
            self.server.stop()
        counts = reconcile(self.url, self.room.sitting_id, self.log.sent)
        return {
            "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "scenario": self.args.scenario,
            "database": "postgresql" if self.url.startswith("postgresql") else "sqlite",
            "minutes": self.args.minutes, "candidates": self.args.candidates, "workers": self.args.workers,
            "threads": self.args.threads, "server": self.args.server, "faults": self.faults, "counts": counts,
            "outcomes": dict(self.log.outcomes), "tracebacks_shown": self.log.tracebacks,
            "candidates_continued": f"{continued}/{len(threads)}",
            "zero_loss": all(counts[name] == 0 for name in LOSS_COUNTS) and self.log.tracebacks == 0
            and continued == len(threads),
        }

    def count(self, fault: str) -> None:
        self.faults[fault] = self.faults.get(fault, 0) + 1


def crash(args, folder: Path) -> dict:
    url = PG_URL if args.db == "postgresql" else f"sqlite:///{folder / 'crash.db'}"
    if args.db == "postgresql":
        fresh_postgres(url)
    run = Run(args, url, folder)

    def kill(rng):
        if sum(run.faults.values()) % 5 == 4:
            run.server.kill_everything()
            run.server.start()
            run.count("master and all workers SIGKILLed")
        else:
            pids = run.server.worker_pids()
            if pids:
                run.server.kill_worker(rng.choice(pids))
                run.count("worker SIGKILLed")
    return run.go(kill, args.every)


def pg_restart(args, folder: Path) -> dict:
    pg = ThrowawayPostgres(port=int(os.environ.get("RELIABILITY_PG_PORT", "5499")))
    pg.create()
    try:
        run = Run(args, pg.url, folder)

        def restart(_rng):
            pg.stop_immediately()
            time.sleep(args.down)
            pg.start()
            run.count("PostgreSQL stopped immediately and restarted")
        result = run.go(restart, args.every)
    finally:
        pg.destroy()
    return result


def conn_loss(args, folder: Path) -> dict:
    fresh_postgres(PG_URL)
    run = Run(args, PG_URL, folder)
    name = PG_URL.rsplit("/", 1)[1]

    def terminate(rng):
        with psycopg.connect(PG_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            pids = [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
                (name,)).fetchall()]
            for pid in rng.sample(pids, k=max(1, len(pids) // 2)) if pids else []:
                conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
                run.count("connection terminated")
    return run.go(terminate, args.every)


def soak(args, folder: Path) -> dict:
    url = PG_URL if args.db == "postgresql" else f"sqlite:///{folder / 'soak.db'}"
    if args.db == "postgresql":
        fresh_postgres(url)
    run = Run(args, url, folder)
    result = run.go(None, args.every)
    warm = [rss for at, rss in run.samples if at >= args.warmup * 60] or [rss for _, rss in run.samples]
    first, last = warm[0], run.samples[-1][1]
    result["memory"] = {
        "rss_at_warmup_mb": round(first / 2**20, 1), "rss_at_end_mb": round(last / 2**20, 1),
        "rss_peak_mb": round(max(rss for _, rss in run.samples) / 2**20, 1),
        "growth_percent": round(100 * (last - first) / first, 1), "warmup_minutes": args.warmup,
        "samples": len(run.samples)}
    result["zero_loss"] = result["zero_loss"] and result["memory"]["growth_percent"] < 10
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=["crash", "pg-restart", "conn-loss", "soak"])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--server", choices=http_server.SERVERS, default=http_server.DEFAULT_SERVER)
    parser.add_argument("--pause", type=float, default=0.25, help="mean seconds between one candidate's saves")
    parser.add_argument("--every", type=float, default=4, help="mean seconds between faults (soak: samples)")
    parser.add_argument("--down", type=float, default=2, help="pg-restart: seconds PostgreSQL stays down")
    parser.add_argument("--warmup", type=float, default=5, help="soak: minutes before the memory baseline")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    scenarios = {"crash": crash, "pg-restart": pg_restart, "conn-loss": conn_loss, "soak": soak}
    with tempfile.TemporaryDirectory(prefix="onscreen-reliability-") as folder:
        result = scenarios[args.scenario](args, Path(folder))
    line = json.dumps(result)
    print(line)
    with open(results_folder() / "results.jsonl", "a") as handle:
        handle.write(line + "\n")
    return 0 if result["zero_loss"] else 1


if __name__ == "__main__":
    sys.exit(main())
