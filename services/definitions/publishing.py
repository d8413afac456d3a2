"""Publishing definitions as immutable, numbered, content-addressed versions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from engine.definitions import (
    KINDS,
    NAME_PATTERN,
    Source,
    check_references,
    load_yaml,
    validate_text,
)
from engine.diff import unified
from engine.errors import DefinitionError, InvalidDefinition
from oms.models import DefinitionDraft, DefinitionVersion
from services.definitions.live import LiveDefinition
from workflows.contracts import DefinitionRef

# Publish order: a flow names forms and rule sets, so those go first.
KIND_ORDER = {
    "form": 0,
    "regions": 0,
    "promotions": 0,
    "allocation": 0,
    "rules": 1,
    "flow": 2,
    "channel": 3,
    "carriers": 0,
    "payments": 0,
    "template": 0,
}


def known_definitions(session: Session) -> set[tuple[str, str]]:
    return set(session.exec(select(DefinitionVersion.kind, DefinitionVersion.name).distinct()).all())


def latest(session: Session, kind: str, name: str) -> DefinitionVersion | None:
    return session.exec(
        select(DefinitionVersion)
        .where(DefinitionVersion.kind == kind, DefinitionVersion.name == name)
        .order_by(col(DefinitionVersion.version).desc())
        .limit(1)
    ).first()


def ref(row: DefinitionVersion | LiveDefinition) -> DefinitionRef:
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
    kind, name = source.kind, source.name
    assert kind is not None and name is not None  # the schema requires both; it found no error
    current = latest(session, kind, name)
    if current is not None and current.sha256 == source.sha256:
        return Published(current, False)
    row = DefinitionVersion(
        kind=kind,
        name=name,
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
        raise InvalidDefinition(
            [DefinitionError("$", "another version was published at the same time; try again")]
        ) from exc
    discard_draft(session, row.kind, row.name, author)  # the draft is now the live text
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


def publish_files(
    session: Session, files: list[Path], author: str, skip: AbstractSet[tuple[str, str]] = frozenset()
) -> list[Published]:
    """Publish shipped definitions in dependency order, except the (kind, name)s in ``skip``.

    Fails whole on any error.
    """
    problems = validate_files(files)
    if problems:
        raise InvalidDefinition([DefinitionError(f"{f}:{e.path}", e.message) for f, e in problems])
    sources = sorted(
        ((validate_text(f.read_text(encoding="utf-8")), f) for f in files),
        key=lambda pair: (KIND_ORDER.get(pair[0].kind or "", 9), str(pair[1])),
    )
    return [
        publish(session, source.text, author, note=f"shipped {file.name}")
        for source, file in sources
        if (source.kind, source.name) not in skip
    ]


def version_counts(session: Session) -> dict[tuple[str, str], int]:
    rows = session.exec(
        select(DefinitionVersion.kind, DefinitionVersion.name, func.max(DefinitionVersion.version)).group_by(
            DefinitionVersion.kind, DefinitionVersion.name
        )
    ).all()
    return {(k, n): v for k, n, v in rows}


# --- history, rollback and the publish log ---------------------------------------------------------


def versions_of(session: Session, kind: str, name: str) -> list[DefinitionVersion]:
    """Every version of one definition, newest first."""
    return list(
        session.exec(
            select(DefinitionVersion)
            .where(DefinitionVersion.kind == kind, DefinitionVersion.name == name)
            .order_by(col(DefinitionVersion.version).desc())
        ).all()
    )


def version_of(session: Session, kind: str, name: str, version: int) -> DefinitionVersion | None:
    return session.exec(
        select(DefinitionVersion).where(
            DefinitionVersion.kind == kind, DefinitionVersion.name == name, DefinitionVersion.version == version
        )
    ).first()


def rollback(session: Session, kind: str, name: str, version: int, author: str, note: str = "") -> Published:
    """Publish an old version's text again, as a new version (history is never rewritten).

    The old text is validated like any other: its references must still
    resolve and its test cases pass. Raises LookupError for an unknown version.
    """
    row = version_of(session, kind, name, version)
    if row is None:
        raise LookupError(f"no {kind} {name!r} version {version}")
    return publish(session, row.body, author, note=note or f"rollback to v{version}")


@dataclass(frozen=True)
class LogEntry:
    """One publish: the version, who, when, why, and the diff against the version before it."""

    row: DefinitionVersion
    previous: int | None
    diff: str


def publish_log(session: Session, limit: int = 100, kind: str | None = None, name: str | None = None) -> list[LogEntry]:
    """Every publish, newest first, each with its unified diff.

    Versions are immutable and never deleted, so the versions table is the
    audit log itself; the diff is computed against the version before.
    """
    query = select(DefinitionVersion)
    if kind:
        query = query.where(DefinitionVersion.kind == kind)
    if name:
        query = query.where(DefinitionVersion.name == name)
    rows = session.exec(
        query.order_by(col(DefinitionVersion.created_at).desc(), col(DefinitionVersion.id).desc()).limit(limit)
    ).all()
    entries = []
    for row in rows:
        previous = version_of(session, row.kind, row.name, row.version - 1) if row.version > 1 else None
        diff = unified(
            previous.body if previous else "",
            row.body,
            f"{row.kind}/{row.name} v{previous.version}" if previous else "(nothing)",
            f"{row.kind}/{row.name} v{row.version}",
        )
        entries.append(LogEntry(row, previous.version if previous else None, diff))
    return entries


# --- drafts ---------------------------------------------------------------------------------------


def draft_identity(text: str) -> tuple[str, str]:
    """(kind, name) a draft is filed under; raises InvalidDefinition when the text does not say them.

    A draft may have any other problem: saving one never runs it.
    """
    raw, errors = load_yaml(text)
    if errors:
        raw = None
    kind = raw.get("kind") if isinstance(raw, dict) else None
    name = raw.get("name") if isinstance(raw, dict) else None
    problems = []
    if kind not in KINDS:
        problems.append(DefinitionError("$.kind", f"a draft needs a known kind ({', '.join(KINDS)})"))
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        problems.append(DefinitionError("$.name", "a draft needs a name: lower-case letters, digits and _"))
    if problems:
        raise InvalidDefinition(problems)
    assert isinstance(kind, str) and isinstance(name, str)  # both checked above
    return kind, name


def save_draft(session: Session, text: str, author: str) -> DefinitionDraft:
    """Keep ``text`` as ``author``'s draft of its definition, replacing an earlier one."""
    kind, name = draft_identity(text)
    draft = get_draft(session, kind, name, author) or DefinitionDraft(kind=kind, name=name, author=author, body="")
    draft.body = text
    draft.updated_at = datetime.now(UTC)
    session.add(draft)
    session.flush()
    return draft


def get_draft(session: Session, kind: str, name: str, author: str) -> DefinitionDraft | None:
    return session.exec(
        select(DefinitionDraft).where(
            DefinitionDraft.kind == kind, DefinitionDraft.name == name, DefinitionDraft.author == author
        )
    ).first()


def discard_draft(session: Session, kind: str, name: str, author: str) -> bool:
    draft = get_draft(session, kind, name, author)
    if draft is None:
        return False
    session.delete(draft)
    session.flush()
    return True
