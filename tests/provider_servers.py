"""Local HTTP servers shaped like two public APIs, for the carrier and payment adapters' tests.

``ShippoLike`` follows Shippo's API (https://docs.goshippo.com/shippoapi/public-api/):

- ``POST /transactions/`` with a JSON body ``{shipment: {address_from, address_to,
  parcels: [...]}, carrier_account, servicelevel_token, label_file_type, metadata,
  async}`` ("Instalabel": a label for a shipment in one call) answers 201 with a
  Transaction: ``{object_id, status: "SUCCESS", tracking_number, label_url,
  tracking_status, messages: [], metadata}``;
- ``POST /refunds/`` ``{transaction: <object_id>}`` answers 201 ``{object_id, status:
  "QUEUED", transaction}``;
- ``GET /tracks/{carrier}/{tracking_number}`` answers ``{carrier, tracking_number,
  tracking_status: {status: PRE_TRANSIT|TRANSIT|DELIVERED|RETURNED|FAILURE|UNKNOWN,
  status_details, status_date}}``;
- ``Authorization: ShippoToken <token>``, else 401 ``{detail: "Invalid token."}``;
  other errors as ``{detail}``.

``StripeLike`` follows Stripe's API (https://docs.stripe.com/api), form-encoded:

- ``POST /v1/payment_intents/{id}/capture`` (``amount_to_capture``) and ``POST
  /v1/payment_intents/{id}/cancel`` (``cancellation_reason``) answer the
  PaymentIntent ``{id, object: "payment_intent", amount, amount_received, status}``;
- ``POST /v1/refunds`` (``payment_intent``, ``amount`` in cents, ``metadata[...]``)
  answers a Refund ``{id: "re_...", object: "refund", amount, payment_intent, status:
  "succeeded"}``;
- ``Authorization: Bearer sk_...``; an ``Idempotency-Key`` seen before gets the same
  answer again; errors as ``{error: {type, code, message}}`` (400 for an unknown
  PaymentIntent or one in the wrong state).

Both (tests/http_fakes.py) answer the faults queued in ``faults`` first (e.g. a 503, then a 429 with
``Retry-After``), and ``replace`` answers a route's next answer with another body
(a shape that does not match the mapping). Every request is kept in ``requests``.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.http_fakes import Answer, FakeServer


class _Server(FakeServer):
    token_prefix = ""

    def __init__(self, token: str) -> None:
        self.token = token
        self.faults: list[Answer] = []  # answered first, in order
        self.replace: dict[str, Any] = {}  # route name -> the body of its next answer
        super().__init__()

    def refuse(self, request: dict[str, Any]) -> Answer | None:
        if request["headers"].get("authorization") != f"{self.token_prefix}{self.token}":
            return self.unauthorised()
        return None

    def scripted(self, request: dict[str, Any]) -> Answer | None:
        return self.faults.pop(0) if self.faults else None

    def unauthorised(self) -> Answer:
        raise NotImplementedError

    def _replaced(self, name: str, answer: Answer) -> Answer:
        if name in self.replace:
            return answer[0], answer[1], self.replace.pop(name)
        return answer


class ShippoLike(_Server):
    token_prefix = "ShippoToken "

    def __init__(self, token: str) -> None:
        self.transactions: dict[str, dict[str, Any]] = {}
        self.tracking: dict[str, str] = {}  # tracking number -> Shippo tracking status
        super().__init__(token)

    def unauthorised(self) -> Answer:
        return 401, {}, {"detail": "Invalid token."}

    def route(self, request: dict[str, Any]) -> Answer:
        method, path, body = request["method"], request["path"], request["body"] or {}
        if (method, path) == ("POST", "/transactions/"):
            shipment = body.get("shipment") or {}
            if not shipment.get("address_to") or not shipment.get("parcels") or not body.get("servicelevel_token"):
                return 400, {}, {"detail": "shipment.address_to, shipment.parcels and servicelevel_token are required"}
            object_id = uuid.uuid4().hex
            number = f"94055{uuid.uuid4().int % 10**17:017d}"
            transaction = {
                "object_state": "VALID",
                "status": "SUCCESS",
                "object_id": object_id,
                "tracking_number": number,
                "tracking_status": "UNKNOWN",
                "tracking_url_provider": f"https://tracking.example/{number}",
                "label_url": f"{self.base_url}/labels/{object_id}.pdf",
                "messages": [],
                "metadata": body.get("metadata", ""),
                "test": True,
            }
            self.transactions[object_id] = transaction
            self.tracking[number] = "PRE_TRANSIT"
            return self._replaced("create", (201, {}, transaction))
        if (method, path) == ("POST", "/refunds/"):
            if body.get("transaction") not in self.transactions:
                return 400, {}, {"detail": f"Transaction {body.get('transaction')} not found."}
            answer = {"object_id": uuid.uuid4().hex, "status": "QUEUED", "transaction": body["transaction"]}
            return self._replaced("cancel", (201, {}, answer))
        if method == "GET" and path.startswith("/tracks/"):
            parts = path.strip("/").split("/")
            number = parts[-1] if len(parts) == 3 else ""
            status = self.tracking.get(number, "UNKNOWN")
            answer = {
                "carrier": parts[1] if len(parts) == 3 else "",
                "tracking_number": number,
                "tracking_status": {
                    "status": status,
                    "status_details": f"status {status}",
                    "status_date": "2025-03-01T10:00:00Z",
                },
                "tracking_history": [],
            }
            return self._replaced("track", (200, {}, answer))
        return 404, {}, {"detail": "Not found."}


class StripeLike(_Server):
    token_prefix = "Bearer "

    def __init__(self, token: str) -> None:
        self.intents: dict[str, dict[str, Any]] = {}
        self.idempotent: dict[str, Answer] = {}
        super().__init__(token)

    def intent(self, amount_minor: int, status: str = "succeeded") -> str:
        """A PaymentIntent as checkout leaves it: succeeded (captured) or requires_capture (authorised)."""
        pid = f"pi_{uuid.uuid4().hex[:24]}"
        received = amount_minor if status == "succeeded" else 0
        self.intents[pid] = {"amount": amount_minor, "status": status, "amount_received": received, "refunded": 0}
        return pid

    def unauthorised(self) -> Answer:
        return 401, {}, self._error("invalid_request_error", "api_key_invalid", "Invalid API Key provided.")

    @staticmethod
    def _error(kind: str, code: str, message: str) -> dict[str, Any]:
        return {"error": {"type": kind, "code": code, "message": message}}

    def route(self, request: dict[str, Any]) -> Answer:
        key = request["headers"].get("idempotency-key")
        if key and key in self.idempotent:
            return self.idempotent[key]
        answer = self._route(request["method"], request["path"], request["body"] or {})
        if key and answer[0] < 500:
            self.idempotent[key] = answer
        return answer

    def _view(self, pid: str) -> dict[str, Any]:
        intent = self.intents[pid]
        return {
            "id": pid,
            "object": "payment_intent",
            "amount": intent["amount"],
            "amount_received": intent["amount_received"],
            "status": intent["status"],
        }

    def _route(self, method: str, path: str, form: dict[str, str]) -> Answer:
        parts = path.strip("/").split("/")
        if method == "POST" and len(parts) == 4 and parts[:2] == ["v1", "payment_intents"]:
            pid, action = parts[2], parts[3]
            if pid not in self.intents:
                return (
                    400,
                    {},
                    self._error("invalid_request_error", "resource_missing", f"No such payment_intent: '{pid}'"),
                )
            intent = self.intents[pid]
            if action == "capture":
                if intent["status"] != "requires_capture":
                    message = f"This PaymentIntent could not be captured because it has a status of {intent['status']}."
                    return 400, {}, self._error("invalid_request_error", "payment_intent_unexpected_state", message)
                intent["amount_received"] = int(form.get("amount_to_capture") or intent["amount"])
                intent["status"] = "succeeded"
                return self._replaced("capture", (200, {}, self._view(pid)))
            if action == "cancel":
                if intent["status"] == "succeeded":
                    message = "You cannot cancel this PaymentIntent because it has a status of succeeded."
                    return 400, {}, self._error("invalid_request_error", "payment_intent_unexpected_state", message)
                intent["status"] = "canceled"
                return self._replaced("void", (200, {}, self._view(pid)))
        if (method, path) == ("POST", "/v1/refunds"):
            pid = form.get("payment_intent", "")
            if pid not in self.intents:
                return (
                    400,
                    {},
                    self._error("invalid_request_error", "resource_missing", f"No such payment_intent: '{pid}'"),
                )
            intent = self.intents[pid]
            amount = int(form.get("amount") or intent["amount_received"] - intent["refunded"])
            if intent["status"] != "succeeded" or amount > intent["amount_received"] - intent["refunded"]:
                message = f"Refund amount ({amount}) is greater than the unrefunded amount on this PaymentIntent."
                return 400, {}, self._error("invalid_request_error", "amount_too_large", message)
            intent["refunded"] += amount
            refund = {
                "id": f"re_{uuid.uuid4().hex[:24]}",
                "object": "refund",
                "amount": amount,
                "payment_intent": pid,
                "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
                "status": "succeeded",
            }
            return self._replaced("refund", (200, {}, refund))
        return 404, {}, self._error("invalid_request_error", "resource_missing", f"Unrecognized request URL ({path}).")
