from typing import Literal

from pydantic import BaseModel


class TaskView(BaseModel):
    """A human task of an order's (or a return's) flow."""

    id: str
    order_id: str
    step: str
    title: str
    role: str
    status: str
    reason: str
    decisions: list[str]
    created_at: str
    due_at: str
    decision: str | None
    decided_by: str | None
    comment: str
    decided_at: str | None
    approvals: list[str]
    needs_approvals: int
    claimed_by: str | None
    escalated_at: str | None


class TaskListed(TaskView):
    """A task in the inbox, with its order's channel and total."""

    channel: str
    total: float


class TaskList(BaseModel):
    tasks: list[TaskListed]
    total: int
    limit: int
    offset: int


class DecisionTaken(BaseModel):
    """The flow took the decision; ``next_step`` is where it goes on."""

    task_id: str
    decision: str
    next_step: str


class BulkDecided(BaseModel):
    task_id: str
    ok: Literal[True]
    status_code: int
    next_step: str


class BulkRefused(BaseModel):
    task_id: str
    ok: Literal[False]
    status_code: int
    detail: str


class BulkDecisions(BaseModel):
    """One result per task, with the status a single decision would have had."""

    results: list[BulkDecided | BulkRefused]
    decided: int


class DecisionRecordView(BaseModel):
    """One line of the audit log of human decisions."""

    order_id: str
    task_id: str
    user: str
    role: str
    decision: str
    comment: str
    final: bool
    at: str


class DecisionLog(BaseModel):
    decisions: list[DecisionRecordView]
    limit: int
    offset: int
