"""What a load run means: its results checked against the thresholds, as a summary a centre can
read (text) and a machine can compare (JSON). Every breach is named; any breach fails the run.
"""
from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from engine.config import REPO_ROOT

DEFAULT_THRESHOLDS = REPO_ROOT / "loadtests" / "thresholds.toml"
PERCENTILES = ("p95", "p99")
#: The achieved/offered ratio is checked only over a steady phase at least this long.
MIN_STEADY_SECONDS = 120


class ThresholdError(RuntimeError):
    """The thresholds file cannot be read; the message names the file and the rule."""


def load_thresholds(path: Path = DEFAULT_THRESHOLDS) -> dict:
    try:
        thresholds = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ThresholdError(f"--thresholds: {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ThresholdError(f"--thresholds: {path}: {exc}") from exc
    for scenario in ("examday", "common"):
        for number, rule in enumerate(thresholds.get(scenario, []), start=1):
            if "match" not in rule or not any(p in rule for p in PERCENTILES):
                raise ThresholdError(f"{path}: rule {number} of [[{scenario}]] needs 'match' and p95 or p99")
    return thresholds


@dataclass
class Verdict:
    breaches: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.breaches


def cpu_cores(samples: list, start: float | None = None, end: float | None = None) -> float:
    """Locust's own average CPU (cores) between two run times, from its 1 s samples."""
    chosen = [(t, c) for t, c in samples if (start is None or t >= start) and (end is None or t <= end)]
    if len(chosen) < 2 or chosen[-1][0] <= chosen[0][0]:
        return 0.0
    return (chosen[-1][1] - chosen[0][1]) / (chosen[-1][0] - chosen[0][0])


def evaluate(results: dict, thresholds: dict, reconciliation: dict | None) -> Verdict:
    verdict = Verdict()
    limits = thresholds.get("run", {})
    entries = results["entries"]
    total, failed = results["total_requests"], results["total_failures"]
    error_rate = failed / total if total else 1.0
    verdict.facts.update(requests=total, failures=failed, error_rate=round(error_rate, 5))
    if not total:
        verdict.breaches.append("no requests were made (is the server up, and was the plan prepared against it?)")
    elif error_rate > limits.get("max_error_rate", 0.0):
        verdict.breaches.append(f"error rate {error_rate:.4%} > {limits.get('max_error_rate', 0.0):.4%} "
                                f"({failed} of {total} requests failed)")
    for rule in thresholds.get(results["scenario"], []):
        for name, entry in entries.items():
            if name == "Aggregated" or not fnmatch.fnmatchcase(name, rule["match"]):
                continue
            for percentile in PERCENTILES:
                if percentile in rule and (entry[percentile] or 0) > rule[percentile]:
                    verdict.breaches.append(f"{name}: {percentile} {entry[percentile]:.0f} ms > {rule[percentile]} ms "
                                            f"(rule '{rule['match']}', {entry['requests']} requests)")
    timeline = results.get("timeline") or {}
    samples = results.get("cpu_samples") or []
    verdict.facts["locust_cpu_cores"] = round(cpu_cores(samples), 3)
    if verdict.facts["locust_cpu_cores"] > limits.get("max_locust_cpu", 0.5):
        verdict.breaches.append(f"Locust used {verdict.facts['locust_cpu_cores']:.2f} cores (> "
                                f"{limits.get('max_locust_cpu', 0.5)}): the load generator, not the server, may be the limit")
    if results["scenario"] == "examday" and timeline.get("steady"):
        _steady_rate(results, timeline, limits, verdict)
    if reconciliation is not None:
        verdict.facts["reconciliation"] = reconciliation
        if reconciliation["lost"] > limits.get("max_lost_answers", 0):
            verdict.breaches.append(f"{reconciliation['lost']} acknowledged answer(s) are not in the database")
        if reconciliation.get("stale_current", 0):
            verdict.breaches.append(f"{reconciliation['stale_current']} item(s) whose current answer is not the latest save")
        if results["scenario"] == "examday" and reconciliation["unfinished"] > limits.get("max_unfinished", 0):
            verdict.breaches.append(f"{reconciliation['unfinished']} attempt(s) not finished after the deadline")
    return verdict


def _steady_rate(results: dict, timeline: dict, limits: dict, verdict: Verdict) -> None:
    start, end = timeline["steady"]
    seconds = max(1.0, end - start)
    sent = sum(e["requests"] for name, e in results["entries"].items() if name.startswith("steady "))
    offered = results["candidates"] * (results.get("offered_per_candidate") or 0) + results["rooms"] / 5
    achieved = sent / seconds
    verdict.facts.update(steady_offered_rps=round(offered, 1), steady_achieved_rps=round(achieved, 1),
                         steady_locust_cpu_cores=round(cpu_cores(results.get("cpu_samples") or [], start, end), 3))
    ratio = achieved / offered if offered else 0
    # The profile is an average over think times of 10-40 s: a short steady phase is too
    # noisy to judge the generator by, so it is reported but not held to the ratio.
    if seconds >= MIN_STEADY_SECONDS and ratio < limits.get("min_achieved_ratio", 0.9):
        verdict.breaches.append(f"steady phase: achieved {achieved:.1f} req/s is {ratio:.0%} of the offered "
                                f"{offered:.1f} req/s (< {limits.get('min_achieved_ratio', 0.9):.0%})")


def render_text(results: dict, verdict: Verdict) -> str:
    """The summary a centre reads: one line per endpoint and phase, then the verdict."""
    lines = [f"Scenario {results['scenario']}: {results['candidates']} candidates in {results['rooms']} room(s).",
             f"{'request':34} {'count':>7} {'fail':>5} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7} {'bytes':>7}"]
    for name, e in sorted(results["entries"].items(), key=lambda kv: _phase_order(kv[0])):
        lines.append(f"{name[:34]:34} {e['requests']:>7} {e['failures']:>5} {e['p50'] or 0:>6.0f} {e['p95'] or 0:>6.0f} "
                     f"{e['p99'] or 0:>6.0f} {e['max'] or 0:>7.0f} {e['avg_bytes']:>7}")
    for key, value in verdict.facts.items():
        if key != "reconciliation":
            lines.append(f"{key}: {value}")
    recon = verdict.facts.get("reconciliation")
    if recon:
        lines.append(f"reconciliation: {recon['acknowledged']} acknowledged saves, {recon['lost']} lost; "
                     f"{recon['finished']} of {recon['attempts']} attempts finished ({recon['unfinished']} not)")
    lines.append("PASS: every threshold held." if verdict.passed else f"FAIL: {len(verdict.breaches)} breach(es):")
    lines.extend(f"  - {breach}" for breach in verdict.breaches)
    lines.extend(_over_time(results))
    return "\n".join(lines)


def _over_time(results: dict) -> list[str]:
    """Every request by when it was sent (the locustfile's windows), with the phase each window
    starts in: a backlog shows as slow first windows of a phase, not a slow phase."""
    windows = results.get("windows") or []
    if not windows:
        return []
    lines = ["", "Over time, every request by when it was sent:",
             f"{'seconds':>11} {'phase':9} {'count':>7} {'p50':>6} {'p95':>6} {'max':>7}"]
    phased = results.get("scenario") == "examday"  # the common scenario has no phases
    for w in windows:
        phase = _phase_at(results.get("timeline") or {}, w["start"]) if phased else ""
        lines.append(f"{w['start']:>5.0f}-{w['end']:<5.0f} {phase:9} "
                     f"{w['requests']:>7} {w['p50']:>6} {w['p95']:>6} {w['max']:>7}")
    return lines


def _phase_at(timeline: dict, seconds: float) -> str:
    for phase in ("reconnect", "setup", "login", "start", "steady", "burst"):
        span = timeline.get(phase)
        if span and span[0] <= seconds < span[1]:
            return phase
    return ""


def _phase_order(name: str) -> tuple:
    order = {"setup": -1, "login": 0, "start": 1, "steady": 2, "reconnect": 3, "burst": 4}
    return (order.get(name.split(" ", 1)[0], 5), name)
