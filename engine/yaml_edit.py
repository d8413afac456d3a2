"""Structured edits written back into a definition's YAML text, in place.

The designer's structured editors (the rule builder, the form builder) change a
definition by a list of edits — set a value at a path, insert, remove or move a
list item, rename a key — applied here to the YAML text. The text stays the
source of truth: it is read with ruamel.yaml's round-trip loader, which keeps
comments, key order and quoting, edited, and written out again with the
indentation the text already uses. Lines the edits do not touch come back as
they were, character for character.

Comments between the items of a list belong to the item they precede ("# Prepaid
business orders carry no credit risk." introduces the rule under it): they move
with that item and go when it is removed; the comment after a list's last item
(which introduces whatever follows the list) stays at the end of the list.

Pure: no I/O. A bad edit raises ``EditError`` naming the edit and what is wrong.
"""

from __future__ import annotations

import difflib
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString, SingleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from engine.errors import join_path

OPS = ("set", "delete", "insert", "move", "rename")
MAX_EDITS = 200
# Indentation styles tried, (mapping, sequence, offset): the first one that writes the text back unchanged wins.
_STYLES = ((2, 4, 2), (2, 2, 0), (4, 6, 4), (4, 4, 0), (2, 2, 2), (4, 4, 2), (3, 5, 3))
# A new nested mapping or list this short is written on one line, as the shipped definitions do.
FLOW_WIDTH = 72
_NEEDS_QUOTES = re.compile(r"[=<>!'{}\[\]:#,&*|?%@`\"]")

Path = tuple[str | int, ...]


class EditError(ValueError):
    """An edit that cannot be applied: ``where`` names it (``edits[2].path``), ``message`` says why."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True)
class Edit:
    """One change. ``path`` leads from the document to the value (keys and list indices).

    - ``set``: the value at ``path`` becomes ``value`` (a missing key is added at the end of its mapping).
    - ``delete``: the key or list item at ``path`` goes.
    - ``insert``: ``value`` goes into the list at ``path`` before ``index`` (at the end without one);
      a missing list is created.
    - ``move``: the item of the list at ``path`` at ``index`` moves to position ``to``.
    - ``rename``: the key at ``path`` becomes ``to``, in the same place, with its value and comments.
    """

    op: str
    path: Path
    value: Any = None
    index: int | None = None
    to: Any = None


def parse_edits(raw: Any) -> list[Edit]:
    """Edits from JSON (``[{"op": "set", "path": ["rules", 0, "when"], "value": "..."}]``); EditError if malformed."""
    if not isinstance(raw, list):
        raise EditError("edits", "must be a list of edits")
    if len(raw) > MAX_EDITS:
        raise EditError("edits", f"at most {MAX_EDITS} edits at once")
    edits = []
    for number, item in enumerate(raw):
        where = f"edits[{number}]"
        if not isinstance(item, Mapping):
            raise EditError(where, "must be an object with op and path")
        op = item.get("op")
        if op not in OPS:
            raise EditError(f"{where}.op", f"{op!r} is not an edit; edits are {', '.join(OPS)}")
        path = item.get("path")
        if not isinstance(path, list) or not all(
            isinstance(p, str) or (isinstance(p, int) and not isinstance(p, bool)) for p in path
        ):
            raise EditError(f"{where}.path", "must be a list of keys (text) and list positions (whole numbers)")
        index, to = item.get("index"), item.get("to")
        if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
            raise EditError(f"{where}.index", "must be a whole number")
        if op == "move" and (index is None or not isinstance(to, int) or isinstance(to, bool)):
            raise EditError(where, "a move needs index (where the item is) and to (where it goes), whole numbers")
        if op == "rename" and (not isinstance(to, str) or not to):
            raise EditError(f"{where}.to", "a rename needs the new key, as text")
        if op in ("set", "delete", "rename") and not path:
            raise EditError(f"{where}.path", "the document itself cannot be replaced; name a key")
        if op in ("set", "insert") and "value" not in item:
            raise EditError(f"{where}.value", f"{op} needs a value")
        edits.append(Edit(op, tuple(path), item.get("value"), index, to))
    return edits


def _null(representer: Any, _: None) -> Any:
    # `null` stays written out: the round-trip writer would leave `key:` empty.
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _yaml(style: tuple[int, int, int]) -> YAML:
    yaml = YAML()
    yaml.representer.add_representer(type(None), _null)
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.brace_single_entry_mapping_in_flow_sequence = True
    mapping, sequence, offset = style
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _load(text: str) -> tuple[Any, YAML, str]:
    """The round-trip document, the writer that gives it back unchanged (or nearly) and that writing."""
    best: tuple[int, YAML, str] | None = None
    data: Any = None
    for style in _STYLES:
        yaml = _yaml(style)
        try:
            data = _settle(yaml.load(text))
        except YAMLError as exc:
            raise EditError("text", f"the YAML does not parse, so it cannot be edited: {exc}") from exc
        written = _dump(yaml, data)
        if written == text:
            return data, yaml, written
        changed = sum(1 for op in difflib.ndiff(text.splitlines(), written.splitlines()) if op[:1] in "+-")
        if best is None or changed < best[0]:
            best = (changed, yaml, written)
    assert best is not None
    yaml = best[1]
    return _settle(yaml.load(text)), yaml, best[2]


def _settle(node: Any) -> Any:
    """Lines between items held where the edits look for them: after the item they follow.

    After a flow-style value (``reason: {en: ..., zh: ...}``) the loader keeps the blank and comment
    lines that follow an item as a comment before the next item, or at the list's end; moved onto the
    trail of the item before, they write back the same and travel with it like any other item's."""
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            _settle(value)
            if (entry := node.ca.items.get(key)) is not None and not any(entry):
                del node.ca.items[key]  # an empty entry would hide a comment put above a list under this key
    elif isinstance(node, CommentedSeq):
        for value in node:
            _settle(value)
        for index in range(1, len(node)):
            entry = node.ca.items.get(index)
            if entry is not None and entry[1] and _block(node[index - 1]):
                _append_gap(node[index - 1], _text(entry[1]))
                entry[1] = None
        end = getattr(node.ca, "end", None)
        if end and len(node) and _block(node[-1]):
            _append_gap(node[-1], _text(end))
            node.ca.end = []
    return node


def _text(tokens: list[CommentToken]) -> str:
    return "".join(t.value if t.value.startswith("\n") else " " * t.column + t.value for t in tokens)


def _append_gap(item: Any, gap: str) -> None:
    where = _last_slot(item)
    trail = _slot_trail(*where, take=False) or _Trail("", 0, None)
    _set_slot(*where, _Trail(trail.eol, trail.column, (trail.gap or "") + gap))


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """``text`` with ``edits`` applied in order; comments, key order and untouched lines kept."""
    edits = list(edits)
    if not edits:
        return text
    data, yaml, unedited = _load(text)
    if not isinstance(data, CommentedMap):
        raise EditError("text", "a definition is a mapping (kind: ..., name: ...); this text is not")
    for number, edit in enumerate(edits):
        _apply(data, edit, f"edits[{number}]")
    edited = _dump(yaml, data)
    return _splice(text, unedited, edited)


def _splice(original: str, unedited: str, edited: str) -> str:
    """The changes from ``unedited`` to ``edited`` made to ``original`` (the writer may differ from the text
    in lines no edit touched: those stay as the analyst wrote them)."""
    if unedited == original:
        return edited
    base, old, new = original.splitlines(True), unedited.splitlines(True), edited.splitlines(True)
    # unedited line -> original line, where the two agree
    aligned: dict[int, int] = {}
    for block in difflib.SequenceMatcher(None, old, base, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            aligned[block.a + k] = block.b + k
    out: list[str] = []
    at = 0  # next original line not yet copied
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        # The hunk replaces unedited lines i1..i2; find the original lines they stand for.
        start = aligned.get(i1) if i1 < len(old) else len(base)
        end = aligned.get(i2 - 1) if i2 > i1 else None
        if start is None or (i2 > i1 and end is None) or start < at:
            return edited  # the hunk touches lines the writer changed: its whole text then
        stop = end + 1 if end is not None else start
        out.extend(base[at:start])
        out.extend(new[j1:j2])
        at = stop
    out.extend(base[at:])
    return "".join(out)


def _describe(path: Path) -> str:
    return join_path("$", *path)


def _walk(data: Any, path: Path, where: str) -> Any:
    node = data
    for depth, key in enumerate(path):
        here = _describe(path[: depth + 1])
        if isinstance(node, CommentedMap):
            if key not in node:
                known = ", ".join(str(k) for k in node) or "none"
                raise EditError(f"{where}.path", f"{here} does not exist (keys there: {known})")
            node = node[key]
        elif isinstance(node, CommentedSeq):
            if not isinstance(key, int) or not -len(node) <= key < len(node):
                raise EditError(f"{where}.path", f"{here} does not exist (the list has {len(node)} items)")
            node = node[key]
        else:
            raise EditError(f"{where}.path", f"{_describe(path[:depth])} is a single value, not a mapping or list")
    return node


def _parent(data: Any, path: Path, where: str, create: bool = False) -> Any:
    """The mapping or list holding ``path[-1]``; with ``create``, missing mappings on the way are added."""
    node = data
    for depth, key in enumerate(path[:-1]):
        if create and isinstance(node, CommentedMap) and key not in node and isinstance(key, str):
            node[key] = CommentedMap()
        try:
            node = _walk(node, (key,), where)
        except EditError as exc:
            raise EditError(exc.where, f"{_describe(path[: depth + 1])} does not exist") from None
    if not isinstance(node, (CommentedMap, CommentedSeq)):
        raise EditError(f"{where}.path", f"{_describe(path[:-1])} is a single value, not a mapping or list")
    return node


def _apply(data: CommentedMap, edit: Edit, where: str) -> None:
    if edit.op == "set":
        _set(data, edit, where)
    elif edit.op == "delete":
        parent = _parent(data, edit.path, where)
        key = edit.path[-1]
        _walk(data, edit.path, where)  # says which part is missing
        if isinstance(parent, CommentedSeq):
            assert isinstance(key, int)
            _remove(parent, key if key >= 0 else len(parent) + key)
        else:
            _delete_key(parent, key)
    elif edit.op == "insert":
        _insert(data, edit, where)
    elif edit.op == "move":
        seq = _walk(data, edit.path, where)
        if not isinstance(seq, CommentedSeq):
            raise EditError(f"{where}.path", f"{_describe(edit.path)} is not a list")
        assert edit.index is not None and isinstance(edit.to, int)
        for name, position in (("index", edit.index), ("to", edit.to)):
            if not 0 <= position < len(seq):
                raise EditError(f"{where}.{name}", f"{position} is outside the list (it has {len(seq)} items)")
        _move(seq, edit.index, edit.to)
    else:
        _rename(data, edit, where)


def _set(data: CommentedMap, edit: Edit, where: str) -> None:
    parent = _parent(data, edit.path, where, create=True)
    key = edit.path[-1]
    if isinstance(parent, CommentedSeq):
        old = _walk(parent, (key,), where)
        assert isinstance(key, int)
        parent[key] = _node(edit.value, old, nested=not _block(old) and parent.fa.flow_style())
        return
    if not isinstance(key, str):
        raise EditError(f"{where}.path", f"{_describe(edit.path[:-1])} is a mapping: name a key, not a position")
    old = parent.get(key)
    # A new mapping or list under a key is a one-liner when short, unless it replaces a block of lines.
    new = _node(edit.value, old, nested=not _block(old))
    if key in parent and (_block(old) or _block(new)):
        # What trails the old value (the comment introducing the next key) trails the new one.
        gap = _gap_after(parent, key)
        parent[key] = new
        if gap:
            _put_gap_after(parent, key, gap)
        return
    parent[key] = new


def _delete_key(parent: CommentedMap, key: Any) -> None:
    keys = list(parent)
    position = keys.index(key)
    # The lines after the key's value introduce the next key (or follow the mapping): they stay.
    gap = _gap_after(parent, key)
    del parent[key]
    parent.ca.items.pop(key, None)
    if position > 0 and gap:
        before = keys[position - 1]
        trail = _gap_after(parent, before)
        _put_gap_after(parent, before, gap if trail is None else trail + gap)


def _insert(data: CommentedMap, edit: Edit, where: str) -> None:
    parent = _parent(data, edit.path, where, create=True)
    key = edit.path[-1] if edit.path else None
    if edit.path and isinstance(parent, CommentedMap) and key not in parent:
        parent[key] = CommentedSeq()
    seq = _walk(data, edit.path, where)
    if not isinstance(seq, CommentedSeq):
        raise EditError(f"{where}.path", f"{_describe(edit.path)} is not a list")
    index = len(seq) if edit.index is None else edit.index
    if not 0 <= index <= len(seq):
        raise EditError(f"{where}.index", f"{index} is outside the list (it has {len(seq)} items)")
    value = _node(edit.value, None, nested=False)
    neighbour = seq[min(index, len(seq) - 1)] if len(seq) else None
    if isinstance(value, CommentedMap) and isinstance(neighbour, CommentedMap) and neighbour.fa.flow_style():
        _flow(value)  # the list's items are one-liners: so is the new one
    if seq.fa.flow_style() or not len(seq):
        seq.insert(index, value)
        return
    items = _detach(seq)
    for part, new in ((items.values, value), (items.entries, None), (items.leads, None)):
        part.insert(index, new)
    _attach(seq, items)


def _remove(seq: CommentedSeq, index: int) -> None:
    if seq.fa.flow_style() or len(seq) == 1:
        del seq[index]
        return
    items = _detach(seq)
    lead = items.leads[index]
    for part in (items.values, items.entries, items.leads):
        del part[index]
    if index == 0 and items.leads:  # the lines above the list stay above it
        items.leads[0] = lead
        items.first = id(items.values[0])
    _attach(seq, items)


def _move(seq: CommentedSeq, index: int, to: int) -> None:
    if seq.fa.flow_style():
        value = seq.pop(index)
        seq.insert(to, value)
        return
    items = _detach(seq)
    for part in (items.values, items.entries, items.leads):
        part.insert(to, part.pop(index))
    _attach(seq, items)


def _rename(data: CommentedMap, edit: Edit, where: str) -> None:
    parent = _parent(data, edit.path, where)
    key = edit.path[-1]
    _walk(data, edit.path, where)
    if not isinstance(parent, CommentedMap):
        raise EditError(f"{where}.path", f"{_describe(edit.path)} is a list item; only keys are renamed")
    new = edit.to
    if new == key:
        return
    if new in parent:
        raise EditError(f"{where}.to", f"{_describe(edit.path[:-1])} already has a key {new!r}")
    position = list(parent).index(key)
    value = parent[key]
    comment = parent.ca.items.pop(key, None)
    del parent[key]
    parent.insert(position, new, value)
    if comment is not None:
        parent.ca.items[new] = comment


# -- the comments between list items ---------------------------------------------------------------


@dataclass
class _Trail:
    """What a comment token after a value holds: an end-of-line comment and the lines after it."""

    eol: str  # "# why\n", or "" when the line has no comment
    column: int
    gap: str | None  # the lines after it, up to the next item or key: blank lines and comment lines


def _read(token: CommentToken | None) -> _Trail | None:
    if token is None or not token.value:
        return None
    value = token.value
    if value.startswith("\n"):
        return _Trail("", 0, value[1:] or None)
    eol, _, rest = value.partition("\n")
    return _Trail(eol + "\n", token.column, rest or None)


def _written(trail: _Trail) -> CommentToken | None:
    if not trail.eol and not trail.gap:
        return None
    return _token((trail.eol or "\n") + (trail.gap or ""), trail.column if trail.eol else 0)


def _token(value: str, column: int) -> CommentToken:
    return CommentToken(value, CommentMark(column), None)


def _block(node: Any) -> bool:
    return isinstance(node, (CommentedMap, CommentedSeq)) and len(node) > 0 and not node.fa.flow_style()


def _last_slot(node: Any) -> tuple[Any, Any]:
    """The mapping and key, or list and index, whose comment holds what trails the block ``node``."""
    key = list(node)[-1] if isinstance(node, CommentedMap) else len(node) - 1
    child = node[key]
    return _last_slot(child) if _block(child) else (node, key)


def _slot_trail(container: Any, key: Any, take: bool) -> _Trail | None:
    position = 2 if isinstance(container, CommentedMap) else 0
    entry = container.ca.items.get(key)
    if entry is None or entry[position] is None:
        return None
    trail = _read(entry[position])
    if take:
        entry[position] = None
        if not any(part is not None for part in entry):
            container.ca.items.pop(key, None)
    return trail


def _set_slot(container: Any, key: Any, trail: _Trail) -> None:
    position = 2 if isinstance(container, CommentedMap) else 0
    token = _written(trail)
    entry = container.ca.items.get(key)
    if token is None:
        if entry is not None:
            entry[position] = None
        return
    if entry is None:
        entry = container.ca.items[key] = [None, None, None, None]
    entry[position] = token


def _gap_after(container: Any, key: Any) -> str | None:
    """Take the lines after the value at ``key`` (its end-of-line comment stays)."""
    value = container[key]
    where = _last_slot(value) if _block(value) else (container, key)
    trail = _slot_trail(*where, take=False)
    if trail is None:
        return None
    _set_slot(*where, _Trail(trail.eol, trail.column, None))
    return trail.gap


def _put_gap_after(container: Any, key: Any, gap: str | None) -> None:
    value = container[key]
    where = _last_slot(value) if _block(value) else (container, key)
    trail = _slot_trail(*where, take=False) or _Trail("", 0, None)
    _set_slot(*where, _Trail(trail.eol, trail.column, gap))


def _start_comment(seq: CommentedSeq) -> str | None:
    """The lines between a list's key and its first item, taken off the list."""
    if not seq.ca.comment or not seq.ca.comment[1]:
        return None
    tokens = seq.ca.comment[1]
    text = _text(tokens)
    del tokens[:]  # the same list the parent mapping holds for the key
    return text or None


def _lines(text: str) -> list[CommentToken]:
    """Comment lines and blank lines as the tokens that stand before an item."""
    return [
        _token(line.lstrip(" "), len(line) - len(line.lstrip(" "))) if line.strip() else _token("\n", 0)
        for line in text.splitlines(True)
    ]


def _set_start_comment(seq: CommentedSeq, text: str) -> None:
    tokens = _lines(text)
    if seq.ca.comment and seq.ca.comment[1] is not None:
        seq.ca.comment[1].extend(tokens)
    else:
        seq.ca.comment = [None, tokens]


@dataclass
class _Items:
    """A block list taken apart: each item with its own comments and the lines before it, and the lines after
    the list. The first item's lines before it are those between the list's key and the list."""

    values: list[Any]
    entries: list[Any]
    leads: list[str | None]
    tail: str | None
    first: int  # id() of the first item as it was: only it keeps blank lines above the list
    spaced: bool  # the items are set apart by blank lines


def _detach(seq: CommentedSeq) -> _Items:
    gaps = [_gap_after(seq, index) if _block(value) else _scalar_gap(seq, index) for index, value in enumerate(seq)]
    entries = [seq.ca.items.get(index) for index in range(len(seq))]
    leads = [_start_comment(seq)]
    for index in range(1, len(seq)):
        entry = entries[index]
        before = entry[1] if entry is not None and len(entry) > 1 else None
        text = "".join(t.value if t.value.startswith("\n") else " " * t.column + t.value for t in before or [])
        if entry is not None and before:
            entry[1] = None
        leads.append(((gaps[index - 1] or "") + text) or None)
    spaced = any(lead is not None and lead.startswith("\n") for lead in leads[1:])
    items = _Items(list(seq), entries, leads, gaps[-1], id(seq[0]), spaced)
    seq.ca.items.clear()
    del seq[:]
    return items


def _scalar_gap(seq: CommentedSeq, index: int) -> str | None:
    trail = _slot_trail(seq, index, take=False)
    if trail is None:
        return None
    _set_slot(seq, index, _Trail(trail.eol, trail.column, None))
    return trail.gap


def _attach(seq: CommentedSeq, items: _Items) -> None:
    for index, (value, entry) in enumerate(zip(items.values, items.entries, strict=True)):
        seq.append(value)
        if entry is not None and any(part is not None for part in entry):
            seq.ca.items[index] = entry
    for index in range(len(items.values)):
        lead = items.leads[index]
        if index == 0:
            if lead and id(items.values[0]) != items.first:
                lead = "".join(line for line in lead.splitlines(True) if line.strip()) or None
            if lead:
                _set_start_comment(seq, lead)
            continue
        if items.spaced and not (lead or "").startswith("\n"):
            lead = "\n" + (lead or "")
        if lead:
            entry = seq.ca.items.setdefault(index, [None, None, None, None])
            entry[1] = _lines(lead)
    if items.values:
        _put_gap_after(seq, len(items.values) - 1, items.tail)


# -- values ---------------------------------------------------------------------------------------


def _node(value: Any, old: Any, nested: bool) -> Any:
    """A JSON value as a YAML node: a text keeps the quotes of the one it replaces; new nested mappings and
    lists that are short go on one line."""
    if isinstance(value, Mapping):
        node = CommentedMap()
        for k, v in value.items():
            node[str(k)] = _node(v, None, nested=True)
        if nested and _short(value):
            _flow(node)
        return node
    if isinstance(value, (list, tuple)):
        seq = CommentedSeq(_node(v, None, nested=True) for v in value)
        if nested and _short(value):
            _flow(seq)
        return seq
    if isinstance(value, str):
        if isinstance(old, DoubleQuotedScalarString):
            return DoubleQuotedScalarString(value)
        if isinstance(old, SingleQuotedScalarString):
            return SingleQuotedScalarString(value)
        if isinstance(old, str):
            return value
        if "\n" in value.strip("\n"):
            # A text of several lines (an http step's body, a template) is a block, as people write it.
            return LiteralScalarString(value if value.endswith("\n") else value + "\n")
        # An expression or a text with markup reads best quoted, as the shipped definitions write them;
        # one holding double quotes (JSON) in single quotes, so that it reads as written.
        if _NEEDS_QUOTES.search(value) and " " in value:
            single = '"' in value and "'" not in value
            return SingleQuotedScalarString(value) if single else DoubleQuotedScalarString(value)
        return value
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise EditError("value", f"{type(value).__name__} is not a value a definition holds")


def _short(value: Any) -> bool:
    text = json.dumps(value, ensure_ascii=False)
    return len(text) <= FLOW_WIDTH and "\\n" not in text  # a text of several lines is a block: not in a one-liner


def _flow(node: Any) -> None:
    node.fa.set_flow_style()
    for child in node.values() if isinstance(node, CommentedMap) else node:
        if isinstance(child, (CommentedMap, CommentedSeq)):
            _flow(child)


def plain(data: Any) -> Any:
    """A loaded document as plain dicts, lists and scalars (for JSON)."""
    if isinstance(data, Mapping):
        return {str(k): plain(v) for k, v in data.items()}
    if isinstance(data, Sequence) and not isinstance(data, str):
        return [plain(v) for v in data]
    return data
