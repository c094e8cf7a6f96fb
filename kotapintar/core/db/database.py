"""Engine and transactions: one place that knows the difference between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import sessionmaker

from kotapintar.core.db.uow import UnitOfWork


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
    """The application's handle on its database: opens units of work (write) and read sessions."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._write = sessionmaker(bind=self.engine, expire_on_commit=False, autoflush=False)
        self._read = sessionmaker(
            bind=self.engine.execution_options(kp_readonly=True), expire_on_commit=False, autoflush=False
        )

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
        session = self._read()
        try:
            yield UnitOfWork(session, dialect=self.engine.dialect.name)
        finally:
            # close() (not rollback()) ends the read transaction but keeps loaded objects usable.
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
