"""loadtests/profile_requests.py: the database server's CPU, read from /proc for its backends."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from engine.config import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "loadtests"))
from profile_requests import backend_cpu_seconds  # noqa: E402

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")


def test_the_cpu_of_processes_on_this_host_is_read_and_grows_with_work():
    before = backend_cpu_seconds({os.getpid()})
    sum(i * i for i in range(3_000_000))  # about 0.1-0.3 s of CPU: more than one clock tick
    after = backend_cpu_seconds({os.getpid()})
    assert before is not None and after > before


def test_a_backend_not_on_this_host_gives_no_figure_rather_than_a_wrong_one():
    missing = 2**22 + 1  # above Linux's largest pid (pid_max is at most 2**22)
    assert backend_cpu_seconds({os.getpid(), missing}) is None
