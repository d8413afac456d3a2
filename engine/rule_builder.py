"""The rule builder's side of audit rules: fields to pick, conditions read and written as zen expressions.

A condition the builder shows is a list of comparisons joined by ``and`` or by
``or``: ``order.total > 5000 and facts.first_time_address``. Each comparison
is a field (of the order, of any of its lines, or a fact the audit computes),
an operator that fits the field's type and a value. ``condition_of`` reads an
expression into that shape, or answers None when the expression says more
(brackets, arithmetic, functions): the builder then shows it read-only and it
stays editable as text. ``expression_of`` writes the shape back; the two agree
(``expression_of(condition_of(e)) == e`` for what the builder writes).

A rule set that audits returns (return_policy) tests other things: the
return asked for (``return.reason``), any returned line
(``some(facts.lines, #.category in ['food'])``), the facts the return audit
computes and the returned order's fields (``return_rule_fields``).

Pure: the catalogue of fields is built from the order form and a recorded
order's document and facts, handed in by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from engine.case_support import ORDINARY_FACTS, ORDINARY_ORDER
from engine.reasons import english_reason


def N_(message: str) -> str:
    """Marks words the builder's page shows for the pages' catalogue; the page translates them (designer/js_text.py)."""
    return message


# The groups the field list shows.
GROUP_ORDER, GROUP_LINES, GROUP_FACTS = N_("Order"), N_("Any line"), N_("Facts the audit computes")
GROUP_RETURN, GROUP_RETURN_LINES, GROUP_RETURNED_ORDER = N_("Return"), N_("Any returned line"), N_("Returned order")
GROUP_MENTIONED = N_("Used by these rules")
GROUPS: tuple[str, ...] = (GROUP_ORDER, GROUP_LINES, GROUP_FACTS, GROUP_RETURN, GROUP_RETURN_LINES)
GROUPS += (GROUP_RETURNED_ORDER, GROUP_MENTIONED)
ORDER_TOTAL = N_("Order total")

OPERATORS: dict[str, tuple[str, ...]] = {
    "number": (">", ">=", "<", "<=", "==", "!="),
    "text": ("==", "!=", "in", "not in"),
    "boolean": ("is true", "is false"),
}
OPERATOR_WORDS = {
    ">": N_("is more than"),
    ">=": N_("is at least"),
    "<": N_("is less than"),
    "<=": N_("is at most"),
    "==": N_("is"),
    "!=": N_("is not"),
    "in": N_("is one of"),
    "not in": N_("is none of"),
    "is true": N_("is true"),
    "is false": N_("is false"),
}
ACTIONS = ("review", "reject", "approve", "tag")
LINES = "order.lines"

# What each fact means, in words (services/orders/facts.py computes them; README "Writing a definition").
FACT_LABELS = {
    "facts.first_time_address": N_("First-time address (no earlier order went to it)"),
    "facts.orders_from_ip_last_hour": N_("Orders from this IP in the last hour"),
    "facts.velocity.ip": N_("Orders from this IP in the last hour"),
    "facts.velocity.phone": N_("Orders from this phone in the last hour"),
    "facts.velocity.address": N_("Orders to this address in the last hour"),
    "facts.velocity.window_minutes": N_("Velocity window (minutes)"),
    "facts.customer.known": N_("Customer has ordered before"),
    "facts.customer.orders_so_far": N_("Customer's earlier orders"),
    "facts.customer.returned_orders": N_("Customer's returned orders"),
    "facts.customer.returns_ratio": N_("Customer's share of orders returned (0 to 1)"),
    "facts.credit.limit": N_("B2B credit limit"),
    "facts.credit.open_balance": N_("B2B open balance"),
    "facts.credit.remaining": N_("B2B credit remaining"),
    "facts.address.complete": N_("Shipping address is complete"),
    "facts.address.serviceable": N_("Shipping address is in a delivery region"),
    "facts.address.unserviceable_reason": N_("Why the address is not served"),
    "facts.stock.all_available": N_("Every line is in stock"),
    "facts.coupon.exists": N_("Coupon exists"),
    "facts.coupon.valid": N_("Coupon is valid today"),
    "facts.coupon.min_spend_met": N_("Coupon's minimum spend is met"),
    "facts.coupon.code": N_("Coupon code"),
}
# Facts that say which definition version computed the others: not for conditions.
_BOOKKEEPING = re.compile(r"_version$")
_FORM_TYPES = {
    "number": "number",
    "integer": "number",
    "money": "number",
    "boolean": "boolean",
}
ADDRESS_PARTS = ("name", "street", "city", "postal_code", "country", "region")


@dataclass(frozen=True)
class RuleField:
    """A field a condition can test: ``path`` as the expression names it (``order.lines[].sku``: any line's)."""

    path: str
    label: str
    type: str  # number, text or boolean
    sample: Any = None
    options: tuple[str, ...] = ()
    group: str = GROUP_ORDER


def _label(raw: Any) -> str:
    if isinstance(raw, Mapping):
        return str(raw.get("en") or next(iter(raw.values()), ""))
    return str(raw or "")


def _at(data: Any, dotted: str) -> Any:
    node = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _options(raw: Mapping) -> tuple[str, ...]:
    return tuple(str(o.get("value") if isinstance(o, Mapping) else o) for o in raw.get("options") or [])


def _form_fields(fields: list, prefix: str, label_prefix: str, group: str) -> Iterator[tuple[str, str, str, tuple]]:
    for raw in fields:
        if not isinstance(raw, Mapping) or "id" not in raw:
            continue
        path, label = f"{prefix}.{raw['id']}", (label_prefix + _label(raw.get("label"))).strip()
        kind = raw.get("type")
        if kind == "group":
            yield from _form_fields(raw.get("fields") or [], path, f"{label}: ", group)
        elif kind == "address":
            for part in ADDRESS_PARTS:
                yield f"{path}.{part}", f"{label}: {part.replace('_', ' ')}", "text", ()
        elif kind == "table":
            yield from _form_fields(raw.get("columns") or [], f"{path}[]", f"Any line: {''}", group)
        else:
            yield path, label, _FORM_TYPES.get(str(kind), "text"), _options(raw)


def _fact_fields(facts: Mapping, prefix: str = "facts") -> Iterator[tuple[str, str]]:
    for key, value in facts.items():
        path = f"{prefix}.{key}"
        if _BOOKKEEPING.search(str(key)):
            continue
        if isinstance(value, Mapping):
            yield from _fact_fields(value, path)
        elif isinstance(value, bool):
            yield path, "boolean"
        elif isinstance(value, (int, float)):
            yield path, "number"
        elif isinstance(value, str) or value is None:
            yield path, "text"


def _sample(document: Mapping | None, path: str) -> Any:
    if document is None:
        return None
    if "[]." in path:
        rows, column = path.split("[].", 1)
        lines = _at(document, rows)
        return lines[0].get(column) if isinstance(lines, list) and lines and isinstance(lines[0], Mapping) else None
    return _at(document, path)


def rule_fields(form: Mapping | None, document: Mapping | None, facts: Mapping | None) -> list[RuleField]:
    """Every field a condition can test: the order's (from its form), any line's, and every fact; each with a
    sample value from ``document`` and ``facts`` (a recent order's) when given."""
    order_fields = list(_form_fields(list((form or {}).get("fields") or []), "order", "", "Order"))
    if not order_fields:  # no form: the fields an ordinary order has
        order_fields = [(f"order.{k}", k.replace("_", " ").capitalize(), "text", ()) for k in ORDINARY_ORDER]
    known = {"order": {**(document or {})}, "facts": facts or {}}
    out = [RuleField("order.total", ORDER_TOTAL, "number", _sample(known, "order.total"), (), GROUP_ORDER)]
    for path, label, kind, options in order_fields:
        if path == "order.total":
            continue
        group = GROUP_LINES if "[]." in path else GROUP_ORDER
        out.append(RuleField(path, label, kind, _sample(known, path), options, group))
    merged_facts = {**ORDINARY_FACTS, **(facts or {})}
    for path, kind in _fact_fields(merged_facts):
        label = FACT_LABELS.get(path) or path.removeprefix("facts.").replace(".", ": ").replace("_", " ").capitalize()
        out.append(RuleField(path, label, kind, _sample(known, path), (), GROUP_FACTS))
    return out


# What a return audit finds (services/returns/steps.py ``return_facts``; the header of rules/return_policy.yaml):
# a rule set that audits returns offers these instead of the order audit's facts. The values give the types.
RETURN_FACTS: dict[str, Any] = {
    "days_since_delivery": 3.5,
    "value": 49.0,
    "reason": "changed_mind",
    "kind": "refund",
    "photos": 0,
    "quantity_ok": True,
    "returns_before": 0,
    "order_total": 99.0,
}
RETURN_LINE: dict[str, Any] = {
    "line": 1,
    "sku": "MUG-LOGO",
    "qty": 1,
    "price": 9.5,
    "value": 9.5,
    "category": "kitchen",
    "delivered": 2,
    "left": 2,
}
RETURN_FACT_LABELS = {
    "return.reason": N_("Reason for the return"),
    "return.kind": N_("Refund or exchange"),
    "return.value": N_("Value of the items asked back"),
    "facts.days_since_delivery": N_("Days since the order was delivered"),
    "facts.value": N_("Value of the items asked back"),
    "facts.reason": N_("Reason for the return"),
    "facts.kind": N_("Refund or exchange"),
    "facts.photos": N_("Photos sent"),
    "facts.quantity_ok": N_("No line asks for more than is left"),
    "facts.returns_before": N_("Earlier returns of this order"),
    "facts.order_total": N_("Total of the returned order"),
    "facts.lines[].line": N_("Returned line: order line number"),
    "facts.lines[].sku": N_("Returned line: SKU"),
    "facts.lines[].qty": N_("Returned line: quantity asked back"),
    "facts.lines[].price": N_("Returned line: price"),
    "facts.lines[].value": N_("Returned line: value"),
    "facts.lines[].category": N_("Returned line: category"),
    "facts.lines[].delivered": N_("Returned line: quantity delivered"),
    "facts.lines[].left": N_("Returned line: delivered and not yet returned"),
}
# Tags the return flow acts on (definitions/flows/return.yaml, services/returns): offered when a rule tags.
RETURN_TAGS = {
    "keep_item": N_("refund or exchange at once; nothing is sent back"),
    "refund_shipping": N_("the order's shipping fee is refunded too"),
}


def _choices(form: Mapping | None, field_id: str) -> tuple[str, ...]:
    for raw in (form or {}).get("fields") or []:
        if isinstance(raw, Mapping) and raw.get("id") == field_id:
            return _options(raw)
    return ()


def return_rule_fields(
    order_form: Mapping | None,
    return_form: Mapping | None,
    document: Mapping | None,
    request: Mapping | None,
    facts: Mapping | None,
) -> list[RuleField]:
    """Every field a return policy's condition can test: the return asked for, any returned line, the facts the
    return audit computes and the returned order's fields; samples from a recent return's ``request`` (kind,
    reason, value), ``facts`` and its order's ``document`` when given."""
    known = {"return": {**(request or {})}, "facts": {**(facts or {})}, "order": {**(document or {})}}
    reasons, kinds = _choices(return_form, "reason"), _choices(return_form, "kind") or ("refund", "exchange")
    options = {"reason": reasons, "kind": kinds}
    out = [
        RuleField(path, RETURN_FACT_LABELS[path], kind, _sample(known, path), choices, GROUP_RETURN)
        for path, kind, choices in (
            ("return.reason", "text", reasons),
            ("return.kind", "text", kinds),
            ("return.value", "number", ()),
        )
    ]
    for key, value in RETURN_FACTS.items():
        path = f"facts.{key}"
        kind = "boolean" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else "text"
        out.append(
            RuleField(path, RETURN_FACT_LABELS[path], kind, _sample(known, path), options.get(key, ()), GROUP_FACTS)
        )
    for key, value in RETURN_LINE.items():
        path = f"facts.lines[].{key}"
        kind = "number" if isinstance(value, (int, float)) else "text"
        out.append(RuleField(path, RETURN_FACT_LABELS[path], kind, _sample(known, path), (), GROUP_RETURN_LINES))
    for field in rule_fields(order_form, document, None):
        if field.path.startswith("order."):
            group = GROUP_RETURNED_ORDER
            out.append(RuleField(field.path, field.label, field.type, field.sample, field.options, group))
    return out


def fields_view(fields: list[RuleField]) -> list[dict]:
    return [{**asdict(f), "options": list(f.options)} for f in fields]


# -- conditions -----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'[^'\\]*'|"[^"\\]*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op>==|!=|>=|<=|>|<)
      | (?P<punct>[\[\],()])
      | (?P<some>some\(\s*(?:order|facts)\.lines\s*,\s*\#\.)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
_FIELD = re.compile(r"^(order|facts|return)(\.[a-z_][a-z0-9_]*)+$")
_LINE_FIELD = re.compile(r"^(?:order|facts)\.lines\[\]\.[a-z_][a-z0-9_]*$")
_SOME_LIST = re.compile(r"(order|facts)\.lines")


class _TooComplex(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out, at = [], 0
    text = text.rstrip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if not match or match.end() == at:
            raise _TooComplex
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        at = match.end()
    return out


def _literal(token: tuple[str, str]) -> Any:
    kind, text = token
    if kind == "string":
        return text[1:-1]
    if kind == "number":
        return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    if kind == "word" and text in ("true", "false"):
        return text == "true"
    if kind == "word" and text == "null":
        return None
    raise _TooComplex


def _term(tokens: list[tuple[str, str]], at: int) -> tuple[dict, int]:
    """One comparison starting at ``tokens[at]``, and where the next token is."""
    negated = tokens[at] == ("word", "not")
    if negated:
        at += 1
    inside_lines = tokens[at][0] == "some" if at < len(tokens) else False
    listed = ""
    if inside_lines:
        found = _SOME_LIST.search(tokens[at][1])
        listed = f"{found.group(1)}.lines" if found else LINES
        at += 1
    if at >= len(tokens) or tokens[at][0] != "word":
        raise _TooComplex
    field = tokens[at][1]
    field = f"{listed}[].{field}" if inside_lines else field
    if not (_LINE_FIELD.match(field) if inside_lines else _FIELD.match(field)):
        raise _TooComplex
    at += 1
    nxt = tokens[at] if at < len(tokens) else None
    if nxt is None or nxt in (("word", "and"), ("word", "or")) or (inside_lines and nxt == ("punct", ")")):
        term = {"field": field, "op": "is false" if negated else "is true", "value": None}
    elif negated:
        raise _TooComplex
    elif nxt[0] == "op":
        value = _literal(tokens[at + 1]) if at + 1 < len(tokens) else _fail()
        term, at = {"field": field, "op": nxt[1], "value": value}, at + 2
        return _close_lines(term, tokens, at, inside_lines)
    elif nxt == ("word", "in") or (nxt == ("word", "not") and tokens[at + 1 : at + 2] == [("word", "in")]):
        op = "in" if nxt == ("word", "in") else "not in"
        at += 1 if op == "in" else 2
        values, at = _list(tokens, at)
        return _close_lines({"field": field, "op": op, "value": values}, tokens, at, inside_lines)
    else:
        raise _TooComplex
    return _close_lines(term, tokens, at, inside_lines)


def _fail() -> Any:
    raise _TooComplex


def _close_lines(term: dict, tokens: list, at: int, inside_lines: bool) -> tuple[dict, int]:
    if inside_lines:
        if tokens[at : at + 1] != [("punct", ")")]:
            raise _TooComplex
        at += 1
    return term, at


def _list(tokens: list[tuple[str, str]], at: int) -> tuple[list, int]:
    if tokens[at : at + 1] != [("punct", "[")]:
        raise _TooComplex
    at += 1
    values = []
    while at < len(tokens) and tokens[at] != ("punct", "]"):
        values.append(_literal(tokens[at]))
        at += 1
        if tokens[at : at + 1] == [("punct", ",")]:
            at += 1
    if at >= len(tokens):
        raise _TooComplex
    return values, at + 1


def condition_of(expression: str) -> dict | None:
    """``{"join": "and"|"or", "terms": [{"field", "op", "value"}]}``, or None when the builder cannot show it."""
    try:
        tokens = _tokens(expression)
        terms, joins, at = [], set(), 0
        while True:
            term, at = _term(tokens, at)
            terms.append(term)
            if at == len(tokens):
                break
            if tokens[at] not in (("word", "and"), ("word", "or")):
                raise _TooComplex
            joins.add(tokens[at][1])
            at += 1
    except (_TooComplex, IndexError):
        return None
    if len(joins) > 1:
        return None  # `a and b or c`: how it groups is better read as text
    return {"join": joins.pop() if joins else "and", "terms": terms}


def _written(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_written(v) for v in value) + "]"
    text = str(value)
    return f'"{text}"' if "'" in text else f"'{text}'"


class ConditionError(ValueError):
    """A condition the builder sent that cannot be written: ``where`` names the part (``terms[1].value``)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def _term_text(term: Mapping, where: str) -> str:
    field, op, value = term.get("field"), term.get("op"), term.get("value")
    if not isinstance(field, str) or not (_FIELD.match(field) or _LINE_FIELD.match(field)):
        raise ConditionError(f"{where}.field", f"{field!r} is not a field of the order, its lines or the facts")
    if op not in OPERATOR_WORDS:
        raise ConditionError(f"{where}.op", f"{op!r} is not an operator; they are {', '.join(OPERATOR_WORDS)}")
    line = "[]." in field
    listed, _, column = field.partition("[].")
    subject = f"#.{column}" if line else field
    if op == "is true":
        text = subject
    elif op == "is false":
        text = f"not {subject}"
    elif op in ("in", "not in"):
        if not isinstance(value, list) or not value:
            raise ConditionError(f"{where}.value", f"'{OPERATOR_WORDS[op]}' needs a list of values")
        text = f"{subject} {op} {_written(value)}"
    else:
        if isinstance(value, (list, dict)):
            raise ConditionError(f"{where}.value", "needs one value")
        if op not in ("==", "!=") and not isinstance(value, (int, float)):
            raise ConditionError(f"{where}.value", f"'{OPERATOR_WORDS[op]}' compares numbers: give a number")
        text = f"{subject} {op} {_written(value)}"
    return f"some({listed}, {text})" if line else text


def expression_of(condition: Mapping) -> str:
    """The zen expression of a builder condition (``condition_of``'s shape)."""
    join = condition.get("join", "and")
    if join not in ("and", "or"):
        raise ConditionError("join", f"{join!r}: combine with and or or")
    terms = condition.get("terms")
    if not isinstance(terms, list) or not terms:
        raise ConditionError("terms", "a condition needs at least one comparison")
    return f" {join} ".join(_term_text(t if isinstance(t, Mapping) else {}, f"terms[{i}]") for i, t in enumerate(terms))


def rule_value(spec: Mapping) -> dict:
    """The rule as it goes into the YAML: id, when (written from the condition), action, tag, reason."""
    rule_id = spec.get("id")
    if not isinstance(rule_id, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", rule_id):
        raise ConditionError("id", "name the rule with lower-case letters, digits and _, starting with a letter")
    action = spec.get("action")
    if action not in ACTIONS:
        raise ConditionError("action", f"{action!r}: the action is one of {', '.join(ACTIONS)}")
    reason = spec.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ConditionError("reason", "write the reason people read when the rule fires")
    condition = spec.get("condition")
    value: dict[str, Any] = {
        "id": rule_id,
        "when": expression_of(condition if isinstance(condition, Mapping) else {}),
        "action": action,
    }
    if action == "tag":
        tag = spec.get("tag")
        if not isinstance(tag, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", tag):
            raise ConditionError("tag", "a tag rule needs the label it puts on the order: lower-case letters, _")
        value["tag"] = tag
    value["reason"] = reason.strip()
    return value


def rule_edits(rules: list, index: int | None, spec: Mapping) -> list[dict]:
    """The edits that write the builder's rule into the rule set: a new rule at the end, or the changed keys of
    rule ``index`` (its other keys and comments stay)."""
    value = rule_value(spec)
    ids = [r.get("id") for i, r in enumerate(rules) if isinstance(r, Mapping) and i != index]
    if value["id"] in ids:
        raise ConditionError("id", f"another rule is already called {value['id']!r}")
    if index is None:
        return [{"op": "insert", "path": ["rules"], "value": value}]
    if not 0 <= index < len(rules) or not isinstance(rules[index], Mapping):
        raise ConditionError("index", f"there is no rule {index}")
    old = rules[index]
    if "table" in old:
        raise ConditionError("index", f"rule {old.get('id')!r} is a decision table; edit it as text")
    edits: list[dict] = [
        {"op": "set", "path": ["rules", index, key], "value": value[key]}
        for key in ("id", "when", "action", "tag")
        if key in value and old.get(key) != value[key]
    ]
    if english_reason(old.get("reason")) != value["reason"]:
        # A reason per language keeps its translations: the builder edits the English one.
        bilingual = isinstance(old.get("reason"), Mapping)
        path = ["rules", index, "reason", "en"] if bilingual else ["rules", index, "reason"]
        edits.append({"op": "set", "path": path, "value": value["reason"]})
    if "tag" in old and "tag" not in value:
        edits.append({"op": "delete", "path": ["rules", index, "tag"]})
    return edits


def rules_view(raw: Mapping | None) -> list[dict]:
    """Each rule as the builder shows it: its condition read into comparisons, or None (shown read-only)."""
    out = []
    for index, rule in enumerate((raw or {}).get("rules") or []):
        if not isinstance(rule, Mapping):
            continue
        when = rule.get("when")
        out.append(
            {
                "index": index,
                "id": rule.get("id"),
                "when": when if isinstance(when, str) else None,
                "condition": condition_of(when) if isinstance(when, str) else None,
                "table": "table" in rule,
                "action": rule.get("action"),
                "tag": rule.get("tag"),
                "reason": english_reason(rule.get("reason")),
            }
        )
    return out
