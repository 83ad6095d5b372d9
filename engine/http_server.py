"""The HTTP server in front of the app: granian (the default) or gunicorn, as the command line
that starts it. ``onscreen serve``, the load suite's ceiling app and the crash harness all
start their server here, so they run what production runs.

Both read the same environment: ONSCREEN_BIND (host:port), ONSCREEN_WORKERS (processes) and
ONSCREEN_THREADS (threads per process that run the app). Choose with ONSCREEN_SERVER.

Why granian: it parses HTTP and writes responses in Rust, outside Python's interpreter lock;
gunicorn's gthread workers do both in Python, in the threads that run the app. At 2,000
exam-day candidates on SQLite granian used 15-25 % less CPU per request, and the room's start
was served in half the time (docs/performance.md, session 13).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

SERVERS = ("granian", "gunicorn")
DEFAULT_SERVER = "granian"
APP = "engine.wsgi:app"
#: Threads per worker. granian's workers spend no Python on the network, so few threads keep
#: the interpreter lock from changing hands; two, so one long request (a staff sign-in's
#: password hash, a report) never holds a whole worker. gunicorn's threads also read and write
#: the sockets, so it keeps more.
DEFAULT_THREADS = {"granian": 2, "gunicorn": 8}


def server_name(environ=os.environ) -> str:
    name = environ.get("ONSCREEN_SERVER", DEFAULT_SERVER)
    if name not in SERVERS:
        raise ValueError(f"ONSCREEN_SERVER is {name!r}: use one of {', '.join(SERVERS)}")
    return name


def command(server: str, app: str = APP, environ=os.environ) -> list[str]:
    """The command line that serves ``app`` with ``server``, as the environment asks."""
    bind = environ.get("ONSCREEN_BIND", "127.0.0.1:8000")
    workers = environ.get("ONSCREEN_WORKERS", "2")
    threads = environ.get("ONSCREEN_THREADS", str(DEFAULT_THREADS[server]))
    if server == "gunicorn":
        # engine/gunicorn_conf.py reads the same variables; -b and the app override it for the
        # ceiling app.
        config = Path(__file__).with_name("gunicorn_conf.py")
        return [sys.executable, "-m", "gunicorn", "-c", str(config), "-b", bind, "--workers", workers,
                "--threads", threads, app]
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"ONSCREEN_BIND is {bind!r}: use host:port, for example 127.0.0.1:8000")
    arguments = [
        sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host.strip("[]"), "--port", port,
        "--workers", workers, "--blocking-threads", threads,
        # A worker that dies is replaced, as gunicorn's master replaces its workers.
        "--respawn-failed-workers",
        # granian's backpressure caps the connections a worker accepts, and every browser in a
        # room keeps one open between saves: the default (backlog / workers, 512 a worker) held
        # a room of 2,000 up for seconds at a time. Requests still queue for the threads.
        "--backlog", "4096", "--backpressure", environ.get("ONSCREEN_CONNECTIONS", "10000"),
    ]
    if environ.get("ONSCREEN_ACCESS_LOG"):
        arguments.append("--access-log")
    return [*arguments, app]
