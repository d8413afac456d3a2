"""Database engine and sessions, for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from oms import models  # noqa: F401  (registers the tables)
from oms.settings import get_settings


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 60}, pool_size=20, max_overflow=30
        )
        _sqlite_immediate_transactions(engine)
        return engine
    # Enough connections for every activity thread of a worker and the web app's requests.
    return create_engine(url, pool_size=20, max_overflow=30, pool_pre_ping=True)


def _sqlite_immediate_transactions(engine: Engine) -> None:
    """Take SQLite's write lock at BEGIN so concurrent writers queue instead of failing.

    pysqlite's own transaction handling defers the lock to the first write,
    where two writers deadlock and one gets "database is locked". Read-only
    sessions (``read_engine``) begin deferred so they never block writers.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if not connection.get_execution_options().get("sqlite_write", True):
            connection.exec_driver_sql("BEGIN")
            return
        _begin_immediate(connection.connection.dbapi_connection)


def _begin_immediate(dbapi_connection, patience: float = 60.0) -> None:
    """Take the write lock, asking again every millisecond or two while another process holds it.

    SQLite's own busy handler sleeps in growing steps (1, 2, 5 ... 100 ms) between
    attempts, so a writer that meets the worker's lock a few times in a row waits
    far longer than the lock is held; under load that is seconds for intake.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    try:
        delay, deadline = 0.0002, time.monotonic() + patience
        while True:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.002)
    finally:
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()


def get_engine() -> Engine:
    return engine_for(get_settings().db_url)


def get_read_engine() -> Engine:
    """The same pool, for sessions that only read (web pages and lists).

    SQLite: a deferred BEGIN, which never waits for the write lock. PostgreSQL: autocommit, which
    spares the BEGIN and ROLLBACK round trips of every read; at READ COMMITTED each statement
    reads its own snapshot either way. Nothing written in such a session would be kept safely:
    writes go through ``session_scope``."""
    engine = get_engine()
    if engine.dialect.name == "sqlite":
        return engine.execution_options(sqlite_write=False)
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def create_tables(engine: Engine | None = None) -> None:
    SQLModel.metadata.create_all(engine or get_engine())


# SQLite has one writer at a time. Threads of one process queue here, in
# order and woken the moment the lock is free, instead of in SQLite's busy
# handler, which sleeps in growing steps (up to 100 ms) between attempts.
_SQLITE_WRITER = threading.RLock()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    engine = get_engine()
    with (
        _SQLITE_WRITER if engine.dialect.name == "sqlite" else nullcontext(),
        Session(engine, expire_on_commit=False) as session,
    ):
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
