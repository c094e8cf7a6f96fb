"""Engine and transactions: one place that knows the difference between SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from kotapintar.core.db.replica import Replica
from kotapintar.core.db.uow import UnitOfWork

REPLICA_CONNECT_TIMEOUT_S = 2  # a replica host that does not answer must not hold a request for long


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine tuned for the URL: SQLite gets WAL, foreign keys and writer-first transactions."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _tune_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _tune_sqlite(engine: Engine) -> None:
    """WAL + foreign keys, and BEGIN IMMEDIATE for write transactions.

    pysqlite opens transactions lazily, which lets two writers both read and then dead-lock on the
    upgrade to a write lock. Taking the write lock at BEGIN makes concurrent commands queue instead.
    Read-only sessions (execution option `kp_readonly`) use a plain deferred BEGIN so they never block.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get("kp_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


class Database:
    """The application's handle on its database: opens units of work (write) and read sessions.

    With a `read_url` (a streaming replica of `url`, issue 19) it also holds the replica; `replica_reads()`
    gives the same handle with `reading()` served by the replica whenever it is usable. Units of work
    (`transaction()`) always run on the primary.
    """

    def __init__(
        self,
        url: str,
        read_url: str | None = None,
        *,
        replica_max_lag_s: float = 5.0,
        replica_check_s: float = 1.0,
        **engine_kwargs: Any,
    ) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._write = sessionmaker(bind=self.engine, expire_on_commit=False, autoflush=False)
        self._read = sessionmaker(
            bind=self.engine.execution_options(kp_readonly=True), expire_on_commit=False, autoflush=False
        )
        self.replica: Replica | None = None
        self._on_replica = False
        self._replica_view: Database = self
        if read_url and read_url != url:
            replica_kwargs: dict[str, Any] = {}
            if not read_url.startswith("sqlite"):
                replica_kwargs["connect_args"] = {"connect_timeout": REPLICA_CONNECT_TIMEOUT_S}
            self.replica = Replica(
                make_engine(read_url, **replica_kwargs),
                self.engine,
                max_lag_s=replica_max_lag_s,
                check_s=replica_check_s,
            )
            view = copy.copy(self)  # shares the engines and the primary's sessionmakers
            view._on_replica, view._replica_view = True, view
            self._replica_view = view

    def replica_reads(self) -> Database:
        """This database with its read sessions on the replica while it is usable (itself without one).

        For read-only requests that may be a moment behind (public portal, open data, analytics): see
        `core.http.deps.read_db` for who gets it.
        """
        return self._replica_view

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        """One command = one transaction: commits on success, rolls back on any exception."""
        session = self._write()
        try:
            uow = UnitOfWork(session, dialect=self.engine.dialect.name)
            yield uow
            uow.before_commit()
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[UnitOfWork]:
        """A read-only view for queries; nothing it does is committed."""
        session = self._read_session()
        try:
            yield UnitOfWork(session, dialect=self.engine.dialect.name)
        finally:
            # close() (not rollback()) ends the read transaction but keeps loaded objects usable.
            session.close()

    def _read_session(self) -> Session:
        if self._on_replica and self.replica is not None:
            session = self.replica.open_session()
            if session is not None:
                return session
        return self._read()

    def dispose(self) -> None:
        """Close every pooled connection (the replica's too)."""
        self.engine.dispose()
        if self.replica is not None:
            self.replica.engine.dispose()
