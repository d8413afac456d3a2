"""Escalated tasks are announced by e-mail to the people who hold the escalation role.

The escalation activities (``services.orders.tasks.escalate_task`` and
``services.returns.steps.escalate_return_task``) call ``announce`` before they
write the escalation, outside any transaction, so a slow mail server never
holds a write lock. Each message has a stable Message-ID per task, step
sequence and person, so a retried activity that sends again can be recognised
as a duplicate. A mail server that is down never stops the escalation: the
timeline says who could not be told.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session

from oms.db import get_read_engine
from oms.models import Order, Return, Task
from oms.settings import get_settings
from services import people
from services.money import currency_of, money_text
from services.notifications import send_email
from services.outbound import SendFailed

log = logging.getLogger("oms.escalations")


@dataclass(frozen=True)
class Announced:
    """Who was told, who could not be, and the sentence for the timeline."""

    sent: list[str]
    failed: list[str]
    summary: str


def _base_url() -> str:
    settings = get_settings()
    return (settings.public_url or f"http://{settings.web_host}:{settings.web_port}").rstrip("/")


def _message(session: Session, task: Task, previous: str, role: str, due: str) -> tuple[str, str]:
    """Subject and body of the announcement."""
    order = session.get(Order, task.order_id)
    document = order.document if order else {}
    customer = str((document.get("customer") or {}).get("name") or "")
    external = order.external_id if order else task.order_id
    ret = session.get(Return, task.return_id) if task.return_id else None
    amount = money_text(ret.value if ret else order.total if order else 0, currency_of(document))
    link = f"{_base_url()}/returns/{ret.id}" if ret else f"{_base_url()}/orders/{task.order_id}"
    about = f"return {ret.id} of order {external}" if ret else f"order {external}"
    subject = f"Escalated to {role}: {task.title}, {about}" + (f" ({customer})" if customer else "")
    lines = [
        f"Nobody with the role {previous} decided this task in time; it is now waiting for {role}.",
        "",
        f"Task:      {task.title}",
        f"Order:     {external} ({task.order_id})" + (f", {customer}" if customer else ""),
    ]
    if ret:
        lines.append(f"Return:    {ret.id} ({ret.reason})")
    lines += [
        f"Amount:    {amount}",
        f"Reason:    {task.reason or '-'}",
        f"Due:       {due}",
        "",
        f"Open it:   {link}",
        f"Inbox:     {_base_url()}/inbox?role={role}",
    ]
    return subject, "\n".join(lines) + "\n"


def announce(task_id: str, seq: int, previous: str, role: str, due: str) -> Announced:
    """E-mail every active holder of ``role`` who has an address that ``task_id`` is theirs now."""
    settings = get_settings()
    with Session(get_read_engine()) as session:
        task = session.get(Task, task_id)
        if task is None:
            return Announced([], [], "")
        holders = [u for u in people.holders_of(session, role) if u.email]
        subject, body = _message(session, task, previous, role, due)
    if not holders:
        return Announced([], [], f"nobody was e-mailed: no active user with the role {role} has an e-mail address")
    if not settings.smtp_host:
        return Announced([], [], "nobody was e-mailed: no SMTP server is configured")
    sent: list[str] = []
    failed: list[str] = []
    for user in holders:
        message_id = f"<{task_id}.{seq}.{user.username}.escalated@oms>"
        try:
            send_email(user.email, user.username, subject, body, message_id, "en")
            sent.append(user.email)
        except SendFailed as exc:
            log.warning("escalation e-mail of task %s to %s failed: %s", task_id, user.username, exc)
            failed.append(user.email)
    parts = [f"e-mailed {', '.join(sent)}"] if sent else []
    if failed:
        parts.append(f"could not e-mail {', '.join(failed)} (the mail server did not take it)")
    return Announced(sent, failed, "; ".join(parts))
