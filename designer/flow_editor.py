"""What the flow editor on the diagram shows and does, over a draft flow's YAML text.

Like the rule and form builders (``designer.builder``), it holds no copy of the
flow: the view is read from the text the editor has now, and every change —
a step added after another, a step deleted, an outcome connected, a wait or a
timeout set in words, a step's title — becomes structured edits (``engine.yaml_edit``) written
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
from engine.http_steps import METHODS, ON_ERROR_KEY
from engine.yaml_edit import Edit, EditError, apply_edits
from services.definitions.publishing import validate
from services.errors import Invalid
from web.i18n import N_

STEP_TYPES = ("approval", "activity", "wait", "switch", "audit", "http", "end")
# In English; the page's script shows them in the reader's language (designer/js_text.py).
TYPE_SUMMARIES = {
    "approval": N_("A person decides (a task in the inbox): approve or reject."),
    "activity": N_("The system does something: one activity from the catalogue."),
    "wait": N_("Wait for an event (a payment, a delivery), with a timeout."),
    "switch": N_("Go one way or another by a condition."),
    "audit": N_("Run a rule set: approve, review or reject."),
    "http": N_("Call another system over HTTP: go on with its answer, or elsewhere on an error."),
    "end": N_("The order ends here with a status."),
}
# The waits and timeouts each step type has, by the key path inside the step.
DURATIONS = {"approval": ("due", "escalation.due"), "wait": ("timeout",)}
CHANGES = ("insert_after", "delete", "connect", "duration", "title")
MAX_TITLE = 200
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
                "method": step.get("method"),
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
            "http_methods": list(METHODS),
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
    elif kind == "http":
        step.update(_http_step(raw, spec, path, target))
    else:
        step.setdefault("status", "completed")
    return step


def _text(spec: dict, key: str, path: str) -> str:
    value = spec.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid("bad_text", f"{path}.{key}: write it as text", field=f"{path}.{key}")
    return value.strip()


def _http_step(raw: dict, spec: dict, path: str, target: Any) -> dict:
    """An http step's request and where it goes: ``next`` (a 2xx answer) and each error outcome asked for
    lead where the outcome it was put on led, or ``on_error_to``; each is connected anew afterwards.

    What only the whole flow can judge (an https URL, a body on a GET, a save expression that does not
    compile, neither url nor endpoint) is left to validation, which marks it on the new node.
    """
    method = str(spec.get("method") or "").upper()
    if method not in METHODS:
        raise Invalid("bad_method", f"{path}.method: one of {', '.join(METHODS)}", field=f"{path}.method")
    step: dict[str, Any] = {"method": method}
    endpoint, url = _text(spec, "endpoint", path), _text(spec, "url", path)
    if endpoint:
        step["endpoint"] = _name(endpoint, f"{path}.endpoint", "an endpoint's name (OMS_HTTP_ENDPOINTS)")
        request_path = _text(spec, "path", path) or "/"
        step["path"] = request_path if request_path.startswith("/") else "/" + request_path
    if url:
        step["url"] = url
    body = spec.get("body")
    if isinstance(body, str) and body.strip():
        step["body"] = body.strip()
    elif body not in (None, ""):
        raise Invalid("bad_text", f"{path}.body: write it as text", field=f"{path}.body")
    save = spec.get("save") or []
    if not isinstance(save, list):
        raise Invalid("bad_save", f"{path}.save: a list of {{key, expression}} pairs", field=f"{path}.save")
    saved: dict[str, str] = {}
    for number, pair in enumerate(save):
        where = f"{path}.save[{number}]"
        if not isinstance(pair, dict):
            raise Invalid("bad_save", f"{where}: a pair {{key, expression}}", field=where)
        key = _name(pair.get("key"), f"{where}.key", "a saved value's name")
        if key in saved:
            raise Invalid("duplicate_key", f"{where}.key: {key!r} is saved already", field=f"{where}.key")
        expression = _text(pair, "expression", where)
        if not expression:
            raise Invalid("bad_save", f"{where}.expression: say what to save, e.g. body.score", field=where)
        saved[key] = expression
    if saved:
        step["save"] = saved
    step["next"] = target
    errors = spec.get("on_error") or []
    if not isinstance(errors, list) or not all(isinstance(e, str) for e in errors):
        raise Invalid("bad_outcome", f"{path}.on_error: a list of outcomes", field=f"{path}.on_error")
    if errors:
        error_target = spec.get("on_error_to") or target
        _find(raw, error_target, f"{path}.on_error_to")
        outcomes: dict[str, Any] = {}
        for outcome in (e.strip().lower() for e in errors):
            if not ON_ERROR_KEY.match(outcome):
                raise Invalid(
                    "bad_outcome",
                    f"{path}.on_error: {outcome!r} is not an outcome of an http step: a status (404), "
                    "a class (4xx, 5xx), timeout or unreachable",
                    field=f"{path}.on_error",
                )
            outcomes[outcome] = error_target
        step["on_error"] = outcomes
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
    if op == "title":
        title = change.get("title")
        if not isinstance(title, str) or len(title) > MAX_TITLE:
            problem = f"{at}.title: a title is text of at most {MAX_TITLE} characters"
            raise Invalid("bad_title", problem, field="change.title")
        if title.strip():
            return [Edit("set", ("steps", index, "title"), title.strip())]
        return [Edit("delete", ("steps", index, "title"))] if "title" in step else []
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
