"""``onscreen loadtest``: tell a centre, before its exam window, how many candidates its
installation holds.

``prepare`` makes the candidates, rooms and forms; ``run`` drives Locust headless against the
server, checks every threshold (loadtests/thresholds.toml), reconciles the acknowledged saves
with the database and exits non-zero on any breach; ``capacity`` steps the number of
candidates up and reports the largest that met every threshold. docs/load-testing.md is the guide.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext

from engine.config import REPO_ROOT
from engine.loadtest_prepare import PrepareError, PrepareOptions, prepare, read_plan, synthetic_plan, write_plan
from engine.loadtest_reconcile import reconcile
from engine.loadtest_report import DEFAULT_THRESHOLDS, ThresholdError, evaluate, load_thresholds, render_text

LOCUSTFILE = REPO_ROOT / "loadtests" / "locustfile.py"
DEFAULT_OUT = REPO_ROOT / "loadtests" / "out"


def is_local(host: str) -> bool:
    name = urlsplit(host).hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def run_locust(plan_path: Path, host: str, out: Path, *, login_seconds: float, reconnect: bool, items: int,
               timer_seconds: float, staff_seconds: float = 20, quiet: bool = True) -> dict:
    """Run Locust headless; return the results the locustfile wrote (statistics, acks, CPU)."""
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results_path.unlink(missing_ok=True)
    env = {**os.environ, "LOADTEST_PLAN": str(plan_path), "LOADTEST_RESULTS": str(results_path),
           "LOADTEST_LOGIN_SECONDS": str(login_seconds), "LOADTEST_RECONNECT": "1" if reconnect else "0",
           "LOADTEST_ITEMS": str(items), "LOADTEST_TIMER_SECONDS": str(timer_seconds),
           "LOADTEST_STAFF_SECONDS": str(staff_seconds)}
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host,
               "--csv", str(out / "locust"), "--html", str(out / "report.html"), "--only-summary",
               "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    with open(out / "locust.log", "w", encoding="utf-8") as log:
        code = subprocess.call(command, env=env, stdout=log if quiet else None, stderr=subprocess.STDOUT if quiet else None)
    if not results_path.exists():
        raise click.ClickException(f"Locust wrote no results (exit {code}); see {out / 'locust.log'}")
    return json.loads(results_path.read_text(encoding="utf-8"))


def check_run(results: dict, plan: dict, out: Path, thresholds_path: Path, with_reconcile: bool):
    """Evaluate, write summary.json / summary.txt / acks.jsonl, and return the verdict."""
    thresholds = load_thresholds(thresholds_path)
    recon = reconcile(current_app, plan, results["acks"]) if with_reconcile else None
    verdict = evaluate(results, thresholds, recon)
    with open(out / "acks.jsonl", "w", encoding="utf-8") as acks:
        for ack in results["acks"]:
            acks.write(json.dumps(ack) + "\n")
    summary = {key: value for key, value in results.items() if key not in ("acks", "cpu_samples")}
    summary.update(passed=verdict.passed, breaches=verdict.breaches, facts=verdict.facts)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    text = render_text(results, verdict)
    (out / "summary.txt").write_text(text + "\n", encoding="utf-8")
    return verdict, text


def _out_dir(out: Path | None, label: str) -> Path:
    return out or DEFAULT_OUT / f"{dt.datetime.now():%Y%m%d-%H%M%S}-{label}"


@click.group("loadtest")
def loadtest_group():
    """Load-test this installation before an exam window (docs/load-testing.md)."""


def _prepare_options(f):
    f = click.option("--scenario", type=click.Choice(["examday", "common"]), default="examday", show_default=True)(f)
    f = click.option("--room-size", type=int, default=30, show_default=True, help="Candidates per room (one invigilator each).")(f)
    f = click.option("--allowed-seconds", type=int, default=None,
                     help="Time allowed per attempt in the run (exam day, 180: the steady phase lasts about this "
                          "long; common, 3600: longer than the journey).")(f)
    f = click.option("--centre", "centre_number", default="98001", show_default=True, help="The load-test centre's number.")(f)
    f = click.option("--specification", default="unit-2", show_default=True)(f)
    return f


@loadtest_group.command("prepare")
@click.option("--candidates", type=int, required=True, help="How many candidates to prepare.")
@_prepare_options
@click.option("--plan", "plan_path", type=click.Path(path_type=Path), default=DEFAULT_OUT / "plan.json", show_default=True)
@with_appcontext
def prepare_command(candidates, scenario, room_size, allowed_seconds, centre_number, specification, plan_path):
    """Create a centre, CANDIDATES candidates in rooms with forms made, and the plan Locust reads."""
    try:
        plan = prepare(current_app, PrepareOptions(candidates, scenario, room_size, _allowed(scenario, allowed_seconds),
                                                   centre_number, specification))
    except PrepareError as error:
        raise click.ClickException(str(error)) from error
    write_plan(plan, plan_path)
    click.echo(f"Prepared {plan['candidates']} candidates in {len(plan['rooms'])} room(s) at centre {plan['centre']} "
               f"({scenario}, {plan['items_per_form']} items, {plan['allowed_seconds']} s allowed). Plan: {plan_path}")


def _allowed(scenario: str, allowed_seconds: int | None) -> int:
    return allowed_seconds or (3600 if scenario == "common" else 180)


def _run_options(f):
    f = click.option("--host", required=True, help="The server to load, e.g. http://127.0.0.1:8000.")(f)
    f = click.option("--allow-remote", is_flag=True, help="Allow a host that is not this machine.")(f)
    f = click.option("--staff-seconds", type=click.FloatRange(min=0), default=20, show_default=True,
                     help="Exam day: the invigilators sign in within the first half of this, before any candidate "
                          "(0: with the candidates).")(f)
    f = click.option("--login-seconds", type=float, default=60, show_default=True,
                     help="Exam day: every candidate signs in within this window; common: the ramp.")(f)
    f = click.option("--reconnect", is_flag=True, help="Exam day: add a reconnect storm in the steady phase.")(f)
    f = click.option("--items", type=int, default=30, show_default=True, help="Common scenario: items per candidate.")(f)
    f = click.option("--timer-seconds", type=float, default=30, show_default=True, help="Exam day: timer sync interval.")(f)
    f = click.option("--thresholds", "thresholds_path", type=click.Path(path_type=Path), default=DEFAULT_THRESHOLDS,
                     show_default=True)(f)
    f = click.option("--out", type=click.Path(path_type=Path), default=None,
                     help="Folder for the CSV, HTML and summary (default: loadtests/out/<time>-<scenario>).")(f)
    return f


def _check_host(host: str, allow_remote: bool) -> None:
    if not is_local(host) and not allow_remote:
        raise click.ClickException(f"--host {host} is not this machine; add --allow-remote to load another server "
                                   "(only one you are responsible for).")


@loadtest_group.command("run")
@click.option("--plan", "plan_path", type=click.Path(path_type=Path), default=DEFAULT_OUT / "plan.json", show_default=True)
@click.option("--no-reconcile", is_flag=True, help="Skip the database check (a server whose database is not this one).")
@_run_options
@with_appcontext
def run_command(plan_path, no_reconcile, host, allow_remote, staff_seconds, login_seconds, reconnect, items,
                timer_seconds, thresholds_path, out):
    """Run Locust against HOST with the prepared plan; check thresholds and reconcile saves."""
    _check_host(host, allow_remote)
    try:
        plan = read_plan(plan_path)
        load_thresholds(thresholds_path)
    except (PrepareError, ThresholdError) as error:
        raise click.ClickException(str(error)) from error
    out = _out_dir(out, plan["scenario"])
    click.echo(f"Running {plan['scenario']} with {plan['candidates']} candidates against {host}; results in {out}")
    results = run_locust(plan_path, host, out, login_seconds=login_seconds, reconnect=reconnect, items=items,
                         timer_seconds=timer_seconds, staff_seconds=staff_seconds)
    verdict, text = check_run(results, plan, out, thresholds_path, with_reconcile=not no_reconcile)
    click.echo(text)
    sys.exit(0 if verdict.passed else 1)


@loadtest_group.command("capacity")
@click.option("--start", type=int, default=100, show_default=True, help="First number of candidates.")
@click.option("--step", type=int, default=100, show_default=True, help="Candidates added per step.")
@click.option("--max", "maximum", type=int, default=5000, show_default=True, help="Stop after this many.")
@click.option("--ceiling", is_flag=True, help="The host is the ceiling app (loadtests/ceiling_app.py): no database.")
@_prepare_options
@_run_options
@with_appcontext
def capacity_command(start, step, maximum, ceiling, scenario, room_size, allowed_seconds, centre_number, specification,
                     host, allow_remote, staff_seconds, login_seconds, reconnect, items, timer_seconds, thresholds_path,
                     out):
    """Step the number of candidates up; report the largest that met every threshold."""
    _check_host(host, allow_remote)
    if ceiling and scenario != "common":
        raise click.ClickException("--ceiling runs the common scenario only (add --scenario common)")
    out = _out_dir(out, f"capacity-{scenario}{'-ceiling' if ceiling else ''}")
    best, steps = 0, []
    for index, candidates in enumerate(range(start, maximum + 1, step)):
        step_out = out / f"n{candidates}"
        step_out.mkdir(parents=True, exist_ok=True)
        # A centre (so new candidates) per step: reused candidates would have seen the items.
        centre = f"{int(centre_number) + index:0{len(centre_number)}d}" if centre_number.isdigit() else centre_number
        options = PrepareOptions(candidates, scenario, room_size, _allowed(scenario, allowed_seconds), centre,
                                 specification)
        try:
            plan = synthetic_plan(options) if ceiling else prepare(current_app, options)
        except PrepareError as error:
            raise click.ClickException(str(error)) from error
        plan_path = write_plan(plan, step_out / "plan.json")
        results = run_locust(plan_path, host, step_out, login_seconds=login_seconds, reconnect=reconnect, items=items,
                             timer_seconds=timer_seconds, staff_seconds=staff_seconds)
        verdict, text = check_run(results, plan, step_out, thresholds_path, with_reconcile=not ceiling)
        steps.append({"candidates": candidates, "passed": verdict.passed, "breaches": verdict.breaches,
                      "facts": {k: v for k, v in verdict.facts.items() if k != "reconciliation"}})
        click.echo(f"{candidates} candidates: {'PASS' if verdict.passed else 'FAIL'} "
                   f"({verdict.facts.get('locust_cpu_cores')} Locust cores)"
                   + "".join(f"\n  - {b}" for b in verdict.breaches[:5]))
        if not verdict.passed:
            break
        best = candidates
    (out / "capacity.json").write_text(json.dumps({"scenario": scenario, "ceiling": ceiling, "host": host,
                                                   "capacity": best, "steps": steps}, indent=1), encoding="utf-8")
    click.echo(f"Capacity: {best} candidates met every threshold ({scenario}{', ceiling app' if ceiling else ''}). "
               f"Details in {out}")
    sys.exit(0 if best else 1)
