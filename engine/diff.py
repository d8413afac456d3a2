"""Readable differences between two versions of a definition's text."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class DiffLine:
    """One line of a diff: ``kind`` is ``same``, ``added``, ``removed`` or ``skip`` (a fold)."""

    kind: str
    old_no: int | None
    new_no: int | None
    text: str


def unified(old: str, new: str, old_label: str, new_label: str, context: int = 3) -> str:
    """The classic unified diff, as stored in the publish log and shown as text."""
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=old_label,
            tofile=new_label,
            n=context,
        )
    ).replace("\n\\ No newline at end of file", "")


def diff_lines(old: str, new: str, context: int = 3) -> list[DiffLine]:
    """Line by line with numbers on both sides; long unchanged stretches folded to ``context`` lines."""
    a, b = old.splitlines(), new.splitlines()
    out: list[DiffLine] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        if out:
            out.append(DiffLine("skip", None, None, "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(DiffLine("same", i1 + k + 1, j1 + k + 1, a[i1 + k]) for k in range(i2 - i1))
                continue
            if tag in ("replace", "delete"):
                out.extend(DiffLine("removed", i + 1, None, a[i]) for i in range(i1, i2))
            if tag in ("replace", "insert"):
                out.extend(DiffLine("added", None, j + 1, b[j]) for j in range(j1, j2))
    return out


def change_counts(lines: list[DiffLine]) -> tuple[int, int]:
    """(added, removed) lines."""
    return sum(line.kind == "added" for line in lines), sum(line.kind == "removed" for line in lines)
