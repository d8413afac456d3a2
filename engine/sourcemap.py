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
# A syntax error at "$" names its line first (engine/yaml_syntax.py); so does an alias refused.
_SYNTAX_LINE = re.compile(r"\bline (\d+)")


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


_TESTS_KEY = re.compile(r"^tests\s*:\s*(#.*)?$")
_CASE_NAME = re.compile(r"^name\s*:\s*(.*?)\s*(#.*)?$")


def stored_cases(text: str) -> list[tuple[str, int]]:
    """(name, line) of each stored test case under ``tests:``, even in a text that does not parse.

    A text with a syntax error has no document to read them from, so its lines
    are read instead: each ``name:`` that starts a case, up to the next
    top-level key.
    """
    document = compose(text)
    if isinstance(document, MappingNode):
        tests = next((v for k, v in document.value if getattr(k, "value", None) == "tests"), None)
        if not isinstance(tests, SequenceNode):
            return []
        out = []
        for case in tests.value:
            if not isinstance(case, MappingNode):
                continue
            name = next((v for k, v in case.value if getattr(k, "value", None) == "name"), None)
            if name is not None:
                out.append((str(name.value), case.start_mark.line + 1))
        return out
    cases: list[tuple[str, int]] = []
    inside, dash, start, named = False, -1, 0, True
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if _TESTS_KEY.match(line):
            inside, dash = True, -1
            continue
        if not inside or not stripped or stripped.startswith("#"):
            continue
        if indent == 0 and not stripped.startswith("-"):
            inside = False  # the next top-level key
            continue
        if stripped.startswith("-") and dash in (-1, indent):
            dash, start, named = indent, number, False
            stripped = stripped[1:].lstrip()
            indent = dash + 2
        found = _CASE_NAME.match(stripped)
        if found and not named and dash >= 0 and indent == dash + 2:
            cases.append((found.group(1).strip("'\""), start))
            named = True
    return cases
