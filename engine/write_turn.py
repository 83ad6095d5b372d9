"""SQLite's writers take turns: one queue for every thread of every process on a database file.

SQLite lets one writer in at a time. Without a queue, a writer that finds the lock taken waits in
SQLite's busy handler, which sleeps and retries, each sleep longer than the last (up to 100 ms),
so a lock freed after 2 ms can stand idle while the waiters sleep, and an unlucky writer can lose
every retry for seconds. Under an exam-day load that is the long tail of the save (p99 many times
p50) and the slow deadline burst. Measured in docs/performance.md (session 9): 2 processes of 8
threads each writing short transactions, the busy handler alone gave p99 530 ms and a worst case
of 1.7-2.8 s; taking turns gave p99 32 ms, a worst case of 48 ms and 40 % more transactions.

The turn is a lock per process (the threads queue on it and are woken as soon as it is free) and,
across processes (gunicorn's workers, the sweeper, the command line), an ``flock`` on a file beside
the database, on which the kernel wakes a waiting process as soon as the holder lets go. SQLite's
own lock is still taken inside the turn; the turn only decides who asks for it next.
"""
from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from collections.abc import Iterator

#: Beside the database file: ``onscreen.db`` -> ``onscreen.db-turn``.
SUFFIX = "-turn"
#: How long a thread waits for its process's turn before giving up, as SQLite's busy timeout.
WAIT_SECONDS = 30


class Busy(RuntimeError):
    """The turn did not come within WAIT_SECONDS: the write is not attempted (nothing is changed)."""


class WriteTurn:
    """The queue of writers to one SQLite database file (``path``; None for an in-memory one,
    which only this process can see)."""

    def __init__(self, path: str | None):
        self.path = path
        self._pid: int | None = None
        self._held = threading.local()

    def _for_this_process(self) -> None:
        # A forked child (a gunicorn worker) gets its own lock and its own open file: a copy of the
        # parent's lock may be held by a thread that does not exist in the child, and an flock on a
        # file description shared with the parent would count as already held.
        if self._pid != os.getpid():
            self._lock = threading.Lock()
            self._file = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600) if self.path else None
            self._pid = os.getpid()

    @contextmanager
    def taken(self) -> Iterator[None]:
        """Hold the turn for the block. A thread that already holds it (a write inside a write,
        on another session) goes on: it must not wait for itself."""
        depth = getattr(self._held, "depth", 0)
        if depth:
            self._held.depth = depth + 1
            try:
                yield
            finally:
                self._held.depth -= 1
            return
        self._for_this_process()
        if not self._lock.acquire(timeout=WAIT_SECONDS):
            raise Busy(f"no turn to write to the database within {WAIT_SECONDS} s")
        try:
            if self._file is not None:
                fcntl.flock(self._file, fcntl.LOCK_EX)  # blocks with the GIL released
            try:
                self._held.depth = 1
                yield
            finally:
                self._held.depth = 0
                if self._file is not None:
                    fcntl.flock(self._file, fcntl.LOCK_UN)
        finally:
            self._lock.release()


def turn_path(database: str | None) -> str | None:
    """The turn file of an SQLite database (``url.database``); None for an in-memory database."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.abspath(database) + SUFFIX
