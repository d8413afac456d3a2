"""What the designer's pages show: list rows, the editor's context and its live fragments."""

from __future__ import annotations

import json
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import func
from sqlmodel import Session, col, select

from designer.api import check_view
from engine.definitions import KINDS, Source, content_hash, load
from engine.diagram import Layout, layout_flow
from engine.diff import change_counts, diff_lines
from engine.schemas import schema_for
from engine.sourcemap import stored_cases
from oms.models import DefinitionVersion, OrderEvent, Return, ReturnEvent
from services.definitions.publishing import latest, validate, versions_of
from services.definitions.whatif import DEFAULT_LAST, version_use
from services.orders.search import find_order
from web.deps import CurrentUser
from web.i18n import gettext
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
    counts: str = "orders"  # what the numbers count: a return flow counts its returns


@dataclass(frozen=True)
class Use:
    """How many orders (or returns) started on one version, and how many of them still run."""

    orders: int = 0
    running: int = 0


def serves_returns(body: str) -> bool:
    raw = load(body).raw
    return isinstance(raw, dict) and raw.get("kind") == "flow" and raw.get("serves") == "return"


def return_use(session: Session) -> dict[tuple[str, str, int], Use]:
    """("flow", name, version) -> returns started on it; one still runs until it is closed."""
    rows = session.exec(
        select(Return.flow_name, Return.flow_version, func.count(), func.count(col(Return.closed_at))).group_by(
            col(Return.flow_name), col(Return.flow_version)
        )
    ).all()
    return {("flow", name, version): Use(total, total - closed) for name, version, total, closed in rows}


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
    orders_use = version_use(session)
    returns_use = return_use(session)
    out = []
    for (kind, name), row in live.items():
        counted = kind in ("flow", "rules")
        returns = kind == "flow" and serves_returns(row.body)
        use: dict = returns_use if returns else orders_use
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
                "returns" if returns else "orders",
            )
        )
    return out


def diagram_of(source: Source) -> Layout | None:
    if source.kind != "flow" or not isinstance(source.raw, dict):
        return None
    layout = layout_flow(source.raw)
    return layout if layout.nodes else None


def with_cases_not_run(source: Source, view: dict) -> dict:
    """The check's view plus the stored test cases that did not run because of other problems.

    Test cases run only once everything else passes; until then the test panel
    still lists them (read from the text, even one that does not parse), each
    marked as not run, instead of saying there are none.
    """
    if view.get("tests") or not source.errors:
        return {**view, "not_run": []}
    return {**view, "not_run": [{"name": name, "line": line} for name, line in stored_cases(source.text)]}


def fragments(source: Source, view: dict) -> dict:
    """The editor's live parts as HTML (escaped by the templates): problems, tests, diagram."""
    layout = diagram_of(source)
    view = with_cases_not_run(source, view)
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
    view = with_cases_not_run(source, check_view(source)) if check else None
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
        "confirm": None,
    }


def publish_preview(session: Session, text: str) -> dict:
    """What publishing ``text`` would do: its problems, or the next version and its diff against the live one."""
    source = validate(session, text)
    view = check_view(source)
    kind, name = source.kind or "", source.name or ""
    live = latest(session, kind, name) if not source.errors else None
    lines = diff_lines(live.body, text) if live else []
    added, removed = change_counts(lines) if live else (len(text.splitlines()), 0)
    return {
        "valid": not source.errors,
        "errors": view["errors"],
        "kind": kind,
        "name": name,
        "live": live,
        "next_version": (live.version + 1) if live else 1,
        "same": live is not None and live.body == text,
        "lines": lines,
        "added": added,
        "removed": removed,
        "sha256": content_hash(text),
        "base_version": live.version if live else 0,
    }


def _steps_walked(session: Session, model: type[OrderEvent] | type[ReturnEvent], owner: str) -> list[str]:
    """The steps an order's (or a return's) timeline names, in the order it reached them."""
    column = OrderEvent.order_id if model is OrderEvent else ReturnEvent.return_id
    rows = session.exec(select(model.step).where(column == owner).order_by(col(model.seq), col(model.id))).all()
    return [step for step in rows if step]


def order_on_flow(
    session: Session, user: CurrentUser, name: str, rows: list[DefinitionVersion], reference: str, version: str
) -> dict:
    """The diagram of one version of flow ``name``; with ``reference`` (an order, or a return of a return flow)
    the version it runs, the step it is at and the steps it passed."""
    by_version = {row.version: row for row in rows}
    chosen = by_version.get(int(version)) if version.isdigit() else None
    context: dict = {"reference": reference, "problem": "", "order": None, "current": "", "visited": []}
    if reference:
        returns = serves_returns(rows[0].body)
        found = _find_return(session, user, reference) if returns else find_order(session, user, reference)
        if found is None:
            if returns:
                missing = gettext(
                    "No return %(id)r that you may see; the diagram shows the live version.", id=reference
                )
            else:
                missing = gettext("No order %(id)r that you may see; the diagram shows the live version.", id=reference)
            context["problem"] = missing
        elif found.flow_name != name:
            context["problem"] = gettext(
                "%(id)s runs flow %(flow)r, not %(name)r.", id=found.id, flow=found.flow_name, name=name
            )
            context["other_flow"] = found.flow_name
        else:
            chosen = by_version.get(found.flow_version)
            walked = _steps_walked(session, ReturnEvent if returns else OrderEvent, found.id)
            context.update(
                order=found,
                kind_of_order="return" if returns else "order",
                current=walked[-1] if walked else "",
                visited=sorted(set(walked)),
            )
            if chosen is None:
                context["problem"] = gettext(
                    "%(id)s runs v%(version)s, which is not stored; this is the live one.",
                    id=found.id,
                    version=found.flow_version,
                )
    row = chosen or rows[0]
    raw = load(row.body).raw
    layout = layout_flow(raw) if isinstance(raw, dict) else None
    return {**context, "row": row, "versions": rows, "layout": layout if layout and layout.nodes else None}


def _find_return(session: Session, user: CurrentUser, reference: str) -> Return | None:
    found = session.get(Return, reference)
    if found is None or find_order(session, user, found.order_id) is None:
        return None
    return found
