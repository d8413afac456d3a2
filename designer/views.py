"""What the designer's pages show: list rows, the editor's context and its live fragments."""

from __future__ import annotations

import json
from dataclasses import dataclass

from fastapi import Request
from sqlmodel import Session, select

from designer.api import check_view
from engine.definitions import KINDS, Source, load
from engine.diagram import Layout, layout_flow
from engine.schemas import schema_for
from oms.models import DefinitionVersion
from services.definitions.publishing import validate, versions_of
from services.definitions.whatif import DEFAULT_LAST, version_use
from web.deps import CurrentUser
from web.pages.rendering import TEMPLATES

EDITING_ROLES = ("analyst", "admin")

NEW_TEMPLATES = {
    "rules": (
        "kind: rules\nname: new_rules\ntitle: New rule set\nhit_policy: collect\ndefault: approve\n\nrules:\n"
        '  - id: big_order\n    when: "order.total > 1000"\n    action: review\n'
        '    reason: "order of {{ order.total }}"\n\ntests:\n  - name: a big order is held\n'
        "    order: {total: 1500}\n    expect: {action: review, fired: [big_order]}\n"
    ),
    "flow": (
        "kind: flow\nname: new_flow\ntitle: New flow\nform: order\nstart: audit\n\nsteps:\n"
        "  - id: audit\n    type: audit\n    rules: order_audit\n    on: {approve: done, review: done, reject: done}\n"
        "  - id: done\n    type: end\n    status: completed\n"
    ),
}


def can_edit(user: CurrentUser | None) -> bool:
    return user is not None and user.has(*EDITING_ROLES)


@dataclass(frozen=True)
class ListRow:
    kind: str
    name: str
    title: str
    live: DefinitionVersion
    versions: int
    orders: int | None  # on the live version; None: not recorded per order for this kind
    running: int | None
    all_orders: int | None  # on every version


def _title(body: str) -> str:
    raw = load(body).raw
    return str(raw.get("title") or "") if isinstance(raw, dict) else ""


def list_rows(session: Session) -> list[ListRow]:
    rows = session.exec(
        select(DefinitionVersion).order_by(DefinitionVersion.kind, DefinitionVersion.name, DefinitionVersion.version)
    ).all()
    live: dict[tuple[str, str], DefinitionVersion] = {}
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        live[(row.kind, row.name)] = row
        counts[(row.kind, row.name)] = counts.get((row.kind, row.name), 0) + 1
    use = version_use(session)
    out = []
    for (kind, name), row in live.items():
        counted = kind in ("flow", "rules")
        on_live = use.get((kind, name, row.version))
        every = sum(u.orders for (k, n, _), u in use.items() if k == kind and n == name)
        out.append(
            ListRow(
                kind,
                name,
                _title(row.body),
                row,
                counts[(kind, name)],
                (on_live.orders if on_live else 0) if counted else None,
                (on_live.running if on_live else 0) if kind == "flow" else None,
                every if counted else None,
            )
        )
    return out


def diagram_of(source: Source) -> Layout | None:
    if source.kind != "flow" or not isinstance(source.raw, dict):
        return None
    layout = layout_flow(source.raw)
    return layout if layout.nodes else None


def fragments(source: Source, view: dict) -> dict:
    """The editor's live parts as HTML (escaped by the templates): problems, tests, diagram."""
    layout = diagram_of(source)
    return {
        "problems_html": TEMPLATES.get_template("pages/definition_problems.html").render(check=view),
        "tests_html": TEMPLATES.get_template("pages/definition_tests.html").render(check=view),
        "diagram_html": TEMPLATES.get_template("pages/definition_diagram.html").render(
            layout=layout, name=source.name or ""
        )
        if source.kind == "flow"
        else None,
    }


def editor_context(
    request: Request,
    session: Session,
    user: CurrentUser,
    kind: str,
    name: str | None,
    text: str,
    check: bool = True,
    note: str = "",
    last: str | int = DEFAULT_LAST,
) -> dict:
    """Everything the editor page shows for ``text``: its checks, tests, diagram, the live version."""
    source = validate(session, text)
    view = check_view(source) if check else None
    kind = source.kind if source.kind in KINDS else kind
    name = name or source.name
    versions = versions_of(session, kind, name) if name else []
    try:
        schema = json.dumps(schema_for(kind))
    except (OSError, ValueError):
        schema = ""
    return {
        "nav": "definitions",
        "kind": kind,
        "name": name,
        "text": text,
        "check": view,
        "note": note,
        "last": last,
        "live": versions[0] if versions else None,
        "version_count": len(versions),
        "can_edit": can_edit(user),
        "layout": diagram_of(source) if kind == "flow" else None,
        "schema_json": schema.replace("</", "<\\/"),
        "whatif": None,
        "whatif_error": "",
        "refused": "",
        "is_new": not versions,
        "draft": None,
    }
