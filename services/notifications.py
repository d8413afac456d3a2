"""Customer notifications: a template per event and language, sent by e-mail and signed webhook.

A flow decides when: an ``activity`` step ``notify`` with ``params: {event: shipped}``
renders the pinned ``template`` named ``notify_<event>`` (or ``params.template``)
in the customer's language (``customer_language``) and sends it

- by e-mail over SMTP (``OMS_SMTP_HOST``/``PORT``/``FROM``/``USER``/``PASSWORD``/``STARTTLS``)
  to the customer's address, and
- as a webhook to ``OMS_NOTIFY_WEBHOOK_URL``, signed like channel webhooks
  (``X-OMS-Timestamp`` and ``X-OMS-Signature: sha256=<HMAC-SHA256 of "<timestamp>." + the body>``
  with ``OMS_NOTIFY_WEBHOOK_SECRET``), to a public address or one ``OMS_OUTBOUND_ALLOWLIST`` names.

Every message sent, skipped or given up is a line on the order's timeline.
A send that fails is retried by Temporal; after ``ATTEMPTS`` the failure is
recorded and the order goes on (a customer e-mail never blocks a shipment).
Each message has a stable Message-ID / Idempotency-Key, so a receiver can
drop the duplicate a retry after a crash may send.
"""

from __future__ import annotations

import json
import logging
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

from sqlmodel import Session, col, select

from engine.pins import notification_template
from engine.templates import Message, RenderError
from oms.db import get_read_engine, session_scope
from oms.models import Order, OrderEvent, Shipment, utcnow
from oms.settings import get_settings
from services import outbound
from services.definitions.pinned import pinned_model
from services.orders.channels import signed_headers
from services.orders.timeline import record
from services.outbound import SendFailed
from services.rows import required
from workflows.contracts import Progress, StepInput, StepResult

log = logging.getLogger("oms.notifications")

ATTEMPTS = 5


def order_view(order: Order) -> dict[str, Any]:
    """The order as templates see it: the document plus id, status and totals."""
    return {
        **order.document,
        "id": order.id,
        "external_id": order.external_id,
        "channel": order.channel,
        "status": order.status,
        "total": order.total,
        "created_at": order.created_at.isoformat(),
    }


def shipment_view(shipment: Shipment) -> dict[str, Any]:
    return {
        "id": shipment.id,
        "parcel": shipment.parcel,
        "carrier": shipment.carrier,
        "carrier_title": shipment.label.get("carrier_title", shipment.carrier),
        "service": shipment.service,
        "tracking_number": shipment.tracking_number,
        "warehouse": shipment.warehouse,
        "weight_kg": shipment.weight_kg,
        "price": shipment.price,
        "status": shipment.status,
        "lines": shipment.lines,
        "consolidation": shipment.consolidation,
    }


def shipments_of(session: Session, order_id: str) -> list[Shipment]:
    return list(
        session.exec(select(Shipment).where(Shipment.order_id == order_id).order_by(col(Shipment.parcel))).all()
    )


def webhook_secret() -> str | None:
    settings = get_settings()
    if settings.notify_webhook_secret:
        return settings.notify_webhook_secret
    return "dev-secret-notifications" if settings.dev_mode else None


def send_email(to: str, name: str, subject: str, body: str, message_id: str, language: str) -> None:
    settings = get_settings()
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = formataddr((name, to)) if name else to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(body)
    message["Content-Language"] = language  # after set_content, which resets the Content-* headers
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("e-mail %s failed: %r", message_id, exc)
        raise SendFailed(f"the mail server {outbound.describe(exc)}") from None


def _send_webhook(payload: dict[str, Any], key: str) -> None:
    settings = get_settings()
    secret = webhook_secret()
    if secret is None:
        raise SendFailed("OMS_NOTIFY_WEBHOOK_SECRET is not set; webhooks are not sent unsigned")
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json", **signed_headers(secret, body), "Idempotency-Key": key}
    outbound.post(settings.notify_webhook_url, body, headers)


@dataclass(frozen=True)
class Prepared:
    """A rendered notification, or why there is none (``message`` is None and ``webhook`` empty then)."""

    summary: str
    data: dict[str, Any]
    message: Message | None = None
    to: str = ""
    name: str = ""
    webhook: dict[str, Any] = field(default_factory=dict)


def customer_language(session: Session, order: Order) -> str:
    """The language the customer is written in: the order's ``customer.language`` (or, as older orders say it,
    its ``language``), else its channel's ``language``, else English. A template without it uses its default."""
    document = order.document
    said = (document.get("customer") or {}).get("language") or document.get("language")
    if said:
        return str(said)
    channel, _ = pinned_model(session, order.pins, "channel", order.channel)
    return str(getattr(channel, "language", None) or "en")


def prepare(session: Session, order: Order, inp: StepInput, pins: list[dict[str, Any]] | None = None) -> Prepared:
    """The notification of ``inp.params.event`` by the template pinned in ``pins`` (default: the order's)."""
    event = str(inp.params.get("event") or "")
    name = notification_template(inp.params)
    template, version = pinned_model(session, order.pins if pins is None else pins, "template", name)
    if template is None or template.use != "notification":
        return Prepared(
            f"no {event} notification: template {name!r} is not published",
            {"event": event, "template": name, "sent": [], "skipped": ["no template"]},
        )
    doc = order.document
    customer = doc.get("customer") or {}
    context = {
        "order": order_view(order),
        "event": {"type": event, **(inp.event or {}), **inp.params},
        "shipments": [shipment_view(s) for s in shipments_of(session, order.id)],
    }
    try:
        message = template.message(context, customer_language(session, order))
    except RenderError as exc:
        return Prepared(
            f"{event} notification not sent: {exc}", {"event": event, "template": name, "sent": [], "error": str(exc)}
        )
    to = str(customer.get("email") or "")
    message_id = f"<{order.id}.{inp.seq}@oms>"
    data = {
        "event": event,
        "template": name,
        "template_version": version,
        "language": message.language,
        "subject": message.subject,
        "to": to,
        "message_id": message_id,
    }
    webhook = {
        "order_id": order.id,
        "channel": order.channel,
        "external_id": order.external_id,
        "event": event,
        "language": message.language,
        "to": to,
        "subject": message.subject,
        "body": message.body,
        "message_id": message_id,
    }
    return Prepared("", data, message, to, str(customer.get("name") or ""), webhook)


def send(prepared: Prepared, inp: StepInput, attempt: int) -> tuple[str, dict]:
    """Send by e-mail and webhook; a failure raises for a retry until the last attempt, which records it."""
    settings = get_settings()
    message, data = prepared.message, dict(prepared.data)
    if message is None:
        raise ValueError(f"nothing to send: {prepared.summary}")
    event, to = data["event"], prepared.to
    channels, skipped = [], []
    try:
        if settings.smtp_host and to:
            send_email(to, prepared.name, message.subject, message.body, data["message_id"], message.language)
            channels.append("email")
        else:
            skipped.append(
                "email: " + ("no SMTP server configured" if not settings.smtp_host else "no customer e-mail")
            )
        if settings.notify_webhook_url:
            _send_webhook({**prepared.webhook, "sent_at": utcnow().isoformat()}, f"{inp.order_id}-{inp.seq}")
            channels.append("webhook")
    except SendFailed as exc:
        # The text is ours (what kind of failure), never the raw network error, which the log has.
        if attempt < ATTEMPTS:
            raise
        log.warning("notification %s of %s given up: %s", event, inp.order_id, exc)
        return f"{event} notification not delivered after {attempt} attempts: {exc}", {
            **data,
            "sent": channels,
            "error": str(exc),
        }
    data.update(sent=channels, skipped=skipped)
    if not channels:
        return f"{event} notification not sent ({'; '.join(skipped)})", data
    return f"{event} notification sent by {' and '.join(channels)}" + (
        f" to {to}" if "email" in channels else ""
    ) + f": {message.subject}", data


def notify(inp: StepInput, attempt: int) -> StepResult:
    """Send the customer the notification of ``params.event`` (e-mail and webhook), on the timeline.

    Rendering reads the database, sending happens outside any transaction (a
    slow mail server never holds a write lock), and the timeline line is
    written last, keyed by the step's sequence number like every step. With
    nothing to send to (no SMTP server, no webhook: the embedded default) the
    line is rendered and written in one transaction, one read of the order.
    """
    if not _sends():
        return _record(inp, attempt, None)
    with Session(get_read_engine()) as session:
        recorded = _recorded(session, inp)
        if recorded is not None:
            return StepResult(data=recorded.data)
        prepared = prepare(session, required(session, Order, inp.order_id), inp)
    return _record(inp, attempt, prepared)


def _sends() -> bool:
    settings = get_settings()
    return bool(settings.smtp_host or settings.notify_webhook_url)


def _recorded(session: Session, inp: StepInput) -> OrderEvent | None:
    return session.exec(
        select(OrderEvent).where(OrderEvent.order_id == inp.order_id, OrderEvent.seq == inp.seq)
    ).first()


def _record(inp: StepInput, attempt: int, prepared: Prepared | None) -> StepResult:
    """Send what ``prepared`` holds (None: prepare it here, nothing is sent) and write its timeline line."""
    summary, data = "", {}
    if prepared is not None:
        summary, data = (prepared.summary, prepared.data) if prepared.message is None else send(prepared, inp, attempt)
    with session_scope() as session:
        recorded = _recorded(session, inp)
        if recorded is not None:
            return StepResult(data=recorded.data)
        if prepared is None:
            prepared = prepare(session, required(session, Order, inp.order_id), inp)
            summary, data = (
                (prepared.summary, prepared.data) if prepared.message is None else send(prepared, inp, attempt)
            )
        record(
            session,
            Progress(
                order_id=inp.order_id,
                seq=inp.seq,
                type="notification",
                step=inp.step,
                message=summary,
                status=inp.status,
                data=data,
            ),
        )
    return StepResult(data=data)
