"""Make a database ready: tables, dev users, shipped definitions, demo data."""

from __future__ import annotations

import logging

from oms import migrate
from oms.auth import ensure_dev_users
from oms.db import session_scope
from oms.seed import seed_demo
from oms.settings import get_settings
from services import analytics
from services.definitions.publishing import (
    definition_files,
    known_definitions,
    publish_files,
)

log = logging.getLogger("oms.bootstrap")


def prepare(seed: bool) -> dict:
    """Idempotent: safe on every start of `oms up` (``seed``: dev users, demo data) and `oms web`."""
    settings = get_settings()
    migrate.upgrade()
    # Orders of the release before migrations have no dashboard counters yet, and a release that
    # counted otherwise kept other counters: count them afresh from the orders' timelines.
    with session_scope() as session:
        rebuilt = analytics.ensure_current(session)
    if rebuilt is not None:
        log.info("dashboard counters rebuilt from the orders' timelines: %d counters", rebuilt)
    report = {"users": [], "published": [], "seeded": False}
    if seed and settings.dev_mode:
        # Only the embedded dev stack (`oms up`) has dev users; everyone else is added with `oms users add`.
        with session_scope() as session:
            report["users"] = ensure_dev_users(session)
    with session_scope() as session:
        # Each shipped definition is published once, when first seen (a new version of the
        # product may ship new ones); later versions of it are the analysts' to publish.
        files = definition_files([settings.definitions_dir])
        published = publish_files(session, files, author="system", skip=known_definitions(session))
        report["published"] = [f"{p.row.kind}/{p.row.name} v{p.row.version}" for p in published]
    if seed and settings.dev_mode:
        with session_scope() as session:
            report["seeded"] = seed_demo(session)
    return report
