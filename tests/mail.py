"""A real SMTP server (aiosmtpd) and a webhook receiver on loopback for notification tests."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from oms.temporal.dev_server import free_port


@dataclass
class Mailbox:
    """Every message the SMTP server accepted."""

    messages: list[EmailMessage] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def about(self, text: str) -> list[EmailMessage]:
        """Messages whose Message-ID names the order ``text``."""
        return [m for m in list(self.messages) if text in str(m["Message-ID"])]


def start_smtp() -> tuple[Controller, Mailbox, int]:
    port = free_port()
    mailbox = Mailbox(port=port)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, mailbox, port


class HookReceiver:
    """Records signed webhook posts."""

    def __init__(self):
        self.received: list[tuple[dict, bytes, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append((dict(self.headers), body, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/notifications"

    def about(self, order_id: str) -> list[tuple[dict, bytes, dict]]:
        return [r for r in list(self.received) if r[2].get("order_id") == order_id]

    def close(self) -> None:
        self.server.shutdown()
