"""Where a load test's server CPU went, by route: py-spy's samples of the workers, summed.

    .venv/bin/python loadtests/profile_by_route.py [--cpu-seconds S] spy-*.txt

``PYSPY=1 loadtests/measure.sh ...`` records the files (``py-spy record --gil --format raw``
on each worker of the HTTP server and the sweeper) and runs this on them. ``--gil`` keeps only
samples of a thread holding the interpreter lock, so a thread waiting for the lock, for the
database or for the network is not counted as work: what is left is the Python the server ran.
Time inside SQLite's, granian's or the kernel's C or Rust code with the lock released is not in
it (the server's own CPU figure, from /proc, is).

Each sample goes to the route it served (the view function under Flask's dispatch), or to the
work around every route (the lock guard and CSRF check before it, Flask's set-up and
tear-down, the HTTP server's own Python: gunicorn's HTTP handling, granian's thin WSGI wrapper,
its HTTP being Rust), the polls answered in front of Flask, or the sweeper.
"""
from __future__ import annotations

import argparse
import collections
import sys
from collections.abc import Iterable
from pathlib import Path

#: Labels for the work that is not one route's.
BEFORE = "before every route: {}"
AFTER = "after every route: headers"
FLASK = "Flask: request set-up and tear-down"
FRONT = "in front of Flask: quiet polls"
SWEEPER = "sweeper (time-outs nobody polled)"
SERVER = "HTTP server (gunicorn, granian): HTTP and threads"
OTHER = "other"

#: Functions that only wrap a view (a decorator's inner function): the route is the one inside.
_WRAPPER_MARK = ".<locals>."


def frame_name(frame: str) -> str:
    """``"item (engine/candidate.py:272)"`` -> ``"item"``."""
    return frame.split(" (", 1)[0]


def frame_file(frame: str) -> str:
    """``"item (engine/candidate.py:272)"`` -> ``"engine/candidate.py"``."""
    inside = frame.rpartition(" (")[2]
    return inside.rsplit(":", 1)[0] if ":" in inside else inside.rstrip(")")


def _label(frame: str) -> str:
    """``"register (invigilation/views.py:123)"`` -> ``"register (invigilation/views)"``."""
    return f"{frame_name(frame)} ({frame_file(frame).removesuffix('.py')})"


def classify(frames: list[str]) -> tuple[str, str | None]:
    """The label of one sample (its frames, outermost first), and the call under the route's own
    frame (None where there is no route), which says where the route's time went."""
    names = [frame_name(frame) for frame in frames]
    if "Flask.dispatch_request" in names:
        index = names.index("Flask.dispatch_request") + 1
        # Past decorators' wrappers (staff_required's ``wrapped``) to the view itself.
        while index < len(frames) - 1 and _WRAPPER_MARK in names[index]:
            index += 1
        if index >= len(frames):
            return OTHER, None
        below = frame_name(frames[index + 1]) if index + 1 < len(frames) else "(its own code)"
        return "route " + _label(frames[index]), below
    if "Flask.preprocess_request" in names:
        index = names.index("Flask.preprocess_request") + 1
        hook = names[index] if index < len(names) else "?"
        return BEFORE.format({"_candidate_context": "lock guard", "_check_csrf": "CSRF check"}.get(hook, hook)), None
    if "Flask.finalize_request" in names:
        return AFTER, None
    if "Flask.wsgi_app" in names:
        return FLASK, None
    files = [frame_file(frame) for frame in frames]
    if any(path.endswith("quiet_polls.py") for path in files):
        return FRONT, None
    if any(path.endswith("engine/sweeper.py") for path in files):
        return SWEEPER, None
    if not frames or any("gunicorn/" in path or "granian/" in path for path in files):
        return SERVER, None
    return OTHER, None


def read_samples(lines: Iterable[str]) -> Iterable[tuple[list[str], int]]:
    """py-spy's raw format: ``frame;frame;... count`` per line. Sampling without pausing the
    server (``--nonblocking``) now and then reads a frame's name while it changes, and the name
    can hold line breaks: such a sample runs on until a line ends in its count."""
    pending, first = "", 0
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        if not pending and not line.strip():
            continue
        if not pending:
            first = number
        pending += line
        stack, _, count = pending.rpartition(" ")
        if not stack and count.isdigit() and pending.startswith(" "):
            # No Python frame at all: native code (granian's Rust) holding the lock.
            yield [], int(count)
            pending = ""
        elif stack and count.isdigit():
            yield stack.split(";"), int(count)
            pending = ""
        else:
            pending += "\n"
    if pending:
        raise ValueError(f"line {first}: not 'frames count': {pending[:80]!r}")


def summarise(samples: Iterable[tuple[list[str], int]]) -> tuple[collections.Counter, dict[str, collections.Counter]]:
    """Samples per label, and per route the samples per call under it."""
    by_label: collections.Counter = collections.Counter()
    below: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for frames, count in samples:
        label, call = classify(frames)
        by_label[label] += count
        if call is not None:
            below[label][call] += count
    return by_label, below


def render(by_label: collections.Counter, below: dict[str, collections.Counter], cpu_seconds: float | None = None,
           top: int = 25, calls: int = 3) -> str:
    total = sum(by_label.values())
    if not total:
        return "No samples (was py-spy allowed to read the workers? It needs ptrace: root or CAP_SYS_PTRACE).\n"
    head = f"{'share':>6}  {'CPU s':>7}  where" if cpu_seconds else f"{'share':>6}  where"
    lines = [f"{total} samples holding the interpreter lock" +
             (f"; CPU seconds shared out of the server's {cpu_seconds:.1f}" if cpu_seconds else ""), head]
    indent = " " * (len(head) - len("where"))
    for label, count in by_label.most_common(top):
        share = count / total
        cpu = f"  {share * cpu_seconds:7.1f}" if cpu_seconds else ""
        lines.append(f"{share * 100:5.1f}%{cpu}  {label}")
        for call, call_count in below.get(label, collections.Counter()).most_common(calls):
            lines.append(f"{indent}{call_count / total * 100:5.1f}% in {call}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="py-spy raw output files")
    parser.add_argument("--cpu-seconds", type=float, help="the server's CPU over the run, to share out by route")
    options = parser.parse_args(argv)
    by_label: collections.Counter = collections.Counter()
    below: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for path in options.files:
        try:
            # A misread frame name (above) can hold bytes that are not UTF-8.
            with path.open(encoding="utf-8", errors="replace") as handle:
                labels, calls = summarise(read_samples(handle))
        except (OSError, ValueError) as error:
            print(f"{path}: {error}", file=sys.stderr)
            return 1
        by_label.update(labels)
        for label, counter in calls.items():
            below[label].update(counter)
    sys.stdout.write(render(by_label, below, options.cpu_seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
