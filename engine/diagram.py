"""A flow's diagram as geometry: boxes for steps, arrows for the ways on.

The designer draws the SVG from this layout; the engine decides where
things go. The layout reads the definition's raw steps (the same mapping the
checks read), so a draft with a mistyped target still draws, its arrow
pointing at a missing step.

A layered drawing (after Sugiyama): arrows that lead back up (loops) are
turned round, every step gets the layer of its longest way from ``start``
(unreachable steps come after the reachable ones), and between two layers of
steps lies a row for the arrows passing and their labels. An arrow that spans
several layers holds a narrow slot in every row it passes, and its label is a
slot of its own beside the arrow, so arrows only ever bend in the gaps between
rows: no arrow crosses a step's box or a label. The order inside each row
comes from a few barycentre sweeps (fewer crossings), the positions from
packing each row's slots as close as they fit to their neighbours' average.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit

from engine.flows import step_targets

NODE_W, NODE_H = 200, 58
LABEL_H = 16  # the row an arrow's label takes
ROW_GAP = 22  # between rows: where arrows bend
SLOT_W = 14  # a passing arrow's slot
ITEM_GAP = 16  # between slots of a row
MARGIN = 24
CHAR_W = 7.0  # a generous width of one character of an 11 px label
TITLE_MAX, DETAIL_MAX, LABEL_MAX = 26, 32, 36
LOOP_OUT = 34  # how far a step's arrow to itself reaches right of its box
SWEEPS = 6


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
    full_title: str = ""  # before shortening (the SVG's tooltip)


Point = tuple[float, float]
Curve = tuple[Point, Point, Point, Point]  # a cubic Bézier: start, control 1, control 2, end


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    kind: str  # next | outcome | event | timeout | error | case | default
    curves: tuple[Curve, ...]  # from the source to the target; straight stretches are flat curves
    label_box: tuple[float, float, float, float] | None  # x, y, width, height
    label_at: Point  # where the label's text starts (left end of its baseline)
    back: bool = False  # leads back up (a loop in the flow)

    @property
    def path(self) -> str:
        """The SVG path data."""
        if not self.curves:
            return ""
        start = self.curves[0][0]
        parts = [f"M {start[0]:g} {start[1]:g}"]
        for _, c1, c2, end in self.curves:
            parts.append(f"C {c1[0]:g} {c1[1]:g}, {c2[0]:g} {c2[1]:g}, {end[0]:g} {end[1]:g}")
        return " ".join(parts)


@dataclass(frozen=True)
class Layout:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: float
    height: float
    start: str | None


def _short(text: Any, limit: int = LABEL_MAX) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    if kind == "http":
        # The host (or the endpoint's name) fits the box; the whole URL is in the step.
        url = step.get("url")
        try:
            where = urlsplit(url.split("{", 1)[0]).hostname if isinstance(url, str) else None
        except ValueError:  # a draft's half-written URL
            where = None
        return f"http {step.get('method', '?')} {where or step.get('endpoint', '?')}"
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
    if key == "events":
        return _short(rel[1]), "event"
    return _short(rel[1]), "outcome"


def label_width(label: str) -> float:
    """The width a label is given (generous: no arrow may run through it)."""
    return len(label) * CHAR_W + 6 if label else 0


def _steps(raw: dict) -> list[dict]:
    steps = raw.get("steps") if isinstance(raw, dict) else None
    if not isinstance(steps, list):
        return []
    seen: set[str] = set()
    out = []
    for step in steps:  # a draft's duplicate id draws once
        if isinstance(step, dict) and isinstance(step.get("id"), str) and step["id"] not in seen:
            seen.add(step["id"])
            out.append(step)
    return out


def _targets(step: dict) -> list[tuple[tuple, str]]:
    try:
        return [(rel, t) for rel, t in step_targets(step) if isinstance(t, str)]
    except (AttributeError, TypeError, KeyError):  # a draft's half-written mapping
        return []


@dataclass
class _Arrow:
    source: str
    target: str
    label: str
    kind: str
    back: bool = False
    top: str = ""  # the upper end once loops are turned round
    bottom: str = ""
    items: list[_Item] = field(default_factory=list)  # its slots in the rows between its ends


@dataclass
class _Item:
    row: int
    width: float
    anchor: float  # where, from the left, its arrow runs or its box's centre is
    node: str | None = None
    arrow: _Arrow | None = None
    label: str = ""
    x: float = 0.0  # left edge
    order: float = 0.0

    @property
    def centre(self) -> float:
        return self.x + self.anchor


def _reachable_order(ids: list[str], succ: dict[str, list[str]], start: str | None) -> list[str]:
    """Steps in the order a walk from ``start`` meets them, then the others in the order written."""
    order: list[str] = []
    seen: set[str] = set()
    roots = ([start] if start in succ else []) + ids
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        queue = [root]
        while queue:
            current = queue.pop(0)
            order.append(current)
            for nxt in succ[current]:
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
    return order


def _back_edges(ids: list[str], succ: dict[str, list[str]], start: str | None) -> set[tuple[str, str]]:
    """Arrows to a step still being walked (depth first from ``start``): the loops."""
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1: on the walk's stack, 2: done
    for root in ([start] if start in succ else []) + ids:
        if root in state:
            continue
        state[root] = 1
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(succ[root]))]
        while stack:
            current, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[current] = 2
                stack.pop()
            elif state.get(child) == 1:
                back.add((current, child))
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(succ[child])))
    return back


def _layers(order: list[str], arrows: list[_Arrow], reachable: set[str]) -> dict[str, int]:
    """Each step's layer: its longest way down from the top; unreachable steps below all reachable ones."""
    pred: dict[str, list[str]] = {n: [] for n in order}
    for arrow in arrows:
        if arrow.top != arrow.bottom:
            pred[arrow.bottom].append(arrow.top)
    layer: dict[str, int] = {}

    def depth(node: str) -> int:  # the downward arrows form no cycle: loops were turned round
        stack = [node]
        while stack:
            current = stack[-1]
            if current in layer:
                stack.pop()
                continue
            pending = [p for p in pred[current] if p not in layer]
            if pending:
                stack.extend(pending)
                continue
            floor = 0 if current in reachable else _floor
            layer[current] = max([floor] + [layer[p] + 1 for p in pred[current]])
            stack.pop()
        return layer[node]

    _floor = 0
    for node in order:
        if node in reachable:
            depth(node)
    _floor = max(layer.values(), default=-1) + 1
    for node in order:
        depth(node)
    return layer


def _pack(items: list[_Item], desired: list[float]) -> None:
    """Place a row's items in their order, each as near its desired centre as the ones beside it allow."""
    # Blocks of items that touch; each block sits where its items' wishes average out.
    blocks: list[tuple[int, int, float]] = []  # (first, last, left x of the block)
    offsets: list[float] = []
    for i in range(len(items)):
        offsets.append(0.0 if i == 0 else offsets[-1] + items[i - 1].width + ITEM_GAP)
    for i in range(len(items)):
        first, last = i, i
        wish = desired[i] - items[i].anchor - offsets[i]
        total, count = wish, 1
        while blocks:
            p_first, p_last, p_x = blocks[-1]
            if p_x < total / count:
                break
            blocks.pop()
            p_count = p_last - p_first + 1
            total += p_x * p_count
            count += p_count
            first = p_first
        blocks.append((first, last, total / count))
    for first, last, x in blocks:
        for i in range(first, last + 1):
            items[i].x = x + offsets[i]


def layout_flow(raw: dict) -> Layout:
    """Place every step of a flow's raw definition and route the arrows between them."""
    steps = _steps(raw)
    by_id = {s["id"]: s for s in steps}
    start = raw.get("start") if isinstance(raw, dict) else None
    start = start if isinstance(start, str) and start in by_id else None
    arrows: list[_Arrow] = []
    for step in steps:
        for rel, target in _targets(step):
            label, kind = _edge_label(step, rel)
            arrows.append(_Arrow(step["id"], target, label, kind))
    missing = sorted({a.target for a in arrows if a.target not in by_id})
    ids = [s["id"] for s in steps] + missing
    succ: dict[str, list[str]] = {n: [] for n in ids}
    for arrow in arrows:
        if arrow.target not in succ[arrow.source]:
            succ[arrow.source].append(arrow.target)
    order = _reachable_order(ids, succ, start)
    reachable = set(_reachable_order([], succ, start)) if start else set()
    back = _back_edges(ids, succ, start)
    for arrow in arrows:
        arrow.back = (arrow.source, arrow.target) in back
        arrow.top, arrow.bottom = (arrow.target, arrow.source) if arrow.back else (arrow.source, arrow.target)
    layer = _layers(order, arrows, reachable)
    rows_count = 2 * max(layer.values(), default=0) + 1

    # Slots: a box per step (wider by its loops' labels), a slot per arrow per row it passes.
    loops: dict[str, list[_Arrow]] = {n: [] for n in ids}
    for arrow in arrows:
        if arrow.source == arrow.target:
            loops[arrow.source].append(arrow)
    rows: list[list[_Item]] = [[] for _ in range(rows_count)]
    node_item: dict[str, _Item] = {}
    for node_id in order:
        extra = max((label_width(a.label) + 8 for a in loops[node_id]), default=-LOOP_OUT)
        item = _Item(2 * layer[node_id], NODE_W + LOOP_OUT + extra, NODE_W / 2, node=node_id)
        item.order = len(rows[item.row])
        rows[item.row].append(item)
        node_item[node_id] = item
    for arrow in arrows:
        if arrow.source == arrow.target:
            continue
        first, last = 2 * layer[arrow.top] + 1, 2 * layer[arrow.bottom] - 1
        label_row = last if arrow.back else first
        for passing in range(first, last + 1):
            label = arrow.label if passing == label_row else ""
            item = _Item(passing, SLOT_W + label_width(label), SLOT_W / 2, arrow=arrow, label=label)
            item.order = node_item[arrow.top].order + len(rows[passing]) / 100
            rows[passing].append(item)
            arrow.items.append(item)

    # Neighbours across rows: each arrow's chain, top box to bottom box.
    up: dict[int, list[_Item]] = {}
    down: dict[int, list[_Item]] = {}
    for arrow in arrows:
        if arrow.source == arrow.target:
            continue
        chain = [node_item[arrow.top], *arrow.items, node_item[arrow.bottom]]
        for upper, lower in pairwise(chain):
            down.setdefault(id(upper), []).append(lower)
            up.setdefault(id(lower), []).append(upper)

    def sort_row(row: list[_Item], neighbours: dict[int, list[_Item]]) -> None:
        for item in row:
            near = neighbours.get(id(item))
            if near:
                item.order = sum(n.order for n in near) / len(near)
        row.sort(key=lambda i: i.order)
        for position, item in enumerate(row):
            item.order = position

    for row in rows:
        row.sort(key=lambda i: i.order)
        for position, item in enumerate(row):
            item.order = position
    for _ in range(SWEEPS):
        for row in rows[1:]:
            sort_row(row, up)
        for row in reversed(rows[:-1]):
            sort_row(row, down)

    # Positions: pack the rows, then let each follow its neighbours' centres a few times.
    for row in rows:
        _pack(row, [0.0] * len(row))
    for sweep in range(2 * SWEEPS):
        sequence = rows if sweep % 2 == 0 else list(reversed(rows))
        for row in sequence:
            wishes = []
            for item in row:
                near = up.get(id(item), []) + down.get(id(item), [])
                wishes.append(sum(n.centre for n in near) / len(near) if near else item.centre)
            _pack(row, wishes)
    left = min((i.x for row in rows for i in row), default=0.0)
    for row in rows:
        for item in row:
            item.x += MARGIN - left
    tops: list[float] = []
    y = float(MARGIN)
    for index in range(rows_count):
        tops.append(y)
        y += (NODE_H if index % 2 == 0 else LABEL_H) + ROW_GAP
    height = y - ROW_GAP + MARGIN
    width = max((i.x + i.width for row in rows for i in row), default=0.0) + MARGIN

    nodes: list[Node] = []
    for node_id in order:
        item = node_item[node_id]
        x, y = item.x, tops[item.row]
        found = by_id.get(node_id)
        if found is None:
            nodes.append(Node(node_id, "missing", node_id, "no such step", x, y, missing=True, full_title=node_id))
            continue
        title = found.get("title") if found.get("type") == "approval" and found.get("title") else node_id
        nodes.append(
            Node(
                node_id,
                str(found.get("type", "?")),
                _short(title, TITLE_MAX),
                _short(_detail(found), DETAIL_MAX),
                x,
                y,
                unreachable=node_id not in reachable,
                full_title=" ".join(str(title).split()),
            )
        )
    edges = [_route(arrow, node_item, tops, arrows) for arrow in arrows]
    return Layout(tuple(nodes), tuple(edges), width, height, start)


def _ports(node: _Item, arrows: list[_Arrow], node_item: dict[str, _Item]) -> dict[tuple[int, str], float]:
    """Where each arrow leaves or enters a box: spread along its bottom and its top, in the order they go."""
    below: list[tuple[float, _Arrow]] = []
    above: list[tuple[float, _Arrow]] = []
    for arrow in arrows:
        if arrow.source == arrow.target:
            continue
        if arrow.top == node.node:
            below.append(((arrow.items or [node_item[arrow.bottom]])[0].centre, arrow))
        if arrow.bottom == node.node:
            above.append(((arrow.items or [node_item[arrow.top]])[-1].centre, arrow))
    ports: dict[tuple[int, str], float] = {}
    for side, group in (("bottom", below), ("top", above)):
        group.sort(key=lambda pair: pair[0])
        for k, (_, arrow) in enumerate(group):
            share = (k + 1) / (len(group) + 1)
            ports[(id(arrow), side)] = node.x + NODE_W * (0.15 + 0.7 * share)
    return ports


def _line(a: Point, b: Point) -> Curve:
    dx, dy = (b[0] - a[0]) / 3, (b[1] - a[1]) / 3
    return (a, (a[0] + dx, a[1] + dy), (a[0] + 2 * dx, a[1] + 2 * dy), b)


def _bend(a: Point, b: Point) -> Curve:
    middle = (a[1] + b[1]) / 2
    return (a, (a[0], middle), (b[0], middle), b)


def _route(arrow: _Arrow, node_item: dict[str, _Item], tops: list[float], arrows: list[_Arrow]) -> Edge:
    if arrow.source == arrow.target:  # out of the box's right side and back in
        box = node_item[arrow.source]
        right, y = box.x + NODE_W, tops[box.row]
        reach = right + LOOP_OUT + 8
        curve = ((right, y + 16), (reach, y + 4), (reach, y + NODE_H - 4), (right, y + 42))
        text_x, box_y = right + LOOP_OUT + 4, y + NODE_H / 2 - LABEL_H / 2
        label_box = (text_x - 2, box_y, label_width(arrow.label), LABEL_H) if arrow.label else None
        return Edge(arrow.source, arrow.target, arrow.label, arrow.kind, (curve,), label_box, (text_x + 1, box_y + 12))
    top, bottom = node_item[arrow.top], node_item[arrow.bottom]
    top_port = _ports(top, arrows, node_item)[(id(arrow), "bottom")]
    bottom_port = _ports(bottom, arrows, node_item)[(id(arrow), "top")]
    points: list[Point] = [(top_port, tops[top.row] + NODE_H)]
    label_box, label_at = None, (0.0, 0.0)
    for item in arrow.items:
        line_x, item_top = item.centre, tops[item.row]
        item_bottom = item_top + (NODE_H if item.row % 2 == 0 else LABEL_H)
        points += [(line_x, item_top), (line_x, item_bottom)]
        if item.label:
            label_box = (item.x + SLOT_W - 2, item_top, label_width(item.label), LABEL_H)
            label_at = (item.x + SLOT_W + 1, item_top + 12)
    points.append((bottom_port, tops[bottom.row]))
    curves = [
        _bend(points[i], points[i + 1]) if i % 2 == 0 else _line(points[i], points[i + 1])
        for i in range(len(points) - 1)
    ]
    if arrow.back:  # drawn from the source up to the target, so the arrowhead is at the target
        curves = [(d, c, b, a) for a, b, c, d in reversed(curves)]
    return Edge(arrow.source, arrow.target, arrow.label, arrow.kind, tuple(curves), label_box, label_at, arrow.back)
