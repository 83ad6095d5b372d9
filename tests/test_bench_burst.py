"""loadtests/bench_burst.py: a room meets its deadline through the app, and every attempt finishes."""
from __future__ import annotations

import sys

import pytest

from engine.config import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "loadtests"))
import bench_burst  # noqa: E402


def test_every_candidate_of_both_rooms_is_finished_by_their_poll_and_sees_the_done_page(tmp_path):
    figures = bench_burst.run(f"sqlite:///{tmp_path / 'bench.db'}", 2)
    assert (figures["timed"], figures["counted"]) == (2, 2)
    assert figures["poll"] > 0 and figures["done"] > 0
    # The first of a room finishes the room, so does more than the mean.
    assert figures["worst"] > figures["both"] >= figures["median"] > 0
    # The counted room went through the finish: thousands of calls a candidate, not a cheap redirect.
    assert figures["calls"] > 1000


def test_an_empty_room_is_refused_with_the_option_named(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench_burst.main(["--candidates", "0"])
    assert exit_info.value.code == 2 and "--candidates" in capsys.readouterr().err
