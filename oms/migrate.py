"""Schema migrations (Alembic), run by `oms web` and `oms up` before anything else.

A database made before migrations existed (by the release whose schema is
the baseline revision) is recognised by its tables and stamped with that
revision first, so upgrading keeps its data. Workers do not migrate: they
wait until the web process has brought the schema to the current revision.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect
from sqlalchemy.engine import Engine

from oms.settings import get_settings

log = logging.getLogger("oms.migrate")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The schema of the last release that created its tables without Alembic.
BASELINE = "0001"


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    return ScriptDirectory.from_config(_config(None)).get_current_head()  # type: ignore[arg-type]


def migration_engine(url: str | None = None) -> Engine:
    """A plain engine: SQLite's table copies need foreign keys unenforced, as they are by default."""
    return create_engine(url or get_settings().db_url)


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str | None = None) -> tuple[str | None, str]:
    """Bring the database to the newest revision: (revision before, revision after)."""
    engine = migration_engine(url)
    try:
        with engine.begin() as connection:
            before = current_revision(connection)
            config = _config(connection)
            if before is None and inspect(connection).has_table("orders"):
                log.info("database from before migrations: stamping it as revision %s", BASELINE)
                command.stamp(config, BASELINE)
                before = BASELINE
            command.upgrade(config, "head")
            after = current_revision(connection)
    finally:
        engine.dispose()
    if before != after:
        log.info("database migrated from %s to %s", before or "empty", after)
    return before, after


def wait_until_current(timeout: float = 120, url: str | None = None) -> None:
    """Block until the database is at the newest revision (the web process migrates it)."""
    wanted = head()
    engine = migration_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as connection:
                found = current_revision(connection)
            if found == wanted:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the database is at schema revision {found or 'none'}, this version needs {wanted}: "
                    f"start `oms web` (it migrates) or run `oms migrate`"
                )
            time.sleep(1)
    finally:
        engine.dispose()
