"""Response times over the run, in windows by when each request was sent.

The per-phase percentiles say how slow each request was; these say when. A backlog (the room's
start still being served while the steady phase begins) shows as slow first windows of a phase,
a phase that is slow throughout as slow windows all through it (docs/load-testing.md).
"""
from __future__ import annotations

import math

WINDOW_SECONDS = 10


class Windows:
    """Response times (ms) grouped by the window of the run in which each request was sent."""

    def __init__(self, seconds: float = WINDOW_SECONDS):
        self.seconds = seconds
        self.times: dict[int, list[float]] = {}

    def add(self, sent_at: float, response_ms: float) -> None:
        self.times.setdefault(int(max(0.0, sent_at) // self.seconds), []).append(response_ms)

    def summary(self) -> list[dict]:
        """One row per window with requests in it: its start and end (s), count, p50, p95, max."""
        rows = []
        for index in sorted(self.times):
            ordered = sorted(self.times[index])
            rows.append({"start": index * self.seconds, "end": (index + 1) * self.seconds, "requests": len(ordered),
                         "p50": nearest_rank(ordered, 0.50), "p95": nearest_rank(ordered, 0.95),
                         "max": round(ordered[-1])})
        return rows


def nearest_rank(ordered: list[float], fraction: float) -> int:
    """The nearest-rank percentile of sorted values (the smallest value with ``fraction`` of
    them at or below it)."""
    return round(ordered[max(0, math.ceil(fraction * len(ordered)) - 1)])
