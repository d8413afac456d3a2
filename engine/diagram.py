"""A flow's diagram as geometry: boxes for steps, arrows for the ways on.

The designer draws the SVG from this layout; the engine decides where
things go. The layout reads the definition's raw steps (the same mapping the
checks read), so a draft with a mistyped target still draws, its arrow
pointing at a missing step. Steps are placed in layers by their distance from
``start``; unreachable steps sit in a last layer of their own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from engine.flows import step_targets

NODE_W, NODE_H = 200, 58
GAP_X, GAP_Y = 40, 64
MARGIN = 24
LABEL_MAX = 36


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    title: str  # the step id, or the approval's title
    detail: str  # what the step does: activity, rules, role and due, timeout, status
    x: float
    y: float
    missing: bool = False  # an arrow points at a step that does not exist
    unreachable: bool = False


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    kind: str  # next | outcome | timeout | error | case | default
    points: tuple[tuple[float, float], ...]  # start, control 1, control 2, end (a cubic curve)
    label_at: tuple[float, float]


@dataclass(frozen=True)
class Layout:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: float
    height: float
    start: str | None


def _short(text: Any) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def _detail(step: dict) -> str:
    kind = step.get("type")
    if kind == "activity":
        return f"activity {step.get('activity', '?')}"
    if kind == "audit":
        return f"rules {step.get('rules', '?')}"
    if kind == "approval":
        text = f"{step.get('role', '?')} · due {step.get('due', '?')}"
        escalation = step.get("escalation")
        if isinstance(escalation, dict):
            text += f" → {escalation.get('role', '?')} {escalation.get('due', '')}".rstrip()
        return text
    if kind == "wait":
        return f"wait · timeout {step.get('timeout', '?')}"
    if kind == "switch":
        return "switch"
    if kind == "end":
        return f"end · {step.get('status', 'done')}"
    return str(kind or "?")


def _edge_label(step: dict, rel: tuple) -> tuple[str, str]:
    key = rel[0]
    if key == "next":
        return "", "next"
    if key == "on_timeout":
        after = step.get("timeout") or step.get("due") or ""
        return _short(f"timeout {after}".strip()), "timeout"
    if key == "on_error":
        return _short(f"error {rel[1]}"), "error"
    if key == "default":
        return "default", "default"
    if key == "cases":
        cases = step.get("cases") or []
        when = cases[rel[1]].get("when", "") if rel[1] < len(cases) and isinstance(cases[rel[1]], dict) else ""
        return _short(when), "case"
    return _short(rel[1]), "outcome"


def _steps(raw: dict) -> list[dict]:
    steps = raw.get("steps") if isinstance(raw, dict) else None
    if not isinstance(steps, list):
        return []
    return [s for s in steps if isinstance(s, dict) and isinstance(s.get("id"), str)]


def _targets(step: dict) -> list[tuple[tuple, str]]:
    try:
        return [(rel, t) for rel, t in step_targets(step) if isinstance(t, str)]
    except (AttributeError, TypeError, KeyError):  # a draft's half-written mapping
        return []


def layout_flow(raw: dict) -> Layout:
    """Place every step of a flow's raw definition and route the arrows between them."""
    steps = _steps(raw)
    by_id = {s["id"]: s for s in steps}
    start = raw.get("start") if isinstance(raw, dict) else None
    layer: dict[str, int] = {}
    order: list[str] = []
    if isinstance(start, str) and start in by_id:
        layer[start] = 0
        queue = deque([start])
        while queue:
            current = queue.popleft()
            order.append(current)
            for _, target in _targets(by_id[current]):
                if target in by_id and target not in layer:
                    layer[target] = layer[current] + 1
                    queue.append(target)
    missing = sorted({t for s in steps for _, t in _targets(s) if t not in by_id})
    unreachable = [s["id"] for s in steps if s["id"] not in layer]
    last = max(layer.values(), default=-1) + 1
    for step_id in unreachable:
        layer[step_id] = last
        order.append(step_id)
    for step_id in missing:
        layer[step_id] = last + (1 if unreachable else 0)
        order.append(step_id)
    rows: dict[int, list[str]] = {}
    for step_id in order:
        rows.setdefault(layer[step_id], []).append(step_id)
    widest = max((len(r) for r in rows.values()), default=1)
    width = 2 * MARGIN + widest * NODE_W + (widest - 1) * GAP_X + 120  # room for arrows that go back up
    height = 2 * MARGIN + len(rows) * NODE_H + max(len(rows) - 1, 0) * GAP_Y
    nodes: dict[str, Node] = {}
    for row, ids in sorted(rows.items()):
        row_w = len(ids) * NODE_W + (len(ids) - 1) * GAP_X
        x0 = MARGIN + (widest * NODE_W + (widest - 1) * GAP_X - row_w) / 2
        y = MARGIN + row * (NODE_H + GAP_Y)
        for position, step_id in enumerate(ids):
            x = x0 + position * (NODE_W + GAP_X)
            step = by_id.get(step_id)
            if step is None:
                nodes[step_id] = Node(step_id, "missing", step_id, "no such step", x, y, missing=True)
                continue
            title = step.get("title") if step.get("type") == "approval" and step.get("title") else step_id
            nodes[step_id] = Node(
                step_id,
                str(step.get("type", "?")),
                _short(title),
                _short(_detail(step)),
                x,
                y,
                unreachable=step_id in unreachable,
            )
    edges = []
    for step in steps:
        for rel, target in _targets(step):
            label, kind = _edge_label(step, rel)
            edges.append(_route(nodes[step["id"]], nodes[target], label, kind, width))
    return Layout(tuple(nodes.values()), tuple(edges), width, height, start if start in by_id else None)


def _route(a: Node, b: Node, label: str, kind: str, width: float) -> Edge:
    if b.y > a.y:  # downwards: bottom centre to top centre
        x1, y1 = a.x + NODE_W / 2, a.y + NODE_H
        x2, y2 = b.x + NODE_W / 2, b.y
        bend = (y2 - y1) / 2
        points = ((x1, y1), (x1, y1 + bend), (x2, y2 - bend), (x2, y2))
        return Edge(a.id, b.id, label, kind, points, ((x1 + x2) / 2, (y1 + y2) / 2))
    if b.y == a.y:  # same layer: side to side, arching over the boxes between
        left_to_right = b.x > a.x
        x1 = a.x + NODE_W if left_to_right else a.x
        x2 = b.x if left_to_right else b.x + NODE_W
        y1 = y2 = a.y + NODE_H / 4
        lift = 18 + 0.15 * abs(x2 - x1)
        points = ((x1, y1), (x1 + (x2 - x1) / 3, y1 - lift), (x2 - (x2 - x1) / 3, y2 - lift), (x2, y2))
        return Edge(a.id, b.id, label, kind, points, ((x1 + x2) / 2, y1 - lift * 0.75))
    # Back up (a loop): out of the right side, round the right margin.
    x1, y1 = a.x + NODE_W, a.y + NODE_H / 2
    x2, y2 = b.x + NODE_W, b.y + NODE_H / 2
    out = min(width - 8, max(x1, x2) + 60)
    points = ((x1, y1), (out, y1), (out, y2), (x2, y2))
    return Edge(a.id, b.id, label, kind, points, (out - 4, (y1 + y2) / 2))
