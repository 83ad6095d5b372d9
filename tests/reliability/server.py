"""A real server (granian or gunicorn, started as ``onscreen serve`` starts it:
engine/http_server.py) to crash: start it, find its workers, SIGKILL some or all of them, start
it again."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil

from engine import http_server
from engine.config import REPO_ROOT

SECRET = "reliability-harness-secret-not-for-production"


class Server:
    def __init__(self, database_url: str, port: int, instance: Path, workers: int = 2, threads: int = 4,
                 log: Path | None = None, server: str = http_server.DEFAULT_SERVER):
        self.database_url, self.port, self.instance = database_url, port, instance
        self.workers, self.threads, self.server = workers, threads, server
        self.log = log or instance / f"{server}.log"
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict:
        return {**os.environ, "ONSCREEN_DATABASE_URL": self.database_url, "ONSCREEN_SECRET_KEY": SECRET,
                "ONSCREEN_INSTANCE_PATH": str(self.instance), "ONSCREEN_BIND": f"127.0.0.1:{self.port}",
                "ONSCREEN_WORKERS": str(self.workers), "ONSCREEN_THREADS": str(self.threads)}

    def start(self, wait: float = 30) -> None:
        handle = open(self.log, "a")
        self.process = subprocess.Popen(
            http_server.command(self.server, environ=self.env()), cwd=REPO_ROOT, env=self.env(),
            stdout=handle, stderr=handle, start_new_session=True)
        handle.close()
        self.wait_ready(wait)

    def wait_ready(self, wait: float = 30) -> None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.server} exited with {self.process.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(self.base_url + "/healthz", timeout=2) as reply:
                    if reply.status == 200 and len(self.worker_pids()) >= self.workers:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.server} did not answer within {wait} s; see {self.log}")

    def worker_pids(self) -> list[int]:
        try:
            return [child.pid for child in psutil.Process(self.process.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def kill_worker(self, pid: int) -> None:
        """SIGKILL one worker mid-request; the main process starts a replacement."""
        with _gone_is_fine():
            os.kill(pid, signal.SIGKILL)

    def kill_everything(self) -> None:
        """SIGKILL the main process and every worker at once (a power cut, an OOM kill of the group)."""
        pids = [self.process.pid, *self.worker_pids()]
        for pid in pids:
            with _gone_is_fine():
                os.kill(pid, signal.SIGKILL)
        self.process.wait(10)
        for pid in pids[1:]:
            with _gone_is_fine():
                psutil.Process(pid).wait(10)

    def rss_bytes(self) -> int:
        """Resident memory of the main process and all workers."""
        total = 0
        for pid in [self.process.pid, *self.worker_pids()]:
            with _gone_is_fine():
                total += psutil.Process(pid).memory_info().rss
        return total

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill_everything()


class _gone_is_fine:
    def __enter__(self):
        return self

    def __exit__(self, kind, _value, _tb):
        return kind is not None and issubclass(kind, (ProcessLookupError, psutil.NoSuchProcess))
