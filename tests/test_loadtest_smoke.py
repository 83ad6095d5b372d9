"""The smoke run: the whole exam day (login storm, synchronised start, steady phase, reconnect
storm, deadline burst) for 20 candidates against a real gunicorn server on SQLite, through
`onscreen loadtest run`, so the kit never rots. About a minute.

It holds behaviour, not timings (loadtests/thresholds-smoke.toml): any failed request, any
acknowledged answer missing from the database or any attempt left unfinished fails it.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from engine import create_app, db
from engine.config import REPO_ROOT
from engine.loadtest_prepare import PrepareOptions, prepare, write_plan

CANDIDATES = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(tmp_path, sqlite_template):
    """``onscreen serve`` (gunicorn and the sweeper) on a copy of the migrated database."""
    shutil.copy(sqlite_template, tmp_path / "load.db")
    port = _free_port()
    env = {**os.environ, "ONSCREEN_DATABASE_URL": f"sqlite:///{tmp_path / 'load.db'}",
           "ONSCREEN_SECRET_KEY": secrets.token_hex(16), "ONSCREEN_SAVE_GRACE_SECONDS": "3",
           "ONSCREEN_INSTANCE_PATH": str(tmp_path), "ONSCREEN_BIND": f"127.0.0.1:{port}"}
    process = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--sweep-every", "2"], env=env,
                               cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.log", "w"),
                               start_new_session=True)
    host = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{host}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not start: " + (tmp_path / "server.log").read_text())
        yield host, env
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # serve, gunicorn and the sweeper: this test's own group
        process.wait(timeout=30)


def test_the_exam_day_runs_with_no_errors_and_no_lost_answers(server, tmp_path):
    host, env = server
    app = create_app({"DATABASE_URL": env["ONSCREEN_DATABASE_URL"], "SECRET_KEY": env["ONSCREEN_SECRET_KEY"],
                      "SAVE_GRACE_SECONDS": 3, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    plan = prepare(app, PrepareOptions(candidates=CANDIDATES, room_size=10, allowed_seconds=30))
    db.engine_for(app).dispose()
    plan_path = write_plan(plan, tmp_path / "plan.json")
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "engine.cli", "loadtest", "run", "--plan", str(plan_path), "--host", host,
         "--staff-seconds", "2", "--login-seconds", "5", "--reconnect",
         "--thresholds", str(REPO_ROOT / "loadtests" / "thresholds-smoke.toml"),
         "--out", str(out)], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr + (out / "locust.log").read_text()
    summary = json.loads((out / "summary.json").read_text())
    recon = summary["facts"]["reconciliation"]
    assert summary["passed"] and summary["total_failures"] == 0
    assert recon["lost"] == 0 and recon["acknowledged"] >= CANDIDATES  # everyone saves at least in the burst
    assert recon["finished"] == recon["attempts"] == CANDIDATES == recon["results"]
    counts = summary["counts"]
    assert counts["signed_in"] >= CANDIDATES and counts["started"] == CANDIDATES
    assert counts["finished_seen"] == CANDIDATES and counts["reconnected"] > 0
    phases = {name.split(" ", 1)[0] for name in summary["entries"]}
    assert {"setup", "login", "start", "burst"} <= phases
    assert (out / "report.html").exists() and (out / "locust_stats.csv").exists() and (out / "acks.jsonl").exists()
