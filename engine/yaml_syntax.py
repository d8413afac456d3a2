"""YAML syntax errors in plain words, each at the line where the problem is.

The parser says where it gave up ("expected ',' or ']', but got ':'", at the
line after the mistake); an analyst needs where the mistake is and what to do:
"the [ opened on line 8 is never closed". Each message names its line first
(``engine.sourcemap`` reads it from there), so the designer marks that line.
"""

from __future__ import annotations

import re

from ruamel.yaml.error import MarkedYAMLError

_DUPLICATE = re.compile(r'found duplicate key "(.*?)"')
_CHARACTER = re.compile(r"found character '(.*?)' that cannot start any token")
_CLOSERS = {"[": "]", "{": "}"}


def _line(mark) -> int | None:
    return mark.line + 1 if mark is not None else None


def _unclosed_bracket(text: str) -> tuple[str, int] | None:
    """The last ``[`` or ``{`` that is never closed, and its line (quotes and comments skipped)."""
    stack: list[tuple[str, int]] = []
    for number, line in enumerate(text.splitlines(), 1):
        quote = ""
        for index, char in enumerate(line):
            if quote:
                if char == quote:
                    quote = ""
            elif char in "'\"" and (index == 0 or line[index - 1] in " \t[{,:"):
                quote = char
            elif char == "#" and (index == 0 or line[index - 1] in " \t"):
                break
            elif char in _CLOSERS:
                stack.append((char, number))
            elif stack and char == _CLOSERS[stack[-1][0]]:
                stack.pop()
    return stack[-1] if stack else None


def _key_line(lines: list[str], key: str, before: int) -> int | None:
    """The line above ``before`` where ``key:`` starts at the same indentation (the first of a duplicate)."""
    if not 1 <= before <= len(lines):
        return None
    indent = len(lines[before - 1]) - len(lines[before - 1].lstrip(" -"))
    for number in range(before - 1, 0, -1):
        line = lines[number - 1]
        stripped = line.lstrip(" -")
        if len(line) - len(stripped) == indent and re.match(rf"""["']?{re.escape(key)}["']?\s*:""", stripped):
            return number
    return None


def plain_message(text: str, exc: MarkedYAMLError) -> str:
    """What is wrong and where, in words, for a YAML text the parser refused."""
    problem = str(exc.problem or "")
    context = str(exc.context or "")
    at = _line(exc.problem_mark)
    opened = _line(exc.context_mark)
    column = exc.problem_mark.column + 1 if exc.problem_mark is not None else None
    lines = text.splitlines()
    line_text = lines[at - 1] if at is not None and 0 < at <= len(lines) else ""
    before = line_text[: (column or 1) - 1].rstrip()

    if "quoted scalar" in context and opened is not None:
        return f"the quote opened on line {opened} is never closed"
    for opener, kind in (("[", "flow sequence"), ("{", "flow mapping")):
        if kind in context and opened is not None:
            return (
                f"the {opener} opened on line {opened} is never closed "
                f"(a {_CLOSERS[opener]} is missing, or a comma between two items)"
            )
    if "stream end" in problem or "end of stream" in problem:
        bracket = _unclosed_bracket(text)
        if bracket is not None:
            return f"the {bracket[0]} opened on line {bracket[1]} is never closed"
    if (found := _DUPLICATE.search(problem)) and at is not None:
        key = found.group(1)
        first = _key_line(lines, key, at)
        also = f" (it is already on line {first})" if first else ""
        return f"line {at} repeats the key {key!r}{also}: a key may appear once in a mapping"
    if (found := _CHARACTER.search(problem)) and at is not None:
        character = found.group(1)
        if character == "\\t":
            return f"line {at} has a tab character: indent with spaces only"
        return f"on line {at}, a value cannot start with {character!r}: put the value in quotes"
    if problem == "mapping values are not allowed here" and at is not None:
        if ": " in before + " ":  # the key's colon came before: this one is inside the value
            return f"line {at} has a second ': ' in one value: put the value in quotes"
        return f"line {at} is indented more than the line it belongs to"
    if "could not find expected ':'" in problem and opened is not None:
        return f"line {opened} has no ':' after its key: write key: value"
    if "expected <block end>" in problem and at is not None:
        if before.endswith(("'", '"')):
            return f"line {at} has text after the closing quote: put all of the value inside the quotes"
        return f"line {at} is not indented like the lines around it: line up the keys of one mapping (or list)"
    if "expected the node content" in problem and at is not None:
        found_char = problem.rpartition("found ")[2].strip("'")
        return f"on line {at}, {found_char!r} is out of place: put the value in quotes if it is text"
    where = f"line {at}, column {column}: " if at is not None else ""
    return f"{where}YAML cannot read this: {problem or exc}"
