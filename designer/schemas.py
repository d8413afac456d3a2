"""Response bodies of the definitions API: what /openapi.json describes."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class VersionView(BaseModel):
    """One published version of a definition."""

    kind: str
    name: str
    version: int
    sha256: str
    author: str
    note: str
    created_at: str


class VersionText(VersionView):
    """A version with its YAML text."""

    text: str


class LiveDefinition(VersionView):
    live_version: int


class DefinitionList(BaseModel):
    definitions: list[LiveDefinition]


class VersionUsed(VersionView):
    """A version with how many orders started on it (rules and flows only) and, for flows, how many still run."""

    orders: int | None = None
    running: int | None = None


class DefinitionHistory(BaseModel):
    kind: str
    name: str
    live: VersionText
    versions: list[VersionUsed]


class Published(VersionView):
    """The version published (201), or the live one when the text was identical (200, ``created`` false)."""

    created: bool


class CheckedError(BaseModel):
    path: str
    message: str
    line: int | None


class CheckedCase(BaseModel):
    """A stored test case of the definition and whether it passed."""

    name: str
    passed: bool
    detail: str
    path: str
    line: int | None


class Check(BaseModel):
    """A validation's answer: ``kind`` and ``name`` are what the text says (null when it is no mapping)."""

    valid: bool
    kind: Any
    name: Any
    errors: list[CheckedError]
    tests: list[CheckedCase]


class Edited(Check):
    """A draft's text with structured edits written into it, and that text's validation."""

    text: str


class JsonSchema(BaseModel):
    """A JSON Schema (draft 2020-12) document."""

    model_config = ConfigDict(extra="allow")


class LogEntry(VersionView):
    """One publish and its diff against the version before (``previous_version`` null for the first)."""

    previous_version: int | None
    diff: str


class FiredRule(BaseModel):
    rule: str
    action: str
    reason: str


class ChangedOrder(BaseModel):
    """An order the draft rule set would decide differently."""

    order_id: str
    total: float
    channel: str
    before: str
    after: str
    fired: list[FiredRule]
    before_fired: list[FiredRule]
    created_at: str
    change: Literal["now_held", "no_longer_held", "other"]


class RulesWhatIf(BaseModel):
    kind: Literal["rules"]
    name: str
    summary: str
    baseline: str
    considered: int
    now_held: int
    no_longer_held: int
    other_changes: int
    unchanged: int
    fired_counts: dict[str, int]
    orders: list[ChangedOrder]


class PathChange(BaseModel):
    """An order the draft flow would take along another path.

    Each path is the order replayed (its recorded audit, events, decisions,
    timeouts and failures) past the waits it passed, to its end or the next
    wait it has not passed; ``before`` through the live version, ``after``
    through the draft. An outcome is the end status, ``waiting at <step>``, or
    ``fails: <why>``.
    """

    order_id: str
    before: list[str]
    after: list[str]
    before_outcome: str
    after_outcome: str


class FlowWhatIf(BaseModel):
    """The draft flow over recorded orders: ``orders`` lists those whose path changes; the counts are of all."""

    kind: Literal["flow"]
    name: str
    summary: str
    baseline: str
    considered: int
    changed: int
    unchanged: int
    ended: int
    waiting: int
    failing: int
    stops: dict[str, int]
    orders: list[PathChange]


WhatIf = Annotated[RulesWhatIf | FlowWhatIf, Field(discriminator="kind")]


class Draft(BaseModel):
    """Your unpublished text of a definition."""

    kind: str
    name: str
    author: str
    text: str
    updated_at: str


class DiffLine(BaseModel):
    """``kind`` is same, added, removed or skip (a fold)."""

    kind: str
    old_no: int | None
    new_no: int | None
    text: str


class VersionDiff(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    kind: str
    name: str
    from_version: int = Field(alias="from")
    to_version: int = Field(alias="to")
    added: int
    removed: int
    unified: str
    lines: list[DiffLine]


class MigrationInstance(BaseModel):
    """What a migration plan does with one waiting order or return."""

    kind: str
    id: str
    status: str
    step: str | None
    movable: bool
    target: str | None = None
    deadline: str | None = None
    reason: str = ""


class MigrationPreview(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    flow: str
    source: int = Field(alias="from")
    target: int = Field(alias="to")
    movable: int
    blocked: int
    moves: dict[str, int]
    stays: dict[str, int]
    instances: list[MigrationInstance]


class MigrationView(BaseModel):
    """A migration: its plan, who started it and its progress (status running, paused, completed or failed)."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    flow: str
    source: int = Field(alias="from")
    target: int = Field(alias="to")
    where: dict[str, list[str]]
    by: str
    plan: dict[str, Any]
    status: str
    moved: int
    already: int
    stayed: int
    failed: int
    batches: int
    error: str
    stays: list[dict[str, Any]]
    created_at: str
    finished_at: str | None


class PublishLog(BaseModel):
    """Every publish, newest first, and every migration of waiting instances with its plan and result."""

    entries: list[LogEntry]
    migrations: list[MigrationView]
