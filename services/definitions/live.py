"""The live version of every definition, read from the database once per publish.

Intake looks up a channel, a flow, its form and its rule sets for every order.
Published versions are immutable and numbered by an ever-growing id, so the
largest id tells whether anything was published since the last look: one
indexed query per order instead of one per definition, and the next order
after a publish (by any process sharing the database) sees the new version.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from engine.definitions import parse_published
from oms.models import DefinitionVersion
from services.errors import NotFound


@dataclass(frozen=True)
class LiveDefinition:
    """What intake needs of a published version; `ref()` accepts it like a row."""

    kind: str
    name: str
    version: int
    sha256: str
    body: str

    @property
    def model(self) -> Any:
        return parse_published(self.body)


class LiveDefinitions:
    """A snapshot of the live versions: ``get(kind, name)`` or None."""

    def __init__(self, stamp: int | None, rows: dict[tuple[str, str], LiveDefinition]):
        self.stamp = stamp
        self._rows = rows

    def get(self, kind: str, name: str) -> LiveDefinition | None:
        return self._rows.get((kind, name))

    def require(self, kind: str, name: str) -> LiveDefinition:
        """The live version of a definition another one names (a flow's form, its rule sets): publishing
        checked the reference, and published versions stay; ``NotFound`` if it is not there all the same."""
        row = self._rows.get((kind, name))
        if row is None:
            raise NotFound(f"{kind}_missing", f"no live {kind} {name!r}", retryable=True)
        return row

    def names(self, kind: str) -> list[str]:
        return sorted(name for k, name in self._rows if k == kind)


_lock = threading.Lock()
_snapshots: dict[str, LiveDefinitions] = {}


def live_definitions(session: Session) -> LiveDefinitions:
    """The live versions as ``session`` sees them, reloaded only after a publish."""
    stamp = session.exec(select(func.max(DefinitionVersion.id))).one()
    key = str(session.get_bind().engine.url)
    snapshot = _snapshots.get(key)
    if snapshot is not None and snapshot.stamp == stamp:
        return snapshot
    newest = (
        select(DefinitionVersion.kind, DefinitionVersion.name, func.max(DefinitionVersion.version).label("version"))
        .group_by(DefinitionVersion.kind, DefinitionVersion.name)
        .subquery()
    )
    query = select(DefinitionVersion).join(
        newest,
        and_(
            col(DefinitionVersion.kind) == newest.c.kind,
            col(DefinitionVersion.name) == newest.c.name,
            col(DefinitionVersion.version) == newest.c.version,
        ),
    )
    rows = {
        (row.kind, row.name): LiveDefinition(row.kind, row.name, row.version, row.sha256, row.body)
        for row in session.exec(query).all()
    }
    snapshot = LiveDefinitions(stamp, rows)
    with _lock:
        current = _snapshots.get(key)
        if current is None or (current.stamp or 0) <= (stamp or 0):
            _snapshots[key] = snapshot
    return snapshot
