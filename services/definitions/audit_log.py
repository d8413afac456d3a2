"""The publish log: every published version and every migration of waiting instances between versions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from oms.models import FlowMigration
from services.definitions.migration_runs import migrations
from services.definitions.publishing import LogEntry, publish_log


@dataclass(frozen=True)
class AuditLog:
    publishes: list[LogEntry]
    migrations: list[FlowMigration]  # newest first, each with its plan (counts) and result


def audit_log(session: Session, limit: int = 100, kind: str | None = None, name: str | None = None) -> AuditLog:
    """The newest ``limit`` publishes and migrations; migrations move flows, so another kind lists none."""
    moved = migrations(session, limit, name) if kind in (None, "", "flow") else []
    return AuditLog(publish_log(session, limit, kind, name), moved)
