"""Where a JSON path of a definition is in its text: the line an error points at.

ruamel.yaml's node graph (``compose``, the C parser when ruamel.yaml.clib is
installed) keeps every key's and item's position, so ``$.rules[3].when``
finds the line of ``when:`` in the fourth rule; it is several times faster
than a round-trip load of the same text. A path that goes deeper than the
text (a missing key) points at the deepest node that exists, which is where
the key belongs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from engine.errors import DefinitionError

_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]")
_SYNTAX_LINE = re.compile(r"at line (\d+)")


def path_parts(path: str) -> list[str | int]:
    """``$.rules[3].when`` -> ``['rules', 3, 'when']``."""
    parts: list[str | int] = []
    for key, index, quoted in _PART.findall(path[1:] if path.startswith("$") else path):
        parts.append(int(index) if index else (key or quoted))
    return parts


def compose(text: str) -> Node | None:
    """The YAML node graph of ``text`` (positions, no values); None when it does not parse."""
    try:
        return YAML(typ="safe").compose(text)
    except YAMLError:
        return None
    except Exception:  # a few malformed inputs raise plain errors; no lines then
        return None


def line_of(root: Node | None, path: str) -> int:
    """The 1-based line of ``path`` in a composed document (1 when unknown)."""
    node, line = root, 1
    if node is not None:
        line = node.start_mark.line + 1
    for part in path_parts(path):
        if isinstance(node, MappingNode) and isinstance(part, str):
            found = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
            if found is None:
                break
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def error_lines(text: str, errors: Iterable[DefinitionError]) -> list[int]:
    """The line of each error, in order; a YAML syntax error gives its own line."""
    errors = list(errors)
    document = None
    lines = []
    for error in errors:
        found = _SYNTAX_LINE.search(error.message) if error.path == "$" else None
        if found:
            lines.append(int(found.group(1)))
            continue
        if document is None:
            document = compose(text)
        lines.append(line_of(document, error.path) if document is not None else 1)
    return lines
