"""``onscreen results``: exports, release, marking settings, regrade and item statistics from the
command line (docs/results.md). Commands exit non-zero with a message naming what is wrong."""
from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from engine import clock, db, item_statistics, marking_queue, models, regrade, results_export
from engine.models_marking import MarkingSettings


@click.group("results")
def results_group():
    """Export, release and regrade results; marking settings; item statistics."""


def _fail(message: str):
    click.echo(message, err=True)
    sys.exit(1)


def _sitting(session, sitting_id: int) -> models.Sitting:
    sitting = session.get(models.Sitting, sitting_id)
    if sitting is None:
        _fail(f"There is no sitting {sitting_id}.")
    return sitting


def _specification(session, code: str) -> models.TestSpecification:
    spec = session.scalar(select(models.TestSpecification).where(models.TestSpecification.code == code))
    if spec is None:
        _fail(f"There is no test specification {code!r}.")
    return spec


@results_group.command("export")
@click.argument("sitting_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["csv", "csv-long", "qti"]), default="csv", show_default=True,
              help="csv: one row per candidate; csv-long: one row per candidate per LO and AC; qti: a zip of "
                   "QTI 2.1 assessmentResult XML, one per candidate.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: standard output; required for qti).")
@click.option("--with-key", is_flag=True, help="qti: include each item's correct response (staff use only).")
@with_appcontext
def export_command(sitting_id, fmt, output, with_key):
    """Write the results of SITTING_ID as CSV or QTI results XML."""
    session = db.new_session()
    try:
        sitting = _sitting(session, sitting_id)
        if fmt == "qti":
            if output is None:
                _fail("--output: give a .zip file to write the QTI results to.")
            body: bytes | str = results_export.qti_zip(sitting, include_key=with_key)
        elif fmt == "csv-long":
            body = results_export.breakdown_csv(sitting)
        else:
            body = results_export.results_csv(sitting)
        count = sum(1 for e in sitting.entries if e.attempt is not None)
    finally:
        session.close()
    if output is None:
        click.echo(body, nl=False)
        return
    if isinstance(body, bytes):
        output.write_bytes(body)
    else:
        output.write_text(body, encoding="utf-8", newline="")
    click.echo(f"Wrote {fmt} results of sitting {sitting_id} ({count} candidate(s)) to {output}.", err=True)


@results_group.command("release")
@click.argument("sitting_id", type=int)
@with_appcontext
def release_command(sitting_id):
    """Release the results of SITTING_ID (refused while any is provisional)."""
    session = db.new_session()
    try:
        with db.writing(session):
            released = marking_queue.release(session, _sitting(session, sitting_id), "cli", clock.now(session))
    except marking_queue.MarkingError as exc:
        _fail(str(exc))
    finally:
        session.close()
    click.echo(f"Released {released} result(s) of sitting {sitting_id}.")


@results_group.command("settings")
@click.argument("specification")
@click.option("--second-marking/--single-marking", default=None, help="Mark every open response twice.")
@click.option("--tolerance", default=None, help="Marks two markers may differ by and still agree.")
@with_appcontext
def settings_command(specification, second_marking, tolerance):
    """Show or change how SPECIFICATION's open responses are marked. (Whether candidates see released
    results is the read_only_after_submit lock's release_results setting: docs/locks.md.)"""
    session = db.new_session()
    try:
        with db.writing(session):
            spec = _specification(session, specification)
            settings = session.get(MarkingSettings, spec.id)
            if settings is None:
                settings = MarkingSettings(specification_id=spec.id, second_marking=False, tolerance=Decimal(0))
                session.add(settings)
            if second_marking is not None:
                settings.second_marking = second_marking
            if tolerance is not None:
                try:
                    value = Decimal(tolerance)
                    if not value.is_finite() or value < 0:
                        raise InvalidOperation
                except InvalidOperation:
                    _fail(f"--tolerance: must be a number of marks of 0 or more, not {tolerance!r}")
                settings.tolerance = value
            line = (f"{spec.code}: second marking {'on' if settings.second_marking else 'off'}, tolerance "
                    f"{Decimal(settings.tolerance).normalize():f}.")
    finally:
        session.close()
    click.echo(line)


@results_group.command("regrade")
@click.argument("sitting_id", type=int)
@click.argument("item_key")
@click.option("--attempt", "attempt_ids", type=int, multiple=True, help="Only this attempt (repeat for several).")
@click.option("--apply", "do_apply", is_flag=True, help="Write the change (default: show before/after only).")
@click.option("--reason", default="", help="Why (required with --apply; recorded in the audit log).")
@with_appcontext
def regrade_command(sitting_id, item_key, attempt_ids, do_apply, reason):
    """Re-mark SITTING_ID's attempts that had ITEM_KEY against the item's live (corrected) version."""
    session = db.new_session()
    try:
        with db.writing(session):
            sitting = _sitting(session, sitting_id)
            item = session.scalar(select(models.Item).where(models.Item.key == item_key,
                                                            models.Item.unit_id == sitting.specification.unit_id))
            if item is None:
                _fail(f"There is no item {item_key!r} in the unit of sitting {sitting_id}.")
            chosen = list(attempt_ids) or None
            try:
                changes = (regrade.apply(session, sitting, item, chosen, "cli", reason, clock.now(session))
                           if do_apply else regrade.preview(session, sitting, item, chosen))
            except regrade.RegradeError as exc:
                _fail(str(exc))
            lines = [f"attempt {c.attempt_id} (candidate {c.candidate_number}): {c.before_total.normalize():f} -> "
                     f"{c.after_total.normalize():f}, {c.before_outcome} -> {c.after_outcome}"
                     + ("" if c.changed else " (no change)") for c in changes]
    finally:
        session.close()
    for line in lines:
        click.echo(line)
    click.echo(f"{'Regraded' if do_apply else 'Would regrade'} {len(lines)} attempt(s) against the live "
               f"version of {item_key}." + ("" if do_apply else " Add --apply --reason '...' to write it."))


@results_group.command("statistics")
@click.argument("specification")
@with_appcontext
def statistics_command(specification):
    """Item statistics and test reliability over SPECIFICATION's completed attempts."""
    session = db.new_session()
    try:
        spec = _specification(session, specification)
        items = session.scalars(select(models.Item).where(models.Item.unit_id == spec.unit_id)
                                .order_by(models.Item.key)).all()
        figures = item_statistics.statistics_for_items(session, [i.id for i in items])
        reliability = item_statistics.test_reliability(session, spec)
    finally:
        session.close()
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    for item in items:
        s = figures[item.id]
        if s.n:
            click.echo(f"{item.key}: n={s.n} facility={fmt(s.facility)} discrimination={fmt(s.discrimination)}"
                       + (f" FLAGS: {'; '.join(s.flags)}" if s.flags else ""))
    click.echo("Reliability: " + (f"{reliability[0]} {reliability[1]:.2f} ({reliability[2]} attempts, "
                                  f"{reliability[3]} common items)" if reliability else "not enough data"))
