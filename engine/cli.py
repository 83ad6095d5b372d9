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

from engine import banks, clock, db, http_server, migrations
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
    for command in (candidates_group, staff_group):
        app.cli.add_command(command)
    from engine.forms_report import forms_group  # test forms: report, verify (engine/forms_report.py)
    app.cli.add_command(forms_group)
    from engine.loadtest import loadtest_group; app.cli.add_command(loadtest_group)  # noqa: E702 (docs/load-testing.md)
    from engine.results_cli import results_group; app.cli.add_command(results_group)  # noqa: E702 (docs/results.md)
    from engine.lock_cli import locks_group; app.cli.add_command(locks_group)  # noqa: E702 (docs/locks.md)


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


# `onscreen bank report`: the command lives with its report, in engine/bank_report.py.
from engine.bank_report import report_command as _bank_report_command  # noqa: E402

bank_group.add_command(_bank_report_command)
# `onscreen bank export DIR`: the bank back to its YAML files (engine/bank_export.py).
from engine.bank_export import export_command as _bank_export_command  # noqa: E402

bank_group.add_command(_bank_export_command)
# `onscreen bank import FILE --format qti|gift|moodlexml|aiken --unit URN` (engine/interchange/cli.py).
from engine.interchange.cli import import_command as _bank_import_command  # noqa: E402

bank_group.add_command(_bank_import_command)


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
    from engine import sweeper
    while True:
        try:
            finished = sweeper.sweep(current_app)
        except Exception as error:
            if not every:
                if isinstance(error, sweeper.NotFinished):
                    raise click.ClickException(str(error)) from error
                raise
            # Beside the server, the sweeper must outlive a database restart or a write that
            # held the lock too long: the next sweep finds the same attempts.
            click.echo(f"Sweep failed ({error.__class__.__name__}: {error}); trying again in {every:g} s.", err=True)
        else:
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
    from engine.marking_demo import create_marking_demo  # an ended sitting for the marker (issue 8)
    for line in create_marking_demo(current_app):
        click.echo(line)


@click.command("serve")
@click.option("--sweep-every", type=float, default=5, show_default=True,
              help="Seconds between sweeps for timed-out attempts (0: no sweeper).")
@click.option("--server", type=click.Choice(http_server.SERVERS), envvar="ONSCREEN_SERVER",
              default=http_server.DEFAULT_SERVER, show_default=True, help="The HTTP server (ONSCREEN_SERVER).")
def serve_command(sweep_every, server):
    """Serve the app with granian or gunicorn (not the development server), with the sweeper beside it."""
    import subprocess

    try:
        server_command = http_server.command(server)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    sweeper = None
    if sweep_every:
        sweeper = subprocess.Popen([sys.executable, "-m", "engine.cli", "sweep", "--every", str(sweep_every)],
                                   stdout=subprocess.DEVNULL)
    try:
        sys.exit(subprocess.call(server_command))
    finally:
        if sweeper is not None:
            sweeper.terminate()


# --- centres: backup and restore, candidates, staff (issue 13) ------------------------------------

@db_group.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def db_backup(path):
    """Back up the whole database to PATH (a file, or a folder for a dated file), safely while in use."""
    from engine.backup import BackupError, backup
    try:
        outcome = backup(current_app, path)
    except BackupError as error:
        click.echo(f"Backup failed: {error}", err=True)
        sys.exit(1)
    click.echo(f"Backup written to {outcome.path} ({outcome.size} bytes; migration {outcome.revision}; "
               f"{outcome.detail}) from {_safe_url()}")


@db_group.command("restore")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Replace a database that already holds tables without asking.")
@with_appcontext
def db_restore(path, yes):
    """Replace the database with the backup at PATH. Stop the app servers and the sweeper first."""
    from engine.backup import BackupError, restore, table_count
    replace = yes
    if not yes and sys.stdin.isatty() and table_count(current_app):
        replace = click.confirm(f"Replace everything in {_safe_url()} with {path}?", default=False)
    try:
        outcome = restore(current_app, path, replace=replace)
    except BackupError as error:
        click.echo(f"Restore failed: {error}", err=True)
        sys.exit(1)
    click.echo(f"Restored {outcome.path} into {_safe_url()} ({outcome.detail}); database at migration "
               f"{outcome.revision}. Run `onscreen db upgrade` if this version of onscreen is newer.")


def _centre_by_number(session, number: str):
    from sqlalchemy import select

    from engine import models
    centre = session.scalar(select(models.Centre).where(models.Centre.number == number))
    if centre is None:
        click.echo(f"There is no centre {number}.", err=True)
        sys.exit(1)
    return centre


@click.group("candidates")
def candidates_group():
    """Import and export a centre's candidates as CSV."""


@candidates_group.command("import")
@click.argument("centre_number")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--valid-only", is_flag=True, help="Import the good rows even if some rows have problems.")
@with_appcontext
def candidates_import(centre_number, path, valid_only):
    """Check every row of the CSV file at PATH, then import it into the centre (nothing, if any row is bad)."""
    from engine import candidate_import, scheduling
    session = db.new_session()
    try:
        centre = _centre_by_number(session, centre_number)
        with db.writing(session):
            now = clock.now(session)
            report = candidate_import.import_candidates(
                session, centre, path.read_bytes(), valid_only=valid_only, actor="cli", now=now,
                today=scheduling.to_local(now, centre.timezone).date())
    finally:
        session.close()
    for problem in report.problems:
        click.echo(str(problem), err=True)
    if report.imported:
        click.echo(f"Imported {report.imported} candidate(s) into centre {centre_number}: {len(report.created)} new, "
                   f"{len(report.updated)} updated" + (f"; rows left out: {', '.join(map(str, report.skipped_rows))}"
                                                       if report.skipped_rows else "") + ".")
    if report.problems:
        if not report.imported:
            click.echo(f"Nothing imported: {len(report.problems)} problem(s) in {path}.", err=True)
        sys.exit(1)
    if not report.imported:
        click.echo(f"{path} has no candidate rows: nothing imported.")


@candidates_group.command("export")
@click.argument("centre_number")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: standard output).")
@with_appcontext
def candidates_export(centre_number, output):
    """Write the centre's candidates as CSV, in the columns the import reads."""
    from sqlalchemy import select

    from engine import candidate_import, models
    session = db.new_session()
    try:
        centre = _centre_by_number(session, centre_number)
        rows = session.scalars(select(models.Candidate).where(models.Candidate.centre_id == centre.id)).all()
        text = candidate_import.export_csv(rows)
    finally:
        session.close()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8", newline="")
        click.echo(f"Wrote {len(rows)} candidate(s) to {output}.", err=True)


@click.group("staff")
def staff_group():
    """Staff accounts from the command line (e.g. the first administrator)."""


@staff_group.command("add")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="The person's name.")
@click.option("--role", "roles", multiple=True, required=True,
              help="A role (repeat for several): admin, exams_officer, invigilator, item_writer, reviewer, marker.")
@click.option("--centre", "centre_numbers", multiple=True,
              help="A centre's number (repeat for someone who works for several; the first is their home "
                   "centre); leave out for an awarding-body account (an admin sees every centre).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def staff_add(username, display_name, roles, centre_numbers, password):
    """Create a staff account (the password is asked for, never echoed)."""
    from engine import staff_accounts
    session = db.new_session()
    try:
        centres = [_centre_by_number(session, number) for number in dict.fromkeys(centre_numbers)]
        with db.writing(session):
            user, problems = staff_accounts.create(
                session, by=None, centre=centres[0] if centres else None, also=tuple(centres[1:]), username=username,
                display_name=display_name, roles=list(roles), password=password, now=clock.now(session))
    finally:
        session.close()
    for problem in problems:
        click.echo(f"{problem.field}: {problem.message}", err=True)
    if problems:
        sys.exit(1)
    where = f" at centre{'s' if len(centres) > 1 else ''} {', '.join(c.number for c in centres)}." if centres \
        else ", an awarding-body account."
    click.echo(f"Created {username} ({', '.join(roles)})" + where)


@staff_group.command("centres")
@click.argument("username")
@click.option("--centre", "centre_numbers", multiple=True, required=True,
              help="A centre's number; repeat for each centre the person works for (the list replaces theirs).")
@with_appcontext
def staff_centres_command(username, centre_numbers):
    """Set the centres an existing member of staff works for."""
    from sqlalchemy import select

    from engine import models, staff_accounts
    session = db.new_session()
    try:
        user = session.scalar(select(models.StaffUser).where(models.StaffUser.username == username))
        if user is None:
            click.echo(f"There is no member of staff {username!r}.", err=True)
            sys.exit(1)
        centres = [_centre_by_number(session, number) for number in dict.fromkeys(centre_numbers)]
        with db.writing(session):
            staff_accounts.change_centres(session, by=None, target=user, centres=centres, now=clock.now(session))
    finally:
        session.close()
    click.echo(f"{username} works for centre{'s' if len(centres) > 1 else ''} {', '.join(c.number for c in centres)}.")


if __name__ == "__main__":
    main()
