"""Dataclasses passed between workflows and activities (one in, one out).

Fields may be added with defaults; never removed or renamed, so that running
workflows keep replaying.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The repair task a failed flow opens (workflows/flow.py; services/orders/repair.py for a workflow that
# was terminated): who decides it, what they may decide, its title and (informative) due time. The
# flow waits for the decision without a timeout: a failed order needs a person.
REPAIR_ROLE = "operator"
REPAIR_DECISIONS = ("retry", "cancel", "handled")
REPAIR_TITLE = "Repair failed flow"
REPAIR_DUE_SECONDS = 24 * 3600.0


@dataclass
class DefinitionRef:
    kind: str
    name: str
    version: int
    sha256: str


@dataclass
class OrderInput:
    """What an order workflow starts with: the order and the pinned definitions."""

    order_id: str
    order: dict[str, Any]
    flow: DefinitionRef
    flow_text: str
    rules: dict[str, DefinitionRef] = field(default_factory=dict)
    # Seconds a status push to the channel is retried; 0: the channel takes none.
    status_push_seconds: float = 0
    # Every definition the order uses (flow, form, channel, rules, allocation, carriers, templates,
    # regions, promotions), pinned at intake; empty for orders taken before pinning.
    pins: list[DefinitionRef] = field(default_factory=list)
    # Set when the order moved to this flow version while it waited (continue-as-new).
    resume: ResumeAt | None = None


@dataclass
class OrderResult:
    order_id: str
    status: str
    path: list[str]


@dataclass
class StepInput:
    """Input of every activity an `activity` step calls."""

    order_id: str
    step: str
    seq: int
    status: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    event: dict[str, Any] | None = None


@dataclass
class StepResult:
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class AuditInput:
    order_id: str
    step: str
    seq: int
    rules: DefinitionRef
    status: str | None = None


@dataclass
class FiredRuleRecord:
    rule: str
    action: str
    reason: str
    tag: str | None = None


@dataclass
class AuditOutcome:
    action: str
    fired: list[FiredRuleRecord]
    facts: dict[str, Any]
    rules: DefinitionRef


@dataclass
class TaskInput:
    order_id: str
    workflow_id: str
    step: str
    seq: int
    title: str
    role: str
    decisions: list[str]
    due_seconds: float
    reason: str = ""
    status: str | None = None
    needs_approvals: int = 1


@dataclass
class TaskClose:
    task_id: str
    order_id: str
    seq: int
    outcome: str  # a decision, or "timeout"
    decided_by: str | None = None
    comment: str = ""
    role: str = ""
    # An event that closed the task without a decision (e.g. cancel_requested).
    event: str = ""
    # What goes on the timeline with the decision, e.g. the scans of a pick.
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskEscalation:
    task_id: str
    order_id: str
    seq: int
    role: str
    due_seconds: float


@dataclass
class TaskApproval:
    """A first approval of a four-eyes task: recorded, the task stays open."""

    task_id: str
    order_id: str
    seq: int
    user: str
    role: str
    comment: str = ""


@dataclass
class Progress:
    """A timeline line and, optionally, the order's new status."""

    order_id: str
    seq: int
    type: str
    step: str | None = None
    message: str = ""
    status: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Decision:
    """A person's decision on a task, sent as a Temporal Update."""

    task_id: str
    decision: str
    user: str
    role: str
    comment: str = ""
    # Pick, check and pack: what the person scanned, [{sku, qty}].
    scans: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DecisionAccepted:
    task_id: str
    decision: str
    next_step: str


@dataclass
class ExternalEvent:
    """An external event (payment, carrier, customer) sent as a signal."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class StatusPush:
    """An order status sent to the channel's callback URL as a signed webhook."""

    order_id: str
    status: str
    seq: int


# ---- the return workflow ----------------------------------------------------------------------

# What a quality check finds, per returned item.
QC_RESULTS = ("resellable", "damaged", "missing")
# The decision of a return flow's approval step that must carry a QC result for every line.
QC_DECISION = "inspected"


@dataclass
class ReturnInput:
    """What a return workflow starts with: the return, its order and the pinned definitions."""

    return_id: str
    order_id: str
    request: dict[str, Any]  # kind, reason, lines [{line, sku, qty, price, category}], value, replacement_sku
    order: dict[str, Any]  # the returned order's document
    flow: DefinitionRef
    flow_text: str
    rules: dict[str, DefinitionRef] = field(default_factory=dict)
    # Every definition the return uses, pinned when it was requested; empty for older returns.
    pins: list[DefinitionRef] = field(default_factory=list)
    # Set when the return moved to this flow version while it waited (continue-as-new).
    resume: ResumeAt | None = None


@dataclass
class ReturnResult:
    return_id: str
    status: str
    path: list[str]


@dataclass
class ReturnStepInput:
    """Input of every activity a return flow's `activity` step calls."""

    return_id: str
    step: str
    seq: int
    status: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    event: dict[str, Any] | None = None
    # The quality check, once done: [{line, result, qty, reason}]
    qc: list[dict[str, Any]] = field(default_factory=list)
    # Tags the policy audit set, e.g. refund_shipping.
    tags: list[str] = field(default_factory=list)


@dataclass
class ReturnAuditInput:
    return_id: str
    step: str
    seq: int
    rules: DefinitionRef
    status: str | None = None


@dataclass
class ReturnAuditOutcome:
    action: str
    fired: list[dict[str, Any]]
    tags: list[str]
    facts: dict[str, Any]


@dataclass
class ReturnTaskInput:
    return_id: str
    order_id: str
    workflow_id: str
    step: str
    seq: int
    title: str
    role: str
    decisions: list[str]
    due_seconds: float
    reason: str = ""
    status: str | None = None


@dataclass
class ReturnTaskClose:
    task_id: str
    return_id: str
    seq: int
    outcome: str  # a decision, or "timeout"
    decided_by: str | None = None
    comment: str = ""
    role: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReturnTaskEscalation:
    task_id: str
    return_id: str
    seq: int
    role: str
    due_seconds: float


@dataclass
class ReturnProgress:
    """A line on the return's timeline and, optionally, its new status."""

    return_id: str
    seq: int
    type: str
    step: str | None = None
    message: str = ""
    status: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    final: bool = False


@dataclass
class ReturnDecision(Decision):
    """A person's decision on a return's task, sent as the Update ``decide``: a :class:`Decision` plus
    the quality check, so the inbox's ordinary decisions (approve, reject) reach a return's review task too."""

    # Quality check: [{line, result: resellable | damaged | missing, qty, reason}]
    qc: list[dict[str, Any]] = field(default_factory=list)


# ---- moving a waiting instance to another flow version (engine/migration.py) ------------------


@dataclass
class MigrateRequest:
    """The Update ``migrate``: move this waiting order (or return) to another version of its flow."""

    flow: DefinitionRef
    flow_text: str
    # The instance's pin set with the flow (and the rule sets its audit steps use) replaced.
    pins: list[DefinitionRef] = field(default_factory=list)
    rules: dict[str, DefinitionRef] = field(default_factory=dict)
    by: str = ""
    migration_id: str = ""


@dataclass
class MigrateResult:
    moved: bool
    from_version: int
    to_version: int
    step: str = ""
    target_step: str = ""
    # Seconds since the epoch at which the moved wait times out; 0 for an approval (its task keeps its due time).
    deadline: float = 0
    reason: str = ""


@dataclass
class ResumeAt:
    """Where a moved instance goes on in its new run (continue-as-new): the mapped step and what it knew."""

    step: str
    seq: int
    deadline: float = 0  # a wait: when it times out (seconds since the epoch)
    task: dict[str, Any] | None = None  # an approval: its open task (id, role, approvals, needs, phase, deadline)
    order: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, Any] | None = None
    results: dict[str, dict] = field(default_factory=dict)
    received: dict[str, dict] = field(default_factory=dict)
    last_event: dict[str, Any] | None = None  # {type, data}
    path: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # received, not yet consumed: [{type, data}]
    status: str | None = None
    qc: list[dict[str, Any]] = field(default_factory=list)


# ---- a durable migration (workflows/migration.py) ----------------------------------------------


@dataclass
class MigrationCursor:
    """Keyset position of a migration: orders first, then returns, each by id."""

    kind: str = "order"  # order | return
    id: str = ""


@dataclass
class MigrationProgress:
    """How far a migration got; the ``progress`` query's answer and the ``flow_migrations`` row."""

    migration_id: str
    status: str = "running"  # running | paused | completed | failed
    moved: int = 0
    already: int = 0
    stayed: int = 0
    failed: int = 0
    batches: int = 0
    cursor: MigrationCursor = field(default_factory=MigrationCursor)
    error: str = ""
    # Instances that stayed, with the reason (bounded: the first ones).
    stays: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FlowMigrationInput:
    """What the migration moves; ``progress`` carries the state across continue-as-new."""

    migration_id: str
    flow: str
    source: int
    target: int
    by: str = ""
    where: dict[str, list[str]] = field(default_factory=dict)
    batch_size: int = 100
    concurrency: int = 16
    progress: MigrationProgress | None = None
    paused: bool = False


@dataclass
class MigrationBatch:
    """The activity ``migrate_batch``: move the next batch after ``cursor``."""

    migration_id: str
    flow: str
    source: int
    target: int
    by: str = ""
    where: dict[str, list[str]] = field(default_factory=dict)
    cursor: MigrationCursor = field(default_factory=MigrationCursor)
    batch_size: int = 100
    concurrency: int = 16


@dataclass
class MigrationBatchResult:
    cursor: MigrationCursor
    done: bool  # nothing was left after the cursor
    moved: int = 0
    already: int = 0
    stayed: int = 0
    failed: int = 0
    stays: list[dict[str, Any]] = field(default_factory=list)


# ---- pull connectors (workflows/channel_pull.py) ----------------------------------------------------


@dataclass
class PullRun:
    """One scheduled run of a channel's pull connector."""

    channel: str


@dataclass
class PullPlan:
    """What ``begin_channel_pull`` found: the first page's URL (empty: the channel pulls nothing now)."""

    url: str = ""
    cursor: str | None = None
    min_gap_seconds: float = 0.0


@dataclass
class PullPage:
    """The activity ``pull_channel_page``: fetch ``url`` (page ``page``) and take its orders."""

    channel: str
    url: str
    page: int
    cursor: str | None = None


@dataclass
class PulledPage:
    next_url: str = ""  # empty: that was the last page
    cursor: str | None = None  # the cursor once this page is taken
    items: int = 0
    created: int = 0
    existing: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {index, external_id, field, message}


@dataclass
class PullSummary:
    """A run's outcome, stored with the channel's cursor (``finish_channel_pull``) and returned by the run."""

    channel: str
    cursor: str | None = None
    pages: int = 0
    items: int = 0
    created: int = 0
    existing: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class HttpSecret:
    """A header of an http step whose value the activity reads from an OMS_..._SECRET... variable."""

    header: str
    env: str
    prefix: str = ""


@dataclass
class HttpCall:
    """The activity ``http_request``: one visit of an http step, rendered; secrets by variable name only."""

    workflow_id: str
    step: str
    seq: int
    method: str
    url: str = ""  # an absolute URL (checked against the outbound address rules), or ...
    endpoint: str = ""  # ... a base URL named in OMS_HTTP_ENDPOINTS, and the path after it
    path: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    secrets: list[HttpSecret] = field(default_factory=list)
    body: str | None = None
    timeout_seconds: float = 10.0


@dataclass
class HttpAnswer:
    """A 2xx answer: its status, its body (JSON when it is JSON, else text) and its headers (lower-case names)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


# ---- stock sync to channels (workflows/stock_sync.py) ----------------------------------------------


@dataclass
class StockSyncRun:
    """The ``StockSync`` workflow of one channel (workflow id ``stock-sync-<channel>``)."""

    channel: str


@dataclass
class StockSyncPlan:
    """What ``plan_stock_sync`` found: stop (the channel no longer syncs), a batch to push now, or a wait."""

    stop: bool = False
    skus: list[str] = field(default_factory=list)  # the next batch; empty: wait
    wait_seconds: float = 0.0  # until the oldest change is due, or the debounce when nothing changed


@dataclass
class StockSyncBatch:
    """The activity ``push_stock_batch``: push these SKUs' quantities to the channel in one request."""

    channel: str
    skus: list[str] = field(default_factory=list)


@dataclass
class StockSyncPushed:
    pushed: int = 0  # SKUs the platform took
    failed: int = 0  # SKUs it refused or whose item could not be built (on the stock page)
    status: int = 0  # the platform's HTTP status (0: no request was made)
