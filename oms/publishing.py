"""Publishing definitions as immutable, numbered, content-addressed versions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from activities.contracts import DefinitionRef
from engine.definitions import Source, check_references, validate_text
from engine.errors import DefinitionError, InvalidDefinition
from oms.models import DefinitionVersion

# Publish order: a flow names forms and rule sets, so those go first.
KIND_ORDER = {"form": 0, "regions": 0, "promotions": 0, "rules": 1, "flow": 2, "channel": 3}


def known_definitions(session: Session) -> set[tuple[str, str]]:
    return set(session.exec(select(DefinitionVersion.kind, DefinitionVersion.name).distinct()).all())


def latest(session: Session, kind: str, name: str) -> DefinitionVersion | None:
    return session.exec(
        select(DefinitionVersion)
        .where(DefinitionVersion.kind == kind, DefinitionVersion.name == name)
        .order_by(DefinitionVersion.version.desc())
        .limit(1)
    ).first()


def ref(row: DefinitionVersion) -> DefinitionRef:
    return DefinitionRef(kind=row.kind, name=row.name, version=row.version, sha256=row.sha256)


def validate(session: Session, text: str) -> Source:
    """Every error of ``text``, references resolved against what is published."""
    return validate_text(text, known_definitions(session))


@dataclass(frozen=True)
class Published:
    row: DefinitionVersion
    created: bool


def publish(session: Session, text: str, author: str, note: str = "") -> Published:
    """Store ``text`` as the next version unless it equals the live one.

    Raises InvalidDefinition with every error; nothing is written then.
    """
    source = validate(session, text)
    if source.errors:
        raise InvalidDefinition(list(source.errors))
    current = latest(session, source.kind, source.name)
    if current is not None and current.sha256 == source.sha256:
        return Published(current, False)
    row = DefinitionVersion(
        kind=source.kind,
        name=source.name,
        version=(current.version + 1) if current else 1,
        sha256=source.sha256,
        body=text,
        author=author,
        note=note,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:  # two publishers raced for the same number
        raise InvalidDefinition([DefinitionError("$", "another version was published at the same time; try again")]) from exc
    return Published(row, True)


def definition_files(paths: Iterable[Path]) -> list[Path]:
    """YAML files named or found in folders (``schemas/`` inside them is not a definition)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*.y*ml")) if "schemas" not in p.relative_to(path).parts)
        else:
            files.append(path)
    return files


def read_definition(file: Path) -> Source:
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return Source("", None, (DefinitionError("$", f"not UTF-8 text (byte {exc.start}); save the file as UTF-8"),))
    return validate_text(text)


def validate_files(files: list[Path]) -> list[tuple[Path, DefinitionError]]:
    """Validate files as one set: references may point at any file of the set."""
    sources = {f: read_definition(f) for f in files}
    known = {(s.kind, s.name) for s in sources.values() if s.kind and s.name}
    problems: list[tuple[Path, DefinitionError]] = []
    for file, source in sources.items():
        errors = list(source.errors) or check_references(source, known)
        problems.extend((file, e) for e in errors)
    return problems


def publish_files(session: Session, files: list[Path], author: str) -> list[Published]:
    """Publish shipped definitions in dependency order; fails whole on any error."""
    problems = validate_files(files)
    if problems:
        raise InvalidDefinition([DefinitionError(f"{f}:{e.path}", e.message) for f, e in problems])
    sources = sorted(
        ((validate_text(f.read_text(encoding="utf-8")), f) for f in files),
        key=lambda pair: (KIND_ORDER.get(pair[0].kind, 9), str(pair[1])),
    )
    return [publish(session, source.text, author, note=f"shipped {file.name}") for source, file in sources]


def version_counts(session: Session) -> dict[tuple[str, str], int]:
    rows = session.exec(
        select(DefinitionVersion.kind, DefinitionVersion.name, func.max(DefinitionVersion.version)).group_by(
            DefinitionVersion.kind, DefinitionVersion.name
        )
    ).all()
    return {(k, n): v for k, n, v in rows}
