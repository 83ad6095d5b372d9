"""A PostgreSQL instance of our own (initdb into a temporary folder, its own port), so a run
can stop it immediately and start it again without touching the cluster others use."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"{name} not found under /usr/lib/postgresql/*/bin")
    return found[-1]


class ThrowawayPostgres:
    def __init__(self, port: int = 5499, user: str = "postgres"):
        self.port, self.os_user = port, user
        self.folder = Path(tempfile.mkdtemp(prefix=f"onscreen-pg{port}-"))
        self.data = self.folder / "data"
        shutil.chown(self.folder, user)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/onscreen"

    def _as_owner(self, *args: str) -> None:
        command = args if os.geteuid() != 0 else ("su", self.os_user, "-c", " ".join(f"'{a}'" for a in args))
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def create(self) -> None:
        self._as_owner(_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE onscreen")

    def start(self, wait: float = 30) -> None:
        # fsync stays on (the default): a stop "immediate" must lose nothing that was committed.
        self._as_owner(_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
                       "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL on {self.port} did not start; see {self.folder / 'log'}")

    def stop_immediately(self) -> None:
        """Like a crash: no checkpoint, the next start replays the WAL."""
        self._as_owner(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def destroy(self) -> None:
        try:
            self._as_owner(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)
