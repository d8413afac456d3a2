"""A local HTTP server standing for another system in the tests: it records every request and answers a script.

The fakes of the outbound integrations' tests are subclasses: a WooCommerce
order list (pull connectors), WooCommerce's product batch (stock sync), a risk
service (the flows' ``http`` step), Shippo and Stripe (carrier and payment
adapters, tests/provider_servers.py). Each request is kept in ``requests`` as
``{method, path, query, headers, raw, body, status}`` (header names in lower
case; ``body`` is the JSON or form body parsed, else the text; ``status`` what
was answered). An answer is ``refuse`` (a wrong credential or path), else the
next answer a test ``scripted`` (e.g. a 503, then a 429 with ``Retry-After``),
else ``route``: each fake says how a test scripts it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

# status, headers, body: a JSON value, or bytes sent as they are
Answer = tuple[int, dict[str, str], Any]


class FakeServer:
    """Listens on ``host`` (port ``port``, 0: any free one) from construction until ``close``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PUT(self) -> None:
                fake._handle(self, "PUT")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

            def do_DELETE(self) -> None:
                fake._handle(self, "DELETE")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_address[1]
        self.base_url = f"http://{host}:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        request: dict[str, Any] = {
            "method": method,
            "path": parts.path,
            "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
            "headers": {k.lower(): v for k, v in handler.headers.items()},
            "raw": raw.decode("utf-8", errors="replace"),
            "body": self.parse(raw, handler.headers.get("Content-Type") or ""),
        }
        with self.lock:
            self.requests.append(request)
            status, headers, body = self.answer(request)
            request["status"] = status
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        handler.send_response(status)
        headers = {"Content-Type": "application/json", **headers}  # an answer may say it is something else
        headers["Content-Length"] = str(len(data))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    @staticmethod
    def parse(raw: bytes, content_type: str) -> Any:
        """A form body as a dict, a JSON body as its value, any other as text; None when empty."""
        if not raw:
            return None
        text = raw.decode("utf-8", errors="replace")
        if content_type.startswith("application/x-www-form-urlencoded"):
            return dict(parse_qsl(text, keep_blank_values=True))
        try:
            return json.loads(text)
        except ValueError:
            return text

    def answer(self, request: dict[str, Any]) -> Answer:
        """The answer to ``request`` (called under ``lock``): refused, scripted, or routed."""
        return self.refuse(request) or self.scripted(request) or self.route(request)

    def refuse(self, request: dict[str, Any]) -> Answer | None:
        """The answer to a request the system would refuse whatever the script (wrong path, credential)."""
        return None

    def scripted(self, request: dict[str, Any]) -> Answer | None:
        """The next answer a test scripted for ``request`` (a 503, a 429 with Retry-After ...), if any."""
        return None

    def route(self, request: dict[str, Any]) -> Answer:
        return 404, {}, {"error": "no such resource"}

    def taken(self, since: int = 0) -> list[dict[str, Any]]:
        """The requests from the ``since``-th on."""
        with self.lock:
            return list(self.requests[since:])

    def sent(self, path_start: str) -> list[dict[str, Any]]:
        """The requests whose path starts with ``path_start``, in the order they came."""
        with self.lock:
            return [r for r in self.requests if r["path"].startswith(path_start)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
