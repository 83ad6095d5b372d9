"""Backup and restore of the whole database, safe to run while candidates are working.

- **SQLite**: SQLite's online backup API copies a consistent snapshot while the app keeps
  writing; the copy is checked (``PRAGMA integrity_check``) and made a single self-contained
  file (no WAL) before it replaces anything at the target path.
- **PostgreSQL**: ``pg_dump --format=custom`` of the schema the app uses (one consistent
  snapshot, taken without blocking writers); the archive is read back (``pg_restore --list``)
  to prove it is whole. Restore is ``pg_restore --single-transaction --exit-on-error``: the
  database ends up either fully restored or untouched.

A restore replaces everything in the target database, so it refuses a database that already
holds tables unless told to replace them. Every answer acknowledged before the backup started
is in the backup: an acknowledgement is only sent after its transaction has committed.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from flask import Flask
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from engine import db

SQLITE_HEADER = b"SQLite format 3\x00"


class BackupError(RuntimeError):
    """The backup or restore could not be done; the message says why and what to do."""


@dataclass(frozen=True)
class Outcome:
    path: Path
    size: int
    revision: str | None
    detail: str


def _dialect(app: Flask) -> str:
    return db.engine_for(app).dialect.name


def default_name(app: Flask, now: dt.datetime) -> str:
    suffix = "sqlite3" if _dialect(app) == "sqlite" else "pgdump"
    return f"onscreen-{now:%Y%m%dT%H%M%SZ}.{suffix}"


def backup(app: Flask, target: Path, now: dt.datetime | None = None) -> Outcome:
    """Write a backup of the app's database to ``target`` (a file, or a folder to put one in)."""
    target = Path(target)
    if target.is_dir():
        target = target / default_name(app, now or dt.datetime.now(dt.UTC))
    if not target.parent.is_dir():
        raise BackupError(f"The folder {target.parent} does not exist.")
    partial = target.with_name(target.name + ".partial")
    try:
        if _dialect(app) == "sqlite":
            detail = _backup_sqlite(app, partial)
        elif _dialect(app) == "postgresql":
            detail = _backup_postgres(app, partial)
        else:
            raise BackupError(f"Backups of {_dialect(app)} databases are not supported.")
        _fsync(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return Outcome(target, target.stat().st_size, revision(app), detail)


def restore(app: Flask, source: Path, replace: bool = False) -> Outcome:
    """Replace the app's database with the backup at ``source``.

    :param replace: allow replacing a database that already holds tables.
    """
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"There is no backup file at {source}.")
    existing = table_count(app)
    if existing and not replace:
        raise BackupError(f"The database already holds {existing} table(s). Restoring replaces everything "
                          "in it: stop every app server and the sweeper first, then confirm (--yes).")
    db.engine_for(app).dispose()
    if _dialect(app) == "sqlite":
        detail = _restore_sqlite(app, source)
    elif _dialect(app) == "postgresql":
        detail = _restore_postgres(app, source)
    else:
        raise BackupError(f"Restoring {_dialect(app)} databases is not supported.")
    db.engine_for(app).dispose()
    return Outcome(source, source.stat().st_size, revision(app), detail)


def revision(app: Flask) -> str | None:
    """The database's migration revision(s); several while branches await their merge."""
    with db.engine_for(app).connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    return "+".join(sorted(heads)) or None


def table_count(app: Flask) -> int:
    engine = db.engine_for(app)
    if engine.dialect.name != "postgresql":
        return len(inspect(engine).get_table_names())
    # A fresh database may not have the schema yet (current_schema() is NULL): no tables.
    with engine.connect() as connection:
        return connection.scalar(text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"))


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


# --- SQLite ----------------------------------------------------------------------------------------


def _sqlite_path(app: Flask) -> Path:
    database = db.engine_for(app).url.database
    if not database or database == ":memory:":
        raise BackupError("The database is in memory: there is nothing on disk to back up or restore.")
    return Path(database)


def _check_sqlite_file(connection: sqlite3.Connection, path: Path) -> int:
    result = connection.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"{path} failed SQLite's integrity check: {result}")
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "alembic_version" not in tables:
        raise BackupError(f"{path} is an SQLite database but not an onscreen one (no migration version).")
    return connection.execute("SELECT count(*) FROM response_events").fetchone()[0] \
        if "response_events" in tables else 0


def _backup_sqlite(app: Flask, partial: Path) -> str:
    if not _sqlite_path(app).is_file():
        raise BackupError(f"There is no database at {_sqlite_path(app)}: nothing to back up.")
    source = sqlite3.connect(_sqlite_path(app), timeout=30)
    copy = sqlite3.connect(partial)
    try:
        source.execute("PRAGMA busy_timeout = 30000")
        # pages=-1: the whole database in one step, so the copy is one consistent snapshot.
        source.backup(copy, pages=-1)
        copy.execute("PRAGMA journal_mode = DELETE")
        saves = _check_sqlite_file(copy, partial)
    finally:
        copy.close()
        source.close()
    return f"{saves} saved answer(s)"


def _restore_sqlite(app: Flask, source_path: Path) -> str:
    with open(source_path, "rb") as handle:
        if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise BackupError(f"{source_path} is not an SQLite backup (is it a PostgreSQL dump?).")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    target = sqlite3.connect(_sqlite_path(app), timeout=30)
    try:
        saves = _check_sqlite_file(source, source_path)
        target.execute("PRAGMA busy_timeout = 30000")
        source.backup(target, pages=-1)
        target.execute("PRAGMA journal_mode = WAL")
        _check_sqlite_file(target, _sqlite_path(app))
    finally:
        target.close()
        source.close()
    return f"{saves} saved answer(s)"


# --- PostgreSQL -------------------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed: install the PostgreSQL client tools of the server's "
                          "version (Debian/Ubuntu: apt install postgresql-client).")
    return found


def _pg_env(app: Flask) -> dict[str, str]:
    """libpq settings for the app's database, so no password appears on a command line."""
    url = make_url(app.config["DATABASE_URL"])
    env = dict(os.environ)
    for key, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                       ("PGPASSWORD", url.password), ("PGDATABASE", url.database)):
        if value not in (None, ""):
            env[key] = str(value)
    options = url.query.get("options")
    if options:
        env["PGOPTIONS"] = options if isinstance(options, str) else " ".join(options)
    return env


def _schema(app: Flask) -> str:
    with db.engine_for(app).connect() as connection:
        return connection.scalar(text("SELECT current_schema()"))


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    finished = subprocess.run(command, env=env, capture_output=True, text=True)
    if finished.returncode != 0:
        raise BackupError(f"{what} failed (exit {finished.returncode}): {finished.stderr.strip()}")
    return finished.stdout


def _backup_postgres(app: Flask, partial: Path) -> str:
    env, schema = _pg_env(app), _schema(app)
    _run([_tool("pg_dump"), "--format=custom", f"--schema={schema}", "--no-owner", "--no-privileges",
          f"--file={partial}"], env, "pg_dump")
    listing = _run([_tool("pg_restore"), "--list", str(partial)], env, "Reading the dump back")
    tables = sum(1 for line in listing.splitlines() if " TABLE DATA " in line)
    return f"schema {schema}, {tables} table(s) of data"


def _restore_postgres(app: Flask, source: Path) -> str:
    with open(source, "rb") as handle:
        if handle.read(5) != b"PGDMP":
            raise BackupError(f"{source} is not a pg_dump archive (custom format); is it an SQLite backup?")
    env = _pg_env(app)
    if not env.get("PGDATABASE"):
        raise BackupError("The database URL names no database to restore into.")
    _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--dbname={env['PGDATABASE']}", str(source)], env, "pg_restore")
    return f"into schema {_schema(app)}"
