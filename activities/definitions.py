"""Published definition bodies, looked up by their immutable version."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from activities.contracts import DefinitionRef
from engine.definitions import compile_text
from oms.db import session_scope
from oms.models import DefinitionVersion

_BODIES: dict[str, str] = {}


def compiled(ref: DefinitionRef) -> Any:
    """The compiled model of a published version; bodies never change, so cache by hash."""
    body = _BODIES.get(ref.sha256)
    if body is None:
        with session_scope() as session:
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
