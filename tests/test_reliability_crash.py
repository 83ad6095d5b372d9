"""Crash consistency, the short version for ``make test``: a real server on SQLite (granian,
the default, and gunicorn), six candidates saving, workers killed with SIGKILL at random and
once the main process with all its workers. Every acknowledged save must be in the database afterwards, once, on its own
question, in order, and every candidate carries on. The long version (more kills, more
candidates, PostgreSQL, a PostgreSQL restart) is ``make reliability-crash``."""
from __future__ import annotations

import random
import shutil
import threading
import time

import pytest

from engine import http_server
from reliability import prepare
from reliability.reconcile import LOSS_COUNTS, reconcile
from reliability.server import Server
from reliability.workload import Log, run_candidates

PORT = 8108


@pytest.mark.parametrize("server_kind", http_server.SERVERS)
def test_sigkill_of_workers_and_master_loses_no_acknowledged_save(tmp_path, demo_snapshot, server_kind):
    path = tmp_path / "crash.db"
    shutil.copy(demo_snapshot["path"], path)
    url = f"sqlite:///{path}"
    info = demo_snapshot["info"]
    room = prepare.Room(info["sitting_id"], info["keycode"], info["centre"], [f"000{n}" for n in range(1, 7)])
    server = Server(url, PORT + http_server.SERVERS.index(server_kind), tmp_path, workers=2, threads=4,
                    server=server_kind)
    server.start()
    stop, log = threading.Event(), Log()
    try:
        threads = run_candidates(server.base_url, room, log, stop, prepare.positions(url, room.sitting_id))
        assert prepare.start_room(url, room.sitting_id) == len(room.numbers)
        for thread in threads:
            thread.start()
        rng = random.Random(12)
        kills = 0
        for round_ in range(6):
            time.sleep(rng.uniform(1.0, 2.5))
            if round_ == 3:
                server.kill_everything()
                time.sleep(0.5)
                server.start()
            else:
                server.kill_worker(rng.choice(server.worker_pids()))
            kills += 1
        time.sleep(2)
        stop.set()
        for thread in threads:
            thread.join(120)
        # The candidate continues: one more save each, on the same browser session.
        after = [thread.save(1, {"answer": "after the crash", "number": "1", "choice": "0"}) for thread in threads]
    finally:
        stop.set()
        server.stop()
    counts = reconcile(url, room.sitting_id, log.sent)
    print("crash counts", counts, dict(log.outcomes))  # shown with pytest -s
    assert kills == 6
    assert all(sent.acked for sent in after), log.outcomes
    assert counts["acknowledged"] > 50, counts  # the load was real
    assert log.outcomes["acknowledged on retry"] + log.outcomes["no answer"] > 0, log.outcomes  # the kills hit requests
    assert {name: counts[name] for name in LOSS_COUNTS} == dict.fromkeys(LOSS_COUNTS, 0), (counts, log.outcomes)
    assert log.tracebacks == 0
