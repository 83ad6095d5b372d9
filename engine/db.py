"""Database engine and sessions: one engine per app, one session per request.

SQLite is tuned for answers that must survive a crash (WAL, ``synchronous=FULL``) and for
several writer processes (``BEGIN IMMEDIATE`` for write transactions, a busy timeout), so a
writer waits its turn at the start instead of failing half-way. PostgreSQL keeps its
defaults (``synchronous_commit=on``).
"""
from __future__ import annotations

import contextlib
import contextvars
import weakref
from collections.abc import Iterator

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
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
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, pool_recycle=1800)


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
    app.extensions[EXTENSION_KEY] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_request_session)


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
    if db_session is not None:
        try:
            db_session.close()
        except DBAPIError:
            # The connection died after the response was made (a restart, a terminated
            # backend): what was committed stays committed, the pool drops the connection,
            # and the answer already made must still reach the browser (not a 500).
            current_app.logger.warning("database connection lost while closing a request's session")


@contextlib.contextmanager
def writing(db_session: Session) -> Iterator[Session]:
    """Run the block in one short write transaction, committed at the end or rolled back.

    Any transaction already open on the session (from earlier reads) is ended first, so the
    write lock is taken at the start of this block and released when it ends. On SQLite the
    writers queue for it (engine/write_turn.py) rather than retry in SQLite's busy handler.
    """
    if db_session.in_transaction():
        db_session.commit()
    turn = _turns.get(db_session.get_bind())
    token = _write_intent.set(True)
    try:
        with turn.taken() if turn is not None else contextlib.nullcontext(), db_session.begin():
            yield db_session
    finally:
        _write_intent.reset(token)


def is_sqlite(db_session: Session) -> bool:
    return db_session.get_bind().dialect.name == "sqlite"
