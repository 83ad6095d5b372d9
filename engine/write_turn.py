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
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

#: Beside the database file: ``onscreen.db`` -> ``onscreen.db-turn``.
SUFFIX = "-turn"
#: How long a thread waits for its process's turn before giving up, as SQLite's busy timeout.
WAIT_SECONDS = 30

#: Held while a turn sets itself up for this process, so two threads' first writes in a new
#: gunicorn worker cannot each make a lock and a file: the loser's file would be left holding
#: the flock for ever (seen at a 1,100-candidate login storm: every write refused from then on).
_setting_up = threading.Lock()


def _after_fork_in_child() -> None:
    # A thread of the parent may have held it at the fork; that thread does not exist here.
    global _setting_up
    _setting_up = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


class Busy(RuntimeError):
    """The turn did not come within WAIT_SECONDS: the write is not attempted (nothing is changed)."""


class WriteTurn:
    """The queue of writers to one SQLite database file (``path``; None for an in-memory one,
    which only this process can see)."""

    def __init__(self, path: str | None):
        self.path = path
        self._pid: int | None = None
        self._lock: threading.Lock | None = None
        self._file: int | None = None
        self._held = threading.local()

    def _for_this_process(self) -> tuple[threading.Lock, int | None]:
        """This process's lock and open turn file, made on its first write. A forked child (a
        gunicorn worker) makes its own: a copy of the parent's lock may be held by a thread that
        does not exist in the child, and an flock on a file description shared with the parent
        would count as already held."""
        if self._pid != os.getpid():
            with _setting_up:
                if self._pid != os.getpid():
                    self._lock = threading.Lock()
                    self._file = None
                    if self.path:
                        self._file = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                        weakref.finalize(self, os.close, self._file)
                    self._pid = os.getpid()  # last: another thread sees a whole set-up or none
        return self._lock, self._file

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
        lock, turn_file = self._for_this_process()  # released below exactly as taken
        if not lock.acquire(timeout=WAIT_SECONDS):
            raise Busy(f"no turn to write to the database within {WAIT_SECONDS} s")
        try:
            if turn_file is not None:
                fcntl.flock(turn_file, fcntl.LOCK_EX)  # blocks with the GIL released
            try:
                self._held.depth = 1
                yield
            finally:
                self._held.depth = 0
                if turn_file is not None:
                    fcntl.flock(turn_file, fcntl.LOCK_UN)
        finally:
            lock.release()


def turn_path(database: str | None) -> str | None:
    """The turn file of an SQLite database (``url.database``); None for an in-memory database."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.abspath(database) + SUFFIX
