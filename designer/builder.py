"""What the structured editors (rule builder, form builder) show and do, over a draft's YAML text.

The builders never hold a copy of the definition: every view is read from the
text the editor has now, and every change is a list of edits written into that
text in place (``engine.yaml_edit``), so the text editor and the builders edit
one draft and switching between them loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlmodel import Session, col, select

from designer.api import check_view
from designer.table_grid import carrier_grid, grid_view, rule_outputs
from engine.definitions import load, parse_published
from engine.rule_builder import (
    ACTIONS,
    GROUP_MENTIONED,
    OPERATOR_WORDS,
    OPERATORS,
    RETURN_TAGS,
    ConditionError,
    RuleField,
    fields_view,
    return_rule_fields,
    rule_edits,
    rule_fields,
    rules_view,
)
from engine.yaml_edit import EditError, apply_edits, parse_edits, plain
from oms.models import DefinitionVersion, Order, Return
from services.definitions.publishing import get_draft, latest, validate
from services.errors import Invalid, NotFound
from services.orders.search import resolve_order
from web.deps import CurrentUser
from web.pages.entry import Entry, build_page
from web.pages.rendering import TEMPLATES

RECENT_ORDERS = 8
ORDER_FORM = "order"
RETURN_FORM = "return_request"
RETURN_POLICY = "return_policy"
CASE_ACTIONS = ("approve", "review", "reject")


def edited(session: Session, text: str, edits: list) -> dict:
    """``text`` with ``edits`` written in, its validation and the builders' view of it."""
    try:
        new_text = apply_edits(text, parse_edits(edits))
    except EditError as exc:
        raise Invalid("bad_edit", exc.message, field=exc.where) from exc
    check = check_view(validate(session, new_text))
    return {"text": new_text, **check, "structure": structure(session, new_text, check["errors"])}


def _audited(session: Session, rule_set: str | None, limit: int) -> list[Order]:
    query = select(Order).where(col(Order.audit).is_not(None))
    if rule_set:
        query = query.where(col(Order.audit)[("rules", "name")].as_string() == rule_set)
    return list(session.exec(query.order_by(col(Order.created_at).desc(), col(Order.id).desc()).limit(limit)).all())


def _order_form(session: Session) -> dict | None:
    return _live_raw(session, "form", ORDER_FORM)


def _live_raw(session: Session, kind: str, name: str) -> dict | None:
    row = latest(session, kind, name)
    raw = load(row.body).raw if row else None
    return raw if isinstance(raw, dict) else None


def audits_returns(session: Session, rule_set: str) -> bool:
    """Whether ``rule_set`` audits returns: a live flow that serves returns runs it in an audit step (the shipped
    return_policy before any flow is published)."""
    names = session.exec(select(DefinitionVersion.name).where(DefinitionVersion.kind == "flow").distinct()).all()
    for name in names:
        flow = _live_raw(session, "flow", name)
        if not flow or flow.get("serves") != "return":
            continue
        steps = flow.get("steps") if isinstance(flow.get("steps"), list) else []
        if any(isinstance(s, dict) and s.get("type") == "audit" and s.get("rules") == rule_set for s in steps):
            return True
    return rule_set == RETURN_POLICY and not names


def _audited_return(session: Session, rule_set: str) -> Return | None:
    query = select(Return).where(col(Return.audit).is_not(None))
    query = query.where(col(Return.audit)[("rules", "name")].as_string() == rule_set)
    return session.exec(query.order_by(col(Return.created_at).desc(), col(Return.id).desc()).limit(1)).first()


def _return_fields(session: Session, rule_set: str) -> list[RuleField]:
    sample = _audited_return(session, rule_set)
    order = session.get(Order, sample.order_id) if sample else None
    request = {"kind": sample.kind, "reason": sample.reason, "value": sample.value} if sample else None
    facts = (sample.audit or {}).get("facts") if sample else None
    form = _live_raw(session, "form", RETURN_FORM)
    return return_rule_fields(_order_form(session), form, order.document if order else None, request, facts)


def _tags(rules: list, returns: bool) -> list[dict]:
    """Tags to offer a tag rule: what the return flow acts on, and those the rule set already puts."""
    known = dict(RETURN_TAGS) if returns else {}
    for rule in rules:
        rows = ((rule.get("table") or {}).get("rows") or []) if isinstance(rule.get("table"), dict) else [rule]
        for row in rows:
            if isinstance(row, dict) and isinstance(row.get("tag"), str):
                known.setdefault(row["tag"], "")
    return [{"tag": tag, "hint": hint} for tag, hint in known.items()]


def _mentioned(rules: list[dict], known: set[str]) -> list[RuleField]:
    """Fields the rules' conditions use that the catalogue lacks (a rule set other than the order audit)."""
    out: dict[str, RuleField] = {}
    for rule in rules:
        for term in (rule["condition"] or {}).get("terms", []):
            field = term["field"]
            if field in known or field in out:
                continue
            kind = "boolean" if term["op"] in ("is true", "is false") else "text"
            if isinstance(term["value"], (int, float)) and not isinstance(term["value"], bool):
                kind = "number"
            out[field] = RuleField(field, field, kind, None, (), GROUP_MENTIONED)
    return list(out.values())


def _order_row(order: Order) -> dict:
    audit = order.audit or {}
    return {
        "id": order.id,
        "external_id": order.external_id,
        "channel": order.channel,
        "total": order.total,
        "action": audit.get("action"),
        "fired": [f.get("rule") for f in audit.get("fired") or [] if isinstance(f, dict)],
        "created_at": order.created_at.isoformat() if order.created_at else "",
    }


def structure(session: Session, text: str, errors: list[dict] | None = None) -> dict:
    """The builders' view of a draft: for a rule set its rules (each condition read into comparisons, or
    read-only, each decision table as a grid) and the fields to pick; for a form its fields and the entry page it
    makes; for the carrier choice its table as a grid. ``errors``: the draft's validation, when already known."""

    def problems() -> list[dict]:
        return errors if errors is not None else check_view(validate(session, text))["errors"]

    source = load(text)
    raw = source.raw if isinstance(source.raw, dict) else None
    kind = raw.get("kind") if raw else None
    view: dict[str, Any] = {"kind": kind, "name": raw.get("name") if raw else None, "readable": raw is not None}
    if raw is None:
        view["problem"] = source.errors[0].message if source.errors else "the text is not a definition"
        return view
    if kind == "rules":
        rules = rules_view(raw)
        raw_rules = [r for r in raw.get("rules") or [] if isinstance(r, dict)]
        returns = audits_returns(session, str(raw.get("name")))
        recent = [] if returns else _audited(session, raw.get("name"), RECENT_ORDERS)
        sample = recent[0] if recent else None
        if returns:
            fields = _return_fields(session, str(raw.get("name")))
        else:
            fields = rule_fields(
                _order_form(session),
                sample.document if sample else None,
                (sample.audit or {}).get("facts") if sample else None,
            )
        fields += _mentioned(rules, {f.path for f in fields})
        suggestions = [f.path for f in fields if "[]" not in f.path]
        for rule in rules:
            table = raw["rules"][rule["index"]].get("table")
            rule["grid"] = grid_view(table, ("rules", rule["index"], "table"), rule_outputs(), suggestions)
        view.update(
            rules=rules,
            audits="returns" if returns else "orders",
            fields=fields_view(fields),
            operators={k: list(v) for k, v in OPERATORS.items()},
            operator_words=OPERATOR_WORDS,
            actions=list(ACTIONS),
            tags=_tags(raw_rules, returns),
            case_actions=list(CASE_ACTIONS),
            sample_order=sample.id if sample else None,
            recent_orders=[_order_row(o) for o in recent],
            errors=problems(),
            tests=[
                {"index": i, "name": t.get("name") if isinstance(t, dict) else None}
                for i, t in enumerate(raw.get("tests") or [])
            ],
        )
    elif kind == "carriers":
        view.update(grid=carrier_grid(raw), errors=problems())
    elif kind == "form":
        valid = not problems()
        view.update(
            fields=_form_fields(raw.get("fields")),
            condition_fields=list(_choice_fields(raw.get("fields"), "", "")),
            preview_html=_preview(text) if valid else "",
        )
    return view


def _form_fields(fields: Any) -> list[dict]:
    out = []
    for index, field in enumerate(fields if isinstance(fields, list) else []):
        if not isinstance(field, dict):
            continue
        out.append({"index": index, **plain(field)})
    return out


def _choice_fields(fields: Any, prefix: str, label_prefix: str) -> Iterator[dict]:
    """Fields with a few values to choose from (selects, yes/no), also inside groups: what "ask only when" tests."""
    for field in fields if isinstance(fields, list) else []:
        if not isinstance(field, dict) or not isinstance(field.get("id"), str):
            continue
        path, label = f"{prefix}{field['id']}", f"{label_prefix}{_text(field.get('label')) or field['id']}"
        if field.get("type") == "group":
            yield from _choice_fields(field.get("fields"), f"{path}.", f"{label}: ")
        elif field.get("type") == "select":
            values = [str(o.get("value") if isinstance(o, dict) else o) for o in field.get("options") or []]
            yield {"path": path, "label": label, "options": values}
        elif field.get("type") == "boolean":
            yield {"path": path, "label": label, "options": [True, False]}


def _text(label: Any) -> str:
    return str(label.get("en") or "") if isinstance(label, dict) else str(label or "")


def _preview(text: str) -> str:
    """The order entry page's fields as a valid draft form draws them."""
    form = parse_published(text)
    page = build_page(form, Entry.blank(form))
    return TEMPLATES.get_template("pages/definition_form_preview.html").render(page=page)


def rule_saved(session: Session, text: str, index: int | None, spec: dict) -> dict:
    """The builder's rule written into the draft: a new rule at the end, or rule ``index`` changed in place."""
    raw = load(text).raw
    if not isinstance(raw, dict) or raw.get("kind") != "rules":
        raise Invalid("not_rules", "the rule builder edits a rule set (kind: rules)", field="text")
    rules = raw.get("rules") if isinstance(raw.get("rules"), list) else []
    try:
        edits = rule_edits(rules, index, spec)
    except ConditionError as exc:
        raise Invalid("bad_rule", exc.message, field=f"rule.{exc.where}") from exc
    return edited(session, text, edits)


def case_from_order(
    session: Session, user: CurrentUser, text: str, reference: str, action: str | None, name: str = ""
) -> dict:
    """A test case made of a recorded order: its document and the facts its audit computed, expecting ``action``
    (None: what its audit decided); added to the draft rule set's tests."""
    raw = load(text).raw
    if not isinstance(raw, dict) or raw.get("kind") != "rules":
        raise Invalid("not_rules", "test cases from orders go into a rule set (kind: rules)", field="text")
    if action is not None and action not in CASE_ACTIONS:
        choices = ", ".join(CASE_ACTIONS)
        raise Invalid("bad_action", f"{action!r}: the expected outcome is one of {choices}", field="expect")
    order = resolve_order(session, user, reference)
    if order is None:
        raise NotFound("no_order", f"no order {reference!r} that you may see", field="order_id")
    audit = order.audit or {}
    if not audit.get("facts"):
        raise Invalid(
            "not_audited", f"order {order.id} has not been audited yet: it has no facts to test with", field="order_id"
        )
    if action is None:
        action = str(audit.get("action"))
        if action not in CASE_ACTIONS:
            raise Invalid("bad_action", f"order {order.id}'s audit decided {action!r}", field="order_id")
    document = {k: v for k, v in (order.document or {}).items() if v is not None}
    facts = {k: v for k, v in audit["facts"].items() if not k.endswith("_version")}
    facts = {
        k: ({kk: vv for kk, vv in v.items() if not kk.endswith("_version")} if isinstance(v, dict) else v)
        for k, v in facts.items()
    }
    title = name.strip() or f"order {order.external_id} from {order.channel} ({order.total:g}) is {_outcome(action)}"
    case = {"name": title[:200], "order": document, "facts": facts, "expect": {"action": action}}
    return edited(session, text, [{"op": "insert", "path": ["tests"], "value": case}])


def draft_with_case(session: Session, user: CurrentUser, reference: str) -> tuple[str, dict]:
    """The rule set that audited a recorded order — ``user``'s draft of it, else its live text — with the order
    added as a test case expecting what its audit decided (``case_from_order``): the rule set's name and the
    builders' answer, whose text becomes the draft."""
    order = resolve_order(session, user, reference)
    if order is None:
        raise NotFound("no_order", f"no order {reference!r} that you may see", field="order_id")
    rule_set = ((order.audit or {}).get("rules") or {}).get("name")
    if not isinstance(rule_set, str) or not rule_set:
        raise Invalid("not_audited", f"order {order.id} has not been audited yet", field="order_id")
    draft = get_draft(session, "rules", rule_set, user.username)
    live = latest(session, "rules", rule_set) if draft is None else None
    if draft is None and live is None:
        raise NotFound("no_rules", f"rule set {rule_set!r} that audited order {order.id} is not published")
    text = draft.body if draft is not None else live.body if live is not None else ""
    return rule_set, case_from_order(session, user, text, order.id, None)


def _outcome(action: str) -> str:
    return {"approve": "approved", "review": "held for review", "reject": "rejected"}[action]
