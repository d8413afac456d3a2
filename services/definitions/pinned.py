"""Published definition bodies, looked up by their immutable version."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from engine.definitions import compile_text
from oms.db import get_read_engine
from oms.models import DefinitionVersion
from services.definitions.publishing import latest
from workflows.contracts import DefinitionRef

_BODIES: dict[str, str] = {}


def compiled(ref: DefinitionRef) -> Any:
    """The compiled model of a published version; bodies never change, so cache by hash."""
    body = _BODIES.get(ref.sha256)
    if body is None:
        with Session(get_read_engine()) as session:
            row = session.exec(
                select(DefinitionVersion).where(
                    DefinitionVersion.kind == ref.kind,
                    DefinitionVersion.name == ref.name,
                    DefinitionVersion.version == ref.version,
                )
            ).one()
        if row.sha256 != ref.sha256:
            raise RuntimeError(f"{ref.kind} {ref.name} v{ref.version} does not match its hash")
        body = _BODIES[ref.sha256] = row.body
    return compile_text(body)


def live_model(session: Session, kind: str, name: str) -> tuple[Any, int | None]:
    """The compiled live version of a reference definition, and its version number."""
    row = latest(session, kind, name)
    if row is None:
        return None, None
    _BODIES.setdefault(row.sha256, row.body)
    return compile_text(row.body), row.version
