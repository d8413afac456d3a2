"""Make a database ready: tables, dev users, shipped definitions, demo data."""

from __future__ import annotations

import logging

from sqlmodel import select

from oms.auth import ensure_dev_users
from oms.db import create_tables, session_scope
from oms.models import DefinitionVersion
from oms.publishing import definition_files, publish_files
from oms.seed import seed_demo
from oms.settings import get_settings

log = logging.getLogger("oms.bootstrap")


def prepare(seed: bool) -> dict:
    """Idempotent: safe on every start of `oms up` and `oms web`."""
    settings = get_settings()
    create_tables()
    report = {"users": [], "published": [], "seeded": False}
    with session_scope() as session:
        if settings.dev_mode:
            report["users"] = ensure_dev_users(session)
    with session_scope() as session:
        # Shipped definitions are published once; later edits are the analysts'.
        if session.exec(select(DefinitionVersion.id).limit(1)).first() is None:
            files = definition_files([settings.definitions_dir])
            report["published"] = [
                f"{p.row.kind}/{p.row.name} v{p.row.version}" for p in publish_files(session, files, author="system")
            ]
    if seed and settings.dev_mode:
        with session_scope() as session:
            report["seeded"] = seed_demo(session)
    return report
