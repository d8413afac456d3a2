"""Errors a definition can have, each pointing at its JSON path."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DefinitionError:
    """One problem in a definition: where it is (``$.steps[2].next``) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class InvalidDefinition(ValueError):
    """Raised when a definition that must be valid is not; carries every error."""

    def __init__(self, errors: list[DefinitionError]):
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


def join_path(base: str, *parts: str | int) -> str:
    """Extend a JSON path: ``join_path("$.steps", 2, "next") == "$.steps[2].next"``."""
    path = base
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path
