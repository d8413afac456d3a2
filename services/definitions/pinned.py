"""Published definition bodies, looked up by their immutable version, and the pin set of an order.

Intake pins every definition an order (or return) will use: ``pin_set`` builds
the references once from the live versions; they travel in the workflow input
and are stored on the order's row, where activities and printing resolve them
with ``pinned_model``. Orders taken before pinning have no pins and read the
live version, as they always did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, select

from engine.definitions import parse_published
from engine.flows import Flow
from engine.lru import Lru
from engine.pins import definitions_used
from oms.db import get_read_engine
from oms.models import DefinitionVersion
from services.definitions.live import LiveDefinitions
from services.definitions.publishing import latest, ref
from workflows.contracts import DefinitionRef

# Documents printed per order (web/printing.py): pinned with the order like its notifications.
ORDER_DOCUMENTS = ("shipping_label", "packing_slip")

_BODIES: Lru[str, str] = Lru(1024)  # pinned texts by hash: bounded


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
        body = _BODIES.put(ref.sha256, row.body)
    return parse_published(body)


def live_model(session: Session, kind: str, name: str) -> tuple[Any, int | None]:
    """The compiled live version of a reference definition, and its version number."""
    row = latest(session, kind, name)
    if row is None:
        return None, None
    if row.sha256 not in _BODIES:
        _BODIES.put(row.sha256, row.body)
    return parse_published(row.body), row.version


def pin_set(live: LiveDefinitions, flow: Flow, also: Sequence[tuple[str, str]] = ()) -> list[DefinitionRef]:
    """References to the live version of every definition ``flow`` uses, and of ``also``.

    A definition that is not published (a notification template nobody wrote) is not pinned; the
    order then behaves as if it did not exist, whatever is published later.
    """
    seen: set[tuple[str, str]] = set()
    pins = []
    for kind, name in [*definitions_used(flow), *also]:
        row = live.get(kind, name)
        if row is not None and (kind, name) not in seen:
            seen.add((kind, name))
            pins.append(ref(row))
    return pins


def pinned_model(session: Session, pins: list[dict[str, Any]], kind: str, name: str) -> tuple[Any, int | None]:
    """The compiled version of (kind, name) that ``pins`` (an order's or return's) holds, and its number.

    ``(None, None)`` when the pin set has none; with no pins at all (taken before pinning) the live one.
    """
    if not pins:
        return live_model(session, kind, name)
    for pin in pins:
        if pin["kind"] == kind and pin["name"] == name:
            return compiled(DefinitionRef(**pin)), int(pin["version"])
    return None, None
