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
from sqlmodel import Session, select

from engine.definitions import compile_text
from oms.models import DefinitionVersion


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
        return compile_text(self.body)


class LiveDefinitions:
    """A snapshot of the live versions: ``get(kind, name)`` or None."""

    def __init__(self, stamp: int | None, rows: dict[tuple[str, str], LiveDefinition]):
        self.stamp = stamp
        self._rows = rows

    def get(self, kind: str, name: str) -> LiveDefinition | None:
        return self._rows.get((kind, name))

    def names(self, kind: str) -> list[str]:
        return sorted(name for k, name in self._rows if k == kind)


_lock = threading.Lock()
_snapshots: dict[str, LiveDefinitions] = {}


def live_definitions(session: Session) -> LiveDefinitions:
    """The live versions as ``session`` sees them, reloaded only after a publish."""
    stamp = session.exec(select(func.max(DefinitionVersion.id))).one()
    key = str(session.get_bind().url)
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
            DefinitionVersion.kind == newest.c.kind,
            DefinitionVersion.name == newest.c.name,
            DefinitionVersion.version == newest.c.version,
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
