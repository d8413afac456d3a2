"""The operator inbox: open tasks with filters, sorting and pages; claim, decide, bulk approve.

A task someone else claimed shows who has it and offers no decision; a quality
check of a return links to the return's page, whose form takes a result per line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import quote, urlencode

import anyio
from fastapi import APIRouter, Form, Request
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.datastructures import QueryParams

from oms.db import get_read_engine
from oms.models import Order, Return, Task, utcnow
from services import scopes
from services.money import currency_of, money_text
from services.orders import decisions
from web.api.tasks import task_query
from web.deps import CurrentUser, SessionDep, TemporalDep
from web.i18n import N_, gettext
from web.pages import wording
from web.pages.flash import Flash, Result
from web.pages.rendering import PageRoute, as_utc, redirect, render
from web.pages.security import Acting, SignedIn
from workflows.contracts import DecisionAccepted

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 50
CLAIMED = {"any": N_("anyone or nobody"), "me": N_("me"), "none": N_("nobody")}
ROLES = ("operator", "admin")
MAX_COMMENT = 2000
MAX_BULK = 200
BULK_CONCURRENCY = 8
PAST = {"approve": N_("approved"), "reject": N_("rejected")}
# Decisions that carry more than a comment (a quality check: a result per returned line) are taken on
# the return's page, where the form asks for them; the inbox links there instead of posting.
NEEDS_FORM = {"inspected"}
# How the rows are ordered: the URL's word -> (label, ORDER BY).
SORTS = {
    "due": (N_("due soonest"), (col(Task.due_at), col(Task.id))),
    "amount": (N_("largest amount"), (col(Order.total).desc(), col(Task.due_at), col(Task.id))),
    "age": (N_("oldest"), (col(Task.created_at), col(Task.id))),
}
SOON = timedelta(hours=1)  # due within the hour: amber


def _int(value: str | None, minimum: int) -> int | None:
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    return number if number >= minimum else None


@dataclass(frozen=True)
class InboxFilters:
    """What the inbox shows, as it appears in the URL (unknown or bad values are dropped)."""

    reason: str = ""
    channel: str = ""
    older_than: int | None = None
    claimed: str = "any"
    role: str = ""
    sort: str = "due"
    page: int = 1

    @classmethod
    def from_query(cls, params: QueryParams) -> InboxFilters:
        claimed = params.get("claimed", "any")
        role = params.get("role", "")
        sort = params.get("sort", "due")
        return cls(
            reason=params.get("reason", "").strip()[:200],
            channel=params.get("channel", "").strip()[:50],
            older_than=_int(params.get("older_than"), 1),
            claimed=claimed if claimed in CLAIMED else "any",
            role=role if role in ROLES else "",
            sort=sort if sort in SORTS else "due",
            page=_int(params.get("page"), 1) or 1,
        )

    def url(self, **changes) -> str:
        """/inbox with these filters (and ``changes``), leaving out the defaults."""
        filters = replace(self, **changes)
        params = {
            "reason": filters.reason,
            "channel": filters.channel,
            "older_than": filters.older_than or "",
            "claimed": "" if filters.claimed == "any" else filters.claimed,
            "role": filters.role,
            "sort": "" if filters.sort == "due" else filters.sort,
            "page": "" if filters.page == 1 else filters.page,
        }
        query = urlencode({k: v for k, v in params.items() if v != ""})
        return f"/inbox?{query}" if query else "/inbox"


@router.get("/inbox")
def inbox(request: Request, session: SessionDep, user: SignedIn):
    filters = InboxFilters.from_query(request.query_params)
    query = task_query(
        user,
        "open",
        filters.role or None,
        filters.reason or None,
        filters.channel or None,
        filters.older_than,
        filters.claimed,
    )
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    pages = max(1, math.ceil(total / PAGE_SIZE))
    filters = replace(filters, page=min(filters.page, pages))
    rows = session.exec(
        query.order_by(*SORTS[filters.sort][1]).offset((filters.page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    # The select's options: the channels orders came from (an index-only scan of orders.channel).
    channels = session.exec(select(Order.channel).distinct().order_by(Order.channel)).all()
    return_ids = [t.return_id for t, _ in rows if t.return_id]
    returned = (
        {r.id: r for r in session.exec(select(Return).where(col(Return.id).in_(return_ids))).all()}
        if return_ids
        else {}
    )
    now = utcnow()
    return render(
        request,
        "pages/inbox.html",
        {
            "rows": [_row(task, order, returned.get(task.return_id or ""), user.username, now) for task, order in rows],
            "total": total,
            "pages": pages,
            "filters": filters,
            "here": filters.url(),
            "channels": channels,
            "claimed_options": CLAIMED,
            "roles": ROLES,
            "sorts": {key: label for key, (label, _) in SORTS.items()},
        },
    )


@dataclass(frozen=True)
class Row:
    """One task as the inbox shows it."""

    task: Task
    order: Order
    ret: Return | None
    customer: str
    amount: str
    sla: str  # overdue | soon | ok
    claimed_by_other: bool
    form_decisions: list[str]  # taken on the return's page (they need more than a comment)
    quick_decisions: list[str]  # buttons here


def _row(task: Task, order: Order, ret: Return | None, username: str, now: datetime) -> Row:
    due_at = as_utc(task.due_at)
    sla = "overdue" if due_at < now else "soon" if due_at - now <= SOON else "ok"
    currency = currency_of(order.document)
    customer = str((order.document.get("customer") or {}).get("name") or "")
    amount = money_text(ret.value if ret is not None else order.total, currency)
    form_decisions = [d for d in task.decisions if d in NEEDS_FORM and task.return_id]
    return Row(
        task=task,
        order=order,
        ret=ret,
        customer=customer,
        amount=amount,
        sla=sla,
        claimed_by_other=bool(task.claimed_by) and task.claimed_by != username,
        form_decisions=form_decisions,
        quick_decisions=[d for d in task.decisions if d not in form_decisions],
    )


def _tasks(task_ids: list[str]) -> dict[str, Task]:
    with Session(get_read_engine()) as session:
        return {t.id: t for t in session.exec(select(Task).where(Task.id.in_(task_ids))).all()}


async def _load(task_ids: list[str]) -> dict[str, Task]:
    return await anyio.to_thread.run_sync(_tasks, task_ids)


def _on(task: Task | None) -> str:
    if task is not None and task.return_id:
        return gettext("the task on return %(id)s", id=task.return_id)
    return gettext("the task on order %(id)s", id=task.order_id) if task else gettext("this task")


def _could_not(decision: str, task: Task | None, problem: str) -> str:
    """``Could not approve the task on order …: why``; a decision that is no verb is quoted."""
    if decision == "approve":
        return gettext("Could not approve %(task)s: %(problem)s", task=_on(task), problem=problem)
    if decision == "reject":
        return gettext("Could not reject %(task)s: %(problem)s", task=_on(task), problem=problem)
    return gettext(
        "Could not record “%(decision)s” for %(task)s: %(problem)s", decision=decision, task=_on(task), problem=problem
    )


def _actor(user: CurrentUser) -> decisions.Actor:
    return decisions.Actor(user.username, user.roles)


@router.post("/inbox/tasks/{task_id}/claim")
def claim(task_id: str, user: Acting, back: Annotated[str, Form()] = "/inbox"):
    return _claim(task_id, user, user.username, back)


@router.post("/inbox/tasks/{task_id}/unclaim")
def unclaim(task_id: str, user: Acting, back: Annotated[str, Form()] = "/inbox"):
    return _claim(task_id, user, None, back)


def _in_scope(task_id: str, user: CurrentUser) -> None:
    with Session(get_read_engine()) as session:
        scopes.visible_task(session, user, task_id)


def _claim(task_id: str, user: CurrentUser, assignee: str | None, back: str):
    try:
        _in_scope(task_id, user)
        task = decisions.claim(task_id, _actor(user), assignee)
    except (decisions.TaskRefused, scopes.OutOfScope) as exc:
        on = _on(_tasks([task_id]).get(task_id))
        if assignee:
            refused = gettext("Could not claim %(task)s: %(problem)s", task=on, problem=wording.problem(exc))
        else:
            refused = gettext("Could not release %(task)s: %(problem)s", task=on, problem=wording.problem(exc))
        return redirect(back, Flash().error(refused))
    if assignee:
        return redirect(back, Flash().ok(gettext("You claimed %(task)s.", task=_on(task))))
    return redirect(back, Flash().ok(gettext("You released %(task)s.", task=_on(task))))


@router.post("/inbox/tasks/{task_id}/decision")
async def decide(
    task_id: str,
    client: TemporalDep,
    user: Acting,
    decision: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "/inbox",
):
    task = (await _load([task_id])).get(task_id)
    decision, comment = decision.strip(), comment.strip()
    if not decision:
        nothing = gettext("Choose a decision for %(task)s; nothing was decided.", task=_on(task))
        return redirect(back, Flash().error(nothing))
    if task is not None and task.return_id and decision in NEEDS_FORM:
        # A quality check needs a result per returned line: the return's page asks for them.
        return redirect(
            f"/returns/{quote(task.return_id)}#qc",
            Flash().error(gettext("Record the quality check of return %(id)s line by line below.", id=task.return_id)),
        )
    if len(comment) > MAX_COMMENT:
        too_long = gettext("The comment is longer than %(n)s characters; nothing was decided.", n=MAX_COMMENT)
        return redirect(back, Flash().error(too_long))
    try:
        await anyio.to_thread.run_sync(_in_scope, task_id, user)
        accepted = await decisions.decide(client, task_id, _actor(user), decision, comment)
    except (decisions.TaskRefused, scopes.OutOfScope) as exc:
        return redirect(back, Flash().error(_could_not(decision, task, wording.problem(exc))))
    if task is None:
        where = gettext("Task %(id)s", id=task_id)
    elif task.return_id:
        where = gettext("Return %(id)s", id=task.return_id)
    else:
        where = gettext("Order %(id)s", id=task.order_id)
    return redirect(back, Flash().ok(f"{where}: {_outcome(task, accepted)}."))


def _outcome(task: Task | None, accepted: DecisionAccepted) -> str:
    if accepted.decision in PAST:
        done = gettext(PAST[accepted.decision])
    else:
        done = gettext("decided %(decision)r", decision=accepted.decision)
    if task is not None and accepted.next_step == task.step:
        return gettext("%(done)s once; a second person must approve too", done=done)
    return done


@router.post("/inbox/decisions")
async def approve_selected(
    client: TemporalDep,
    user: Acting,
    task_ids: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    back: Annotated[str, Form()] = "/inbox",
):
    task_ids = list(dict.fromkeys(task_ids))[:MAX_BULK]
    if not task_ids:
        return redirect(back, Flash().error(gettext("Select at least one task to approve; nothing was decided.")))
    tasks = await _load(task_ids)
    results: list[Result | None] = [None] * len(task_ids)
    limiter = anyio.Semaphore(BULK_CONCURRENCY)

    async def approve(index: int, task_id: str) -> None:
        task = tasks.get(task_id)
        order_id = task.order_id if task else ""
        async with limiter:
            try:
                await anyio.to_thread.run_sync(_in_scope, task_id, user)
                accepted = await decisions.decide(client, task_id, _actor(user), "approve", "")
                results[index] = Result(order_id, task_id, True, _outcome(task, accepted))
            except (decisions.TaskRefused, scopes.OutOfScope) as exc:
                results[index] = Result(order_id, task_id, False, wording.problem(exc))

    async with anyio.create_task_group() as group:
        for index, task_id in enumerate(task_ids):
            group.start_soon(approve, index, task_id)
    done = [r for r in results if r is not None]
    approved = sum(r.ok for r in done)
    notices = Flash(results=done)
    if approved:
        notices.ok(gettext("Approved %(n)s of %(total)s selected tasks.", n=approved, total=len(done)))
    if approved < len(done):
        refused = len(done) - approved
        notices.error(gettext("%(n)s of %(total)s selected tasks were refused; see below.", n=refused, total=len(done)))
    return redirect(back, notices)
