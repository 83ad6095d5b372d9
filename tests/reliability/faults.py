"""Database faults on demand, for the Flask app under test.

``DatabaseFaults`` arms a one-shot fault at a chosen point of the next matching database
call: before a statement whose SQL starts with a given word and names a given table, or at
COMMIT. On PostgreSQL the fault is real: the backend serving the connection is terminated
(``pg_terminate_backend``) so the driver itself fails; on SQLite, which has no server to lose,
the driver's own ``OperationalError`` is raised at that point.
"""
from __future__ import annotations

import sqlite3

from sqlalchemy import create_engine, event, text

from engine import db


class DatabaseFaults:
    def __init__(self, app):
        self.engine = db.engine_for(app)
        self.postgres = self.engine.dialect.name == "postgresql"
        self.armed: tuple[str, str] | None = None
        self.fired = 0
        self._admin = create_engine(self.engine.url) if self.postgres else None
        if self.postgres:
            event.listen(self.engine, "before_cursor_execute", self._before_statement)
            event.listen(self.engine, "commit", self._before_commit)
        else:
            # Inside SQLAlchemy's error handling, as a real driver error would be.
            event.listen(self.engine.dialect, "do_execute", self._sqlite_execute)
            self._real_commit = self.engine.dialect.do_commit
            self.engine.dialect.do_commit = self._sqlite_commit

    def arm_rollback(self) -> None:
        """Fail the next ROLLBACK as a dead connection does (e.g. closing the request's session
        after the answer was made)."""
        real = self.engine.dialect.do_rollback
        error = sqlite3.OperationalError if not self.postgres else __import__("psycopg").OperationalError

        def failing(dbapi_connection):
            self.engine.dialect.do_rollback = real
            self._spend()
            real(dbapi_connection)  # the transaction really ends; only the report of it fails
            raise error("server closed the connection unexpectedly (injected)")
        self.engine.dialect.do_rollback = failing

    def arm(self, verb: str, table: str = "") -> None:
        """Fail the next statement starting with ``verb`` (e.g. INSERT) that names ``table``;
        ``arm("COMMIT")`` fails the next commit."""
        self.armed = (verb.upper(), table.lower())

    def close(self) -> None:
        if self.postgres:
            event.remove(self.engine, "before_cursor_execute", self._before_statement)
            event.remove(self.engine, "commit", self._before_commit)
            self._admin.dispose()
        else:
            event.remove(self.engine.dialect, "do_execute", self._sqlite_execute)
            self.engine.dialect.do_commit = self._real_commit

    def _matches(self, statement: str) -> bool:
        if self.armed is None or self.armed[0] == "COMMIT":
            return False
        verb, table = self.armed
        sql = statement.lstrip().upper()
        return sql.startswith(verb) and table.upper() in sql

    # --- SQLite: the driver's own error at that point ----------------------------------------
    def _sqlite_execute(self, _cursor, statement, _parameters, _context):
        if self._matches(statement):
            self._spend()
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return False

    def _sqlite_commit(self, dbapi_connection):
        if self.armed is not None and self.armed[0] == "COMMIT":
            self._spend()
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return self._real_commit(dbapi_connection)

    # --- PostgreSQL: the backend really goes away ------------------------------------------------
    def _before_statement(self, connection, _cursor, statement, *_args):
        if self._matches(statement):
            self._terminate(connection)

    def _before_commit(self, connection):
        if self.armed is not None and self.armed[0] == "COMMIT":
            self._terminate(connection)

    def _terminate(self, connection) -> None:
        self._spend()
        pid = connection.connection.dbapi_connection.info.backend_pid
        with self._admin.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.commit()
        # The statement now runs on a dead connection and the driver itself fails.

    def _spend(self) -> None:
        self.armed = None
        self.fired += 1
