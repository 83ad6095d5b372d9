"""SQLite writers under contention, with and without taking turns (engine/write_turn.py).

    .venv/bin/python loadtests/bench_write_turn.py [--processes 2] [--threads 8] [--seconds 8]
        [--work 30000] [--think 0.02]

Like gunicorn's workers: each process runs threads that write short transactions on one WAL
SQLite file with ``synchronous=FULL`` (BEGIN IMMEDIATE, five UPDATEs, ``--work`` loop steps of
Python inside the transaction, COMMIT), then think. Run once with SQLite's busy handler alone and
once taking turns; prints transactions a second and the latency percentiles of each.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sqlite3
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.write_turn import WriteTurn, turn_path  # noqa: E402


def prepare(path: str) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, pad TEXT)")
    connection.executemany("INSERT INTO t VALUES (?, 0, ?)", [(i, "x" * 200) for i in range(1000)])
    connection.close()


def writer_process(path: str, turns: bool, options, results) -> None:
    turn = WriteTurn(turn_path(path)) if turns else None
    latencies: list[float] = []

    def writer(seed: int) -> None:
        connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA synchronous=FULL")
        step, end = seed, time.time() + options.seconds
        while time.time() < end:
            started = time.perf_counter()
            with turn.taken() if turn else nullcontext():
                connection.execute("BEGIN IMMEDIATE")
                for k in range(5):
                    connection.execute("UPDATE t SET v = v + 1 WHERE id = ?", ((step * 7 + k) % 1000,))
                total = 0
                for _ in range(options.work):
                    total += 1
                connection.execute("COMMIT")
            latencies.append((time.perf_counter() - started) * 1000)
            step += 1
            time.sleep(options.think)
        connection.close()

    threads = [threading.Thread(target=writer, args=(n * 1000,)) for n in range(options.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(latencies)


def run(turns: bool, options) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "bench.db")
        prepare(path)
        results = multiprocessing.Queue()
        processes = [multiprocessing.Process(target=writer_process, args=(path, turns, options, results))
                     for _ in range(options.processes)]
        for process in processes:
            process.start()
        latencies = sorted(sum((results.get() for _ in processes), []))
        for process in processes:
            process.join()

    def at(share: float) -> str:
        return f"{latencies[min(len(latencies) - 1, int(len(latencies) * share))]:.1f}"
    return (f"{'taking turns' if turns else 'busy handler':<13} {len(latencies) / options.seconds:>7.0f} tx/s  "
            f"p50 {at(0.5)}  p95 {at(0.95)}  p99 {at(0.99)}  max {latencies[-1]:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--work", type=int, default=30000, help="Python loop steps inside each transaction")
    parser.add_argument("--think", type=float, default=0.02, help="seconds between a thread's transactions")
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    for _ in range(options.rounds):
        for turns in (False, True):
            print(run(turns, options), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
