"""``onscreen bank import FILE --format ... --unit URN`` and the interchange side of ``bank export``.

``bank export`` itself lives in engine/bank_export.py (YAML, the default); for any other
``--format`` it calls :func:`run_export` here.

Exit codes of ``bank import``: 0 every question imported; 1 nothing imported (a problem, or
``--strict`` with any question that cannot be represented exactly); 3 some imported, the
questions listed were left out.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from engine import clock, db
from engine.interchange import EXPORT_FORMATS, IMPORT_FORMATS, InterchangeError, export_items, import_file, unit_items
from engine.plugins import item_types


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", required=True, type=click.Choice(sorted(IMPORT_FORMATS)),
              help="qti reads QTI 2.1/2.2/3.0 items and content packages (zip).")
@click.option("--unit", "unit_urn", required=True, help="The unit's reference number, e.g. Y/506/2152.")
@click.option("--criterion", default=None, help='Assessment criterion (e.g. "1.2") for questions whose file names none.')
@click.option("--strict", is_flag=True, help="Import nothing unless every question can be represented exactly.")
@click.option("--dry-run", is_flag=True, help="Check and report; store nothing.")
@with_appcontext
def import_command(file: Path, fmt: str, unit_urn: str, criterion: str | None, strict: bool, dry_run: bool):
    """Import the questions in FILE into the unit's bank as draft items, in one transaction."""
    session = db.new_session()
    try:
        report = import_file(file, fmt, unit_urn, strict, db=session, item_types=item_types(),
                             now=clock.now(session), criterion=criterion, dry_run=dry_run)
    finally:
        session.close()
    if report.error:
        click.echo(report.summary(), err=True)
        sys.exit(1)
    for item in report.items:
        for note in item.notes + item.approximations:
            click.echo(f"note: {note}", err=True)
    for problem in report.problems:
        click.echo(f"not imported: {problem}", err=True)
    if dry_run:
        click.echo(f"Dry run: {len(report.items)} question(s) can be imported, {len(report.problems)} cannot.")
        sys.exit(1 if report.problems else 0)
    click.echo(report.summary(), err=not report.stored)
    if not report.stored:
        sys.exit(1)
    if report.problems:
        sys.exit(3)


def run_export(fmt: str, path: Path, unit: str | None) -> None:
    """Write the unit's items in ``fmt`` to ``path`` (a file, or a folder for ``unit-<URN><suffix>``)."""
    if fmt not in EXPORT_FORMATS:
        click.echo(f"--format {fmt}: use yaml or one of {', '.join(EXPORT_FORMATS)}", err=True)
        sys.exit(2)
    if not unit:
        click.echo(f"--format {fmt} needs --unit URN (the unit to export)", err=True)
        sys.exit(2)
    session = db.new_session()
    try:
        result = export_items(unit_items(session, unit), fmt)
    except InterchangeError as exc:
        click.echo(f"Nothing exported: {exc}", err=True)
        sys.exit(1)
    finally:
        session.close()
    target = Path(path)
    if target.is_dir() or not target.suffix:
        target.mkdir(parents=True, exist_ok=True)
        target = target / f"unit-{re.sub(r'[^A-Za-z0-9]+', '-', unit)}{result.suffix}"
    target.write_bytes(result.data)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    for key, reason in result.skipped:
        click.echo(f"not exported: {key}: {reason}", err=True)
    click.echo(f"Exported {len(result.exported)} item(s) of {unit} as {fmt} to {target}; "
               f"{len(result.skipped)} left out.")
