"""The ``onscreen`` command: the app's Flask CLI group.

Commands print what they did and exit non-zero with a clear message when they cannot.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from engine import banks, clock, db, migrations
from engine.plugins import describe_plugins, item_types


def _create_app():
    from engine import create_app
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True, add_version_option=False)
def main():
    """onscreen: onscreen, on-demand, invigilated tests."""


def init_app(app: Flask) -> None:
    for command in (db_group, bank_group, plugins_command, sweep_command, demo_command, serve_command):
        app.cli.add_command(command)


# --- database --------------------------------------------------------------------------------------

@click.group("db")
def db_group():
    """Create and upgrade the database."""


@db_group.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
@with_appcontext
def db_upgrade(revision):
    """Apply the Alembic migrations up to REVISION."""
    migrations.upgrade(current_app, revision)
    click.echo(f"Database at {migrations.current_revision(current_app)} ({_safe_url()})")


@db_group.command("current")
@with_appcontext
def db_current():
    """Show the database's migration revision."""
    click.echo(migrations.current_revision(current_app) or "empty")


def _safe_url() -> str:
    return db.engine_for(current_app).url.render_as_string(hide_password=True)


# --- item banks ------------------------------------------------------------------------------------

@click.group("bank")
def bank_group():
    """Check and load item banks."""


@bank_group.command("check")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@with_appcontext
def bank_check(path):
    """Report every problem in the bank(s) at PATH with file, line and field."""
    found, problems = banks.read_banks(path, item_types())
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) found in {path}", err=True)
        sys.exit(1)
    items = sum(len(b.items) for b in found)
    click.echo(f"OK: {len(found)} unit(s), {items} item(s), "
               f"{sum(len(b.specifications) for b in found)} test specification(s) in {path}")


@bank_group.command("load")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@with_appcontext
def bank_load(path):
    """Check the bank(s) at PATH and load them in one transaction (nothing, if any is bad)."""
    session = db.new_session()
    try:
        with db.writing(session):
            summary = banks.load(session, path, item_types(), clock.now(session))
    except banks.BankError as error:
        for problem in error.problems:
            click.echo(str(problem), err=True)
        click.echo(f"Nothing loaded: {len(error.problems)} problem(s).", err=True)
        sys.exit(1)
    finally:
        session.close()
    click.echo(f"Loaded {summary.units} unit(s) and {summary.specifications} specification(s): "
               f"{summary.items_added} new item(s), {summary.versions_added} new version(s), "
               f"{summary.unchanged} unchanged.")


# --- plugins, sweeper, demo -----------------------------------------------------------------------

@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def plugins_command(as_json):
    """List the loaded plugins with the item types and locks they register."""
    described = describe_plugins(current_app)
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    for plugin in described:
        registers = ", ".join(plugin["item_types"] + plugin["locks"]) or "-"
        click.echo(f"{plugin['name']}: {registers}")


@click.command("sweep")
@click.option("--every", type=float, default=0, help="Repeat every N seconds until stopped (0: once).")
@with_appcontext
def sweep_command(every):
    """Finish every attempt whose time (and the grace for saves in flight) has run out."""
    from engine.sweeper import sweep
    while True:
        finished = sweep(current_app)
        click.echo(f"Finished {finished} timed-out attempt(s).")
        if not every:
            return
        time.sleep(every)


@click.command("demo")
@click.option("--banks", "bank_path", type=click.Path(exists=True, path_type=Path), default=None,
              help="Item banks to load first (default: the bundled item_banks/).")
@with_appcontext
def demo_command(bank_path):
    """Create the demo centre, staff, candidates and a sitting, and print the log-ins."""
    from engine.demo import create_demo
    for line in create_demo(current_app, bank_path):
        click.echo(line)


@click.command("serve")
@click.option("--sweep-every", type=float, default=5, show_default=True,
              help="Seconds between sweeps for timed-out attempts (0: no sweeper).")
def serve_command(sweep_every):
    """Serve the app with gunicorn (not the development server), with the sweeper beside it."""
    import subprocess

    config = Path(__file__).with_name("gunicorn_conf.py")
    sweeper = None
    if sweep_every:
        sweeper = subprocess.Popen([sys.executable, "-m", "engine.cli", "sweep", "--every", str(sweep_every)],
                                   stdout=subprocess.DEVNULL)
    try:
        sys.exit(subprocess.call([sys.executable, "-m", "gunicorn", "-c", str(config)]))
    finally:
        if sweeper is not None:
            sweeper.terminate()


if __name__ == "__main__":
    main()
