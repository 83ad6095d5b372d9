"""``onscreen locks``: list the registered locks, show a sitting's exam conditions, and set or
clear a sitting's own lock settings from a YAML file (checked like test.yaml, by file:line)."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from engine import clock, db, lock_state, locks, models
from engine.yaml_lines import YamlError, line_of, read_yaml


@click.group("locks")
def locks_group():
    """Exam-condition locks (docs/locks.md)."""


@locks_group.command("list")
@with_appcontext
def list_command():
    """Each registered lock with its settings and their defaults."""
    for name, cls in sorted(locks.registry().items()):
        always = " (always on)" if cls.always else ""
        settings = ", ".join(f"{key}={value!r}" for key, value in cls.defaults.items()) or "no settings"
        click.echo(f"{name}: {cls.title}{always}; {settings}")


def _sitting(session, sitting_id: int) -> models.Sitting:
    sitting = session.get(models.Sitting, sitting_id)
    if sitting is None:
        raise click.ClickException(f"there is no sitting {sitting_id}")
    return sitting


@locks_group.command("show")
@click.argument("sitting_id", type=int)
@with_appcontext
def show_command(sitting_id: int):
    """The locks in force for a sitting, and where each is set."""
    from engine.lock_web import sitting_locks
    session = db.session()
    for lock in sitting_locks(_sitting(session, sitting_id)):
        click.echo(f"{lock['name']} ({lock['source']}): {lock['summary']}")


@locks_group.command("set")
@click.argument("sitting_id", type=int)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def set_command(sitting_id: int, file: Path):
    """Give a sitting its own settings (lock name -> settings; ``name: false`` switches a lock
    off for this sitting). Nothing changes unless the whole file is right."""
    try:
        config, lines = read_yaml(file)
    except YamlError as exc:
        raise click.ClickException(f"{file}:{exc.line}: {exc.message}") from None
    config = config or {}
    registered = locks.registry()
    switched_off = {k for k, v in config.items() if v is False} if isinstance(config, dict) else set()
    problems = locks.config_problems({k: v for k, v in config.items() if k not in switched_off}
                                     if isinstance(config, dict) else config)
    problems += [((name,), "is always on and cannot be switched off")
                 for name in sorted(switched_off) if name in registered and registered[name].always]
    if problems:
        for path, message in problems:
            field = ".".join(map(str, path))
            click.echo(f"{file}:{line_of(lines, path) or 1}: {field}: {message}", err=True)
        raise click.ClickException(f"{len(problems)} problem(s); the sitting is unchanged")
    session = db.session()
    with db.writing(session):
        sitting = _sitting(session, sitting_id)
        try:
            lock_state.set_sitting_locks(session, sitting, config, clock.now(session), "cli")
        except lock_state.LockRefused as refusal:
            raise click.ClickException(str(refusal)) from None
    click.echo(f"Sitting {sitting_id}: exam conditions set from {file}.")


@locks_group.command("clear")
@click.argument("sitting_id", type=int)
@with_appcontext
def clear_command(sitting_id: int):
    """Back to the specification's locks."""
    session = db.session()
    with db.writing(session):
        try:
            lock_state.set_sitting_locks(session, _sitting(session, sitting_id), None, clock.now(session), "cli")
        except lock_state.LockRefused as refusal:
            raise click.ClickException(str(refusal)) from None
    click.echo(f"Sitting {sitting_id}: exam conditions as the specification sets them.")
