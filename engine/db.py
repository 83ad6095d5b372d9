"""Database engine and sessions: one engine per app, one session per request.

SQLite is tuned for answers that must survive a crash (WAL, ``synchronous=FULL``) and for
several writer processes (``BEGIN IMMEDIATE`` for write transactions, a busy timeout), so a
writer waits its turn at the start instead of failing half-way. PostgreSQL keeps its
defaults (``synchronous_commit=on``).
"""
from __future__ import annotations

import contextlib
import contextvars
import time
import weakref
from collections.abc import Iterator

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from engine.write_turn import WriteTurn, turn_path

EXTENSION_KEY = "onscreen.db"

# Set while a block of code intends to write, so SQLite's BEGIN takes the write lock up
# front. Readers keep plain (deferred) transactions and never block writers in WAL mode.
_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("onscreen_write_intent", default=False)

#: SQLite engines -> the queue their writers take turns in (engine/write_turn.py).
_turns: weakref.WeakKeyDictionary[Engine, WriteTurn] = weakref.WeakKeyDictionary()


def make_engine(url: str) -> Engine:
    """Create the engine for ``url`` with the settings onscreen relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _tune_sqlite(engine)
        _turns[engine] = WriteTurn(turn_path(engine.url.database))
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_recycle=1800)
    _ping_idle_connections(engine)
    return engine


#: A pooled connection unused for longer than this is asked ``SELECT 1`` before it is handed
#: out (PgBouncer's ``server_check_delay`` does the same, at 30 s).
IDLE_PING_SECONDS = 5.0


def _ping(dbapi_connection) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    dbapi_connection.commit()  # a COMMIT, not a ROLLBACK: see end_read


def _ping_idle_connections(engine: Engine) -> None:
    """Replace a dead pooled connection before use, at no cost under load.

    ``pool_pre_ping`` asked ``SELECT 1`` at every checkout, two or three round trips a request
    (about a tenth of the app's CPU per item page on PostgreSQL, docs/performance.md). A
    connection handed back moments ago is as alive as the ping would find it, and under load
    every connection is; one that sat idle (overnight, or through a restart of PostgreSQL while
    the room was quiet) is pinged, and replaced if the ping fails. A connection that dies while
    busy fails its request as before: SQLAlchemy then renews the whole pool, the candidate sees
    the clean "database away" answer, and the page's retry is acknowledged."""
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy):
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            _ping(dbapi_connection)
        except Exception as error:  # the driver's own error, whatever the failure
            # The pool discards this connection and tries a new one (up to three times).
            idle = time.monotonic() - idle_since
            raise DisconnectionError(f"pooled connection idle {idle:.0f} s failed its ping") from error


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # pysqlite's own transaction handling would BEGIN lazily and DEFERRED; take it over.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection, _record):
        # A COMMIT that fails (SQLITE_BUSY, an I/O error) can leave SQLite's transaction open
        # while SQLAlchemy counts it as over; the pooled connection would then refuse every
        # later BEGIN. Never pool a connection inside a transaction.
        if dbapi_connection is not None and dbapi_connection.in_transaction:
            dbapi_connection.rollback()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    maker = sessionmaker(engine, expire_on_commit=False)
    _track_unsaved_writes(maker)
    app.extensions[EXTENSION_KEY] = maker
    app.teardown_appcontext(_close_request_session)


def _track_unsaved_writes(maker: sessionmaker) -> None:
    """Mark a session whose open transaction holds flushed changes (``end_read`` rolls those
    back). Every write of onscreen's is flushed and committed inside ``writing``."""
    @event.listens_for(maker, "after_flush")
    def _flushed(db_session, _context):
        db_session.info["flushed"] = True

    @event.listens_for(maker, "after_transaction_end")
    def _ended(db_session, transaction):
        if transaction.parent is None:
            db_session.info.pop("flushed", None)


def end_read(db_session: Session) -> None:
    """End the session's transaction: COMMIT when it only read, else ROLLBACK.

    The same to the data, not to the driver: psycopg forgets every prepared statement at a
    ROLLBACK (and deallocates them on the server), so ending each request's reads with one kept
    PostgreSQL parsing and planning every statement afresh; it used four times the database's
    CPU per item page (docs/performance.md, session 14). A transaction with changes that were
    not committed (which onscreen does not make) is still rolled back."""
    if not db_session.in_transaction():
        return
    if db_session.info.get("flushed") or db_session.new or db_session.dirty or db_session.deleted:
        db_session.rollback()
    else:
        db_session.commit()


def engine_for(app: Flask) -> Engine:
    return app.extensions[EXTENSION_KEY].kw["bind"]


def new_session(app: Flask | None = None) -> Session:
    """A session outside a request (CLI, sweeper, tests); the caller closes it."""
    return (app or current_app).extensions[EXTENSION_KEY]()


def session() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = new_session()
    return g.db_session


def _close_request_session(_exc):
    db_session = g.pop("db_session", None)
    if db_session is None:
        return
    # The connection may die after the response was made (a restart, a terminated backend):
    # what was committed stays committed, the pool drops the connection, and the answer
    # already made must still reach the browser (not a 500).
    try:
        if _exc is None:
            end_read(db_session)
    except DBAPIError:
        current_app.logger.warning("database connection lost while ending a request's reads")
    finally:
        try:
            db_session.close()
        except DBAPIError:
            current_app.logger.warning("database connection lost while closing a request's session")


@contextlib.contextmanager
def writing(db_session: Session) -> Iterator[Session]:
    """Run the block in one short write transaction, committed at the end or rolled back.

    On SQLite any transaction already open on the session (from earlier reads) is ended first,
    so the write lock is taken at the start of this block and released when it ends, and the
    writers queue for it (engine/write_turn.py) rather than retry in SQLite's busy handler.
    PostgreSQL has no such lock: its rows are locked by the statements that change them, so the
    block carries on the transaction of the request's reads, two round trips (COMMIT, BEGIN)
    fewer for every save.
    """
    turn = _turns.get(db_session.get_bind())
    if turn is None and db_session.in_transaction():
        try:
            yield db_session
            db_session.commit()
        except BaseException:
            db_session.rollback()  # also after a failed COMMIT, as db_session.begin() does
            raise
        return
    if db_session.in_transaction():
        db_session.commit()
    token = _write_intent.set(True)
    try:
        with turn.taken() if turn is not None else contextlib.nullcontext(), db_session.begin():
            yield db_session
    finally:
        _write_intent.reset(token)


def is_sqlite(db_session: Session) -> bool:
    return db_session.get_bind().dialect.name == "sqlite"
