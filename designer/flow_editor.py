"""What the flow editor on the diagram shows and does, over a draft flow's YAML text.

Like the rule and form builders (``designer.builder``), it holds no copy of the
flow: the view is read from the text the editor has now, and every change —
a step added after another, a step deleted, an outcome connected, a wait or a
timeout set in words — becomes structured edits (``engine.yaml_edit``) written
into that text in place, comments and key order kept. A change that names what
is not there is refused with the definition path it names
(``$.steps[3].on.approve: no step 'x' in this flow``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from sqlmodel import Session

from designer.api import check_view
from engine.catalog import ROLES, step_activities
from engine.definitions import load
from engine.duration_words import from_words, in_words
from engine.errors import join_path
from engine.yaml_edit import Edit, EditError, apply_edits
from services.definitions.publishing import validate
from services.errors import Invalid

STEP_TYPES = ("approval", "activity", "wait", "switch", "audit", "end")
TYPE_SUMMARIES = {
    "approval": "A person decides (a task in the inbox): approve or reject.",
    "activity": "The system does something: one activity from the catalogue.",
    "wait": "Wait for an event (a payment, a delivery), with a timeout.",
    "switch": "Go one way or another by a condition.",
    "audit": "Run a rule set: approve, review or reject.",
    "end": "The order ends here with a status.",
}
# The waits and timeouts each step type has, by the key path inside the step.
DURATIONS = {"approval": ("due", "escalation.due"), "wait": ("timeout",)}
CHANGES = ("insert_after", "delete", "connect", "duration")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

Key = tuple[str | int, ...]


def _steps(raw: dict) -> list[dict]:
    steps = raw.get("steps")
    return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []


def outcomes(step: dict) -> Iterator[tuple[Key, str, Any]]:
    """Every place a step names the step that follows: (key inside the step, label, target)."""
    if "next" in step:
        yield ("next",), "next", step["next"]
    for group, prefix in (("on", ""), ("events", "event "), ("on_error", "error ")):
        targets = step.get(group)
        if isinstance(targets, dict):
            for name, target in targets.items():
                yield (group, str(name)), f"{prefix}{name}", target
    cases = step.get("cases")
    if isinstance(cases, list):
        for number, case in enumerate(cases):
            if isinstance(case, dict):
                yield ("cases", number, "next"), f"when {case.get('when', '')}", case.get("next")
    if "default" in step:
        yield ("default",), "otherwise", step["default"]
    if "on_timeout" in step:
        yield ("on_timeout",), "timeout", step["on_timeout"]


def _key_name(key: Key) -> str:
    return ".".join(str(part) for part in key)


def _parse_key(name: Any) -> Key:
    if not isinstance(name, str) or not name:
        return ()
    return tuple(int(part) if part.isdigit() else part for part in name.split("."))


def _duration_value(step: dict, field: str) -> Any:
    value: Any = step
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def references(raw: dict, step_id: str) -> list[dict]:
    """Where the flow names ``step_id``: each step and outcome that leads to it, and ``start``."""
    found = [{"step": None, "outcome": "start", "path": "$.start"}] if raw.get("start") == step_id else []
    for index, step in enumerate(_steps(raw)):
        for key, label, target in outcomes(step):
            if target == step_id:
                found.append({"step": step.get("id"), "outcome": label, "path": join_path("$.steps", index, *key)})
    return found


def _step_of_error(path: str) -> int | None:
    match = re.match(r"^\$\.steps\[(\d+)\]", path)
    return int(match.group(1)) if match else None


def flow_view(text: str, errors: list[dict]) -> dict:
    """The diagram's nodes and edges, what each step may become (the catalogue), and the errors on each node."""
    source = load(text)
    raw = source.raw if isinstance(source.raw, dict) else None
    if raw is None or raw.get("kind") != "flow":
        problem = source.errors[0].message if source.errors else "the text is not a flow"
        return {"readable": False, "problem": problem}
    serves = raw.get("serves", "order")
    steps = _steps(raw)
    on_node: dict[int, list[dict]] = {}
    general: list[dict] = []
    for error in errors:
        index = _step_of_error(error["path"])
        (on_node.setdefault(index, []) if index is not None and index < len(steps) else general).append(error)
    nodes = []
    for index, step in enumerate(steps):
        kind = step.get("type")
        nodes.append(
            {
                "index": index,
                "id": step.get("id"),
                "type": kind,
                "title": step.get("title"),
                "activity": step.get("activity"),
                "status": step.get("status"),
                "outcomes": [
                    {"key": _key_name(key), "label": label, "target": target} for key, label, target in outcomes(step)
                ],
                "durations": [
                    {"field": field, "value": value, "words": in_words(value) if value else ""}
                    for field in DURATIONS.get(str(kind), ())
                    for value in [_duration_value(step, field)]
                    if value is not None or field != "escalation.due"
                ],
                "references": references(raw, str(step.get("id"))),
                "errors": on_node.get(index, []),
            }
        )
    return {
        "readable": True,
        "name": raw.get("name"),
        "serves": serves,
        "start": raw.get("start"),
        "steps": nodes,
        "general_errors": general,
        "catalogue": {
            "types": [{"type": t, "summary": TYPE_SUMMARIES[t]} for t in STEP_TYPES],
            "activities": [{"name": n, "summary": s.summary} for n, s in sorted(step_activities(serves).items())],
            "roles": list(ROLES),
        },
    }


def _find(raw: dict, step_id: Any, where: str) -> tuple[int, dict]:
    for index, step in enumerate(_steps(raw)):
        if step.get("id") == step_id:
            return index, step
    raise Invalid("unknown_step", f"{where}: no step {step_id!r} in this flow", field=where)


def _words(words: Any, path: str) -> str:
    try:
        return from_words(str(words or ""))
    except ValueError as exc:
        raise Invalid("bad_duration", f"{path}: {exc}", field=path) from exc


def _name(value: Any, path: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise Invalid(
            "bad_name", f"{path}: {what} is lower-case letters, digits and _ (e.g. approve_payment)", field=path
        )
    return value


def _new_step(raw: dict, spec: dict, path: str, target: Any) -> dict:
    """The step the analyst asked for; every outcome it has leads where the outcome it was put on led."""
    kind = spec.get("type")
    if kind not in STEP_TYPES:
        raise Invalid("bad_type", f"{path}.type: a step is one of {', '.join(STEP_TYPES)}", field=f"{path}.type")
    step_id = _name(spec.get("id"), f"{path}.id", "a step's id")
    if any(s.get("id") == step_id for s in _steps(raw)):
        raise Invalid("duplicate_step", f"{path}.id: a step {step_id!r} is already in this flow", field=f"{path}.id")
    step: dict[str, Any] = {"id": step_id, "type": kind}
    if spec.get("title"):
        step["title"] = str(spec["title"])
    if spec.get("status"):
        step["status"] = _name(spec["status"], f"{path}.status", "a status")
    if kind == "approval":
        role = spec.get("role") or "operator"
        if role not in ROLES:
            raise Invalid("bad_role", f"{path}.role: one of {', '.join(ROLES)}", field=f"{path}.role")
        reject = spec.get("reject") or target
        _find(raw, reject, f"{path}.reject")
        step.update(
            role=role,
            due=_words(spec.get("due") or "1 day", f"{path}.due"),
            on={"approve": target, "reject": reject},
            on_timeout=spec.get("on_timeout") or target,
        )
    elif kind == "activity":
        allowed = step_activities(raw.get("serves", "order"))
        if spec.get("activity") not in allowed:
            raise Invalid(
                "bad_activity",
                f"{path}.activity: this flow's steps may call {', '.join(sorted(allowed))}",
                field=f"{path}.activity",
            )
        step.update(activity=spec["activity"], next=target)
    elif kind == "wait":
        event = _name(spec.get("event"), f"{path}.event", "the event waited for")
        step.update(timeout=_words(spec.get("timeout") or "1 day", f"{path}.timeout"), on={event: target})
        step["on_timeout"] = target
    elif kind == "switch":
        step.update(cases=[{"when": str(spec.get("when") or "true"), "next": target}], default=target)
    elif kind == "audit":
        step.update(rules=_name(spec.get("rules"), f"{path}.rules", "the rule set"))
        step["on"] = {"approve": target, "review": target, "reject": target}
    else:
        step.setdefault("status", "completed")
    return step


def change_edits(raw: dict, change: Any) -> list[Edit]:
    """The structured edits one flow editor change stands for; Invalid naming the path if it cannot be made."""
    if not isinstance(change, dict) or change.get("op") not in CHANGES:
        raise Invalid("bad_change", f"change.op: one of {', '.join(CHANGES)}", field="change.op")
    op = change["op"]
    index, step = _find(raw, change.get("step"), "change.step")
    at = join_path("$.steps", index)
    if op == "delete":
        edits: list[Edit] = []
        again = change.get("reconnect_to")
        if again is not None:
            _find(raw, again, "change.reconnect_to")
            if again == step.get("id"):
                raise Invalid("bad_target", f"{at}: a step cannot stand in for itself", field="change.reconnect_to")
            if raw.get("start") == step.get("id"):
                edits.append(Edit("set", ("start",), again))
            for other_index, other in enumerate(_steps(raw)):
                if other_index != index:
                    edits += [
                        Edit("set", ("steps", other_index, *key), again)
                        for key, _, target in outcomes(other)
                        if target == step.get("id")
                    ]
        return [*edits, Edit("delete", ("steps", index))]
    if op == "duration":
        field = change.get("field")
        if field not in DURATIONS.get(str(step.get("type")), ()):
            fields = ", ".join(DURATIONS.get(str(step.get("type")), ())) or "none"
            raise Invalid(
                "bad_field", f"{at}.{field}: a {step.get('type')} step's waits: {fields}", field="change.field"
            )
        return [Edit("set", ("steps", index, *_parse_key(field)), _words(change.get("words"), f"{at}.{field}"))]
    key = _parse_key(change.get("outcome"))
    current = {k: target for k, _, target in outcomes(step)}
    if key not in current:
        names = ", ".join(_key_name(k) for k in current) or "none"
        where = f"{at}.{change.get('outcome')}"
        raise Invalid("unknown_outcome", f"{where}: step {step.get('id')!r} has the outcomes {names}", field=where)
    where = join_path(at, *key)
    if op == "connect":
        _find(raw, change.get("target"), where)
        return [Edit("set", ("steps", index, *key), change["target"])]
    spec = change.get("new")
    if not isinstance(spec, dict):
        raise Invalid("bad_change", "change.new: send the new step as an object", field="change.new")
    new = _new_step(raw, spec, f"{where} (new step)", current[key])
    return [Edit("insert", ("steps",), new, index=index + 1), Edit("set", ("steps", index, *key), new["id"])]


def flow_structure(session: Session, text: str) -> dict:
    """The flow editor's view of a draft, with the draft's validation on its nodes."""
    check = check_view(validate(session, text))
    return {**check, "flow": flow_view(text, check["errors"])}


def flow_changed(session: Session, text: str, change: Any) -> dict:
    """``text`` with one flow editor change written in: the new text, its validation and the editor's view."""
    source = load(text)
    if not isinstance(source.raw, dict) or source.raw.get("kind") != "flow":
        raise Invalid("not_a_flow", "text: fix the text first: it is not a readable flow", field="text")
    try:
        new_text = apply_edits(text, change_edits(source.raw, change))
    except EditError as exc:
        raise Invalid("bad_edit", f"{exc.where}: {exc.message}", field=exc.where) from exc
    return {"text": new_text, **flow_structure(session, new_text)}
