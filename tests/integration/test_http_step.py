"""The `http` flow step against a real HTTP server in the suite, on SQLite and PostgreSQL.

The server stands for a risk-scoring service: ``POST /v1/score/<external id>``
with a bearer token answers ``{"score": n}``; a script per external id makes it
answer 503, 404 or anything else first. An order's flow calls it (by a named
endpoint from ``OMS_HTTP_ENDPOINTS`` or by URL), saves the score and branches
on it; a 503 is retried by the step's policy, a 404 goes to its ``on_error``
branch, and a URL on this machine that the outbound allowlist does not name is
refused with a clear timeline line and a repair task. The service itself is
also called in-process for what the workflow cannot show: 127.0.0.1 refused
without an allowlist, a 429's Retry-After, an answer too large, an endpoint or
a secret that is not configured.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from oms.settings import get_settings
from oms.temporal.dev_server import free_port
from services import http_calls
from tests.conftest import order_payload
from tests.http_fakes import Answer, FakeServer
from workflows.contracts import HttpCall, HttpSecret

SECRET_ENV = "OMS_HTTP_SECRET_RISK_TEST"
# Set before the stacks start (at collection): the worker reads the token and the endpoints from its environment.
TOKEN = os.environ.setdefault(SECRET_ENV, "risk-test-token")
PORT = int(os.environ.setdefault("OMS_TEST_RISK_PORT", str(free_port())))
os.environ.setdefault("OMS_HTTP_ENDPOINTS", json.dumps({"risk_test": f"http://127.0.0.1:{PORT}/v1"}))


class RiskService(FakeServer):
    """A scoring service: ``plans[external_id]`` are the answers (status, body, headers) it gives first,
    then ``{"score": 12}``."""

    def __init__(self, port: int = 0) -> None:
        self.plans: dict[str, list[tuple[int, Any, dict[str, str]]]] = {}
        super().__init__(port=port)

    def refuse(self, request: dict[str, Any]) -> Answer | None:
        if not request["path"].startswith("/v1/score/"):
            return 404, {}, {"error": "no such resource"}
        if request["headers"].get("authorization") != f"Bearer {TOKEN}":
            return 401, {}, {"error": "unauthorised"}
        return None

    def scripted(self, request: dict[str, Any]) -> Answer | None:
        plan = self.plans.get(_external_id(request)) or []
        if not plan:
            return None
        status, body, headers = plan.pop(0)
        return status, headers, body

    def route(self, request: dict[str, Any]) -> Answer:
        return 200, {}, {"score": 12}

    def seen(self, external_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if _external_id(r) == external_id]


def _external_id(request: dict[str, Any]) -> str:
    return request["path"].rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def risk() -> Iterator[RiskService]:
    service = RiskService(PORT)
    yield service
    service.close()


FLOW = """\
kind: flow
name: __NAME__
title: Risk check over HTTP
form: order
start: score
steps:
  - id: score
    type: http
    title: Ask the risk service
    status: scoring
    method: POST
    __WHERE__
    headers:
      Authorization: {secret_env: __SECRET__, prefix: "Bearer "}
      X-Channel: "{{ order.channel }}"
    body: '{"order": {{ order.external_id | tojson }}, "total": {{ order.total }}}'
    save:
      score: body.score
      risky: body.score > 80
    timeout: 5s
    retry: {max_attempts: 3, backoff: 200ms, max_backoff: 1s}
    next: decide
    on_error:
      404: unknown_customer
      timeout: held
  - id: decide
    type: switch
    cases:
      - when: "results.score.risky"
        next: held
    default: done
  - id: held
    type: end
    status: on_hold
  - id: unknown_customer
    type: end
    status: unknown_customer
  - id: done
    type: end
    status: completed
"""
BY_ENDPOINT = "endpoint: risk_test\n    path: /score/{{ order.external_id | urlencode }}"


def by_url(host: str = "127.0.0.1") -> str:
    return f"url: http://{host}:{PORT}/v1/score/{{{{ order.external_id | urlencode }}}}"


def risk_flow(stack, where: str) -> str:
    """Publish the risk-check flow calling the service ``where`` says; its name."""
    name = f"http_risk_{uuid.uuid4().hex[:8]}"
    stack.publish(FLOW.replace("__NAME__", name).replace("__WHERE__", where).replace("__SECRET__", SECRET_ENV))
    return name


def submit(stack, flow: str, risk: RiskService, *answers: tuple[int, Any, dict[str, str]]) -> tuple[str, str]:
    """An ordinary order through ``flow``; the service gives ``answers`` first for it. (order id, external id)"""
    payload = order_payload()
    risk.plans[payload["external_id"]] = list(answers)
    response = stack.submit(payload, flow=flow)
    assert response.status_code == 201, response.text
    return response.json()["id"], payload["external_id"]


def lines(order: dict, *types: str) -> list[tuple[str, str, str]]:
    return [(e["type"], e["step"], e["message"]) for e in order["timeline"] if e["type"] in types]


def test_an_answer_is_saved_and_a_switch_branches_on_it(stack, risk):
    flow = risk_flow(stack, BY_ENDPOINT)
    risky_id, risky_ext = submit(stack, flow, risk, (200, {"score": 95}, {}))
    calm_id, calm_ext = submit(stack, flow, risk)

    calm = stack.wait_status(calm_id, "completed")
    assert lines(calm, "http_response") == [
        ("http_response", "score", f"POST <risk_test>/score/{calm_ext} answered 200; saved score=12, risky=false")
    ]
    [response] = [e for e in calm["timeline"] if e["type"] == "http_response"]
    assert response["data"] == {
        "method": "POST",
        "url": f"<risk_test>/score/{calm_ext}",
        "status": 200,
        "saved": {"score": 12, "risky": False},
        "body": {"score": 12},
    }
    [sent] = risk.seen(calm_ext)
    assert sent["path"] == f"/v1/score/{calm_ext}"
    assert sent["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert (sent["headers"]["x-channel"], sent["headers"]["content-type"]) == ("web", "application/json")
    assert sent["body"] == {"order": calm_ext, "total": 19.0}
    assert sent["headers"]["idempotency-key"].startswith(calm["workflow_id"] + "-")

    held = stack.wait_status(risky_id, "on_hold")
    assert len(risk.seen(risky_ext)) == 1
    assert lines(held, "http_response")[0][2].endswith("answered 200; saved score=95, risky=true")
    # The token is read by the activity alone: it is on no timeline line.
    assert TOKEN not in json.dumps(held["timeline"])


def test_a_503_is_retried_and_the_next_answer_taken(stack, risk):
    flow = risk_flow(stack, by_url())
    order_id, external_id = submit(stack, flow, risk, (503, {"error": "busy"}, {}))
    order = stack.wait_status(order_id, "completed")
    sent = risk.seen(external_id)
    assert len(sent) == 2
    # The same request, retried: the same idempotency key.
    assert sent[0]["headers"]["idempotency-key"] == sent[1]["headers"]["idempotency-key"]
    assert lines(order, "http_response", "http_error", "failed") == [
        (
            "http_response",
            "score",
            f"POST http://127.0.0.1:{PORT}/v1/score/{external_id} answered 200; saved score=12, risky=false",
        )
    ]


def test_a_404_goes_to_its_on_error_branch_without_a_retry(stack, risk):
    flow = risk_flow(stack, by_url())
    order_id, external_id = submit(stack, flow, risk, (404, {"error": "unknown customer"}, {}))
    order = stack.wait_status(order_id, "unknown_customer")
    assert len(risk.seen(external_id)) == 1
    assert lines(order, "http_response", "http_error") == [
        (
            "http_error",
            "score",
            f"POST http://127.0.0.1:{PORT}/v1/score/{external_id} answered 404; on_error 404: unknown_customer",
        )
    ]
    [error] = [e for e in order["timeline"] if e["type"] == "http_error"]
    assert error["data"]["outcome"] == "404"


def test_an_address_of_this_machine_the_allowlist_does_not_name_is_refused_with_a_clear_line(stack, risk):
    # The suite's stacks allowlist 127.0.0.1 (their own receivers); 127.0.0.2 is this machine too, not allowlisted.
    flow = risk_flow(stack, by_url("127.0.0.2"))
    order_id, external_id = submit(stack, flow, risk)
    order = stack.wait_for(
        order_id, lambda o: o["status"] == "failed" and any(t["status"] == "open" for t in o["tasks"])
    )
    assert lines(order, "failed") == [
        (
            "failed",
            "score",
            "step score failed: activity http_request failed (http_refused): "
            f"POST http://127.0.0.2:{PORT}/v1/score/{external_id} refused: the http step's host '127.0.0.2' "
            "is an internal address; name it in OMS_OUTBOUND_ALLOWLIST to allow it",
        )
    ]
    [task] = [t for t in order["tasks"] if t["status"] == "open"]
    assert task["title"] == "Repair failed flow"
    assert risk.seen(external_id) == []


def test_validation_refuses_a_bad_http_step_naming_its_path_and_it_cannot_be_published(stack):
    name = f"http_bad_{uuid.uuid4().hex[:8]}"
    text = (
        FLOW.replace("__NAME__", name)
        .replace("__WHERE__", "url: http://risk.example.com/v1/score")
        .replace("__SECRET__", SECRET_ENV)
        .replace("      X-Channel:", '      X-Api-Key: "k-123"\n      X-Channel:')
        .replace("      404: unknown_customer", "      404: unknown_customr")
    )
    with stack.client("analyst") as client:
        checked = client.post("/api/definitions/validate", json={"text": text})
        assert checked.status_code == 200, checked.text
        assert checked.json()["valid"] is False
        assert [(e["path"], e["message"].split(":")[0]) for e in checked.json()["errors"]] == [
            ("$.steps[0].on_error.404", "unknown step 'unknown_customr' (did you mean 'unknown_customer'?)"),
            ("$.steps[0].url", "must be https"),
            ("$.steps[0].headers.X-Api-Key", "header 'X-Api-Key' carries a credential"),
        ]
        published = client.post("/api/definitions", json={"text": text})
        assert published.status_code == 422, published.text
        listed = client.get("/api/definitions").json()["definitions"]
        assert all(d["name"] != name for d in listed)


def test_a_stored_case_with_a_scripted_answer_passes_in_the_designers_check(stack):
    name = f"http_cases_{uuid.uuid4().hex[:8]}"
    text = FLOW.replace("__NAME__", name).replace("__WHERE__", by_url()).replace("__SECRET__", SECRET_ENV) + (
        "tests:\n"
        "  - name: a risky score is held\n"
        "    responses: {score: {status: 200, body: {score: 91}}}\n"
        "    expect: {path: [score, decide, held], status: on_hold}\n"
        "  - name: an unknown customer\n"
        "    responses: {score: {status: 404}}\n"
        "    expect: {end: unknown_customer}\n"
    )
    with stack.client("analyst") as client:
        checked = client.post("/api/definitions/validate", json={"text": text}).json()
    assert checked["valid"] is True, checked["errors"]
    assert [(t["name"], t["passed"]) for t in checked["tests"]] == [
        ("a risky score is held", True),
        ("an unknown customer", True),
    ]
    assert checked["tests"][0]["detail"] == (
        f"path: score > decide > held; score: POST http://127.0.0.1:{PORT}/v1/score/TEST-1 answered 200 (scripted)"
    )


# ---- the service in-process: what the workflow cannot show ----------------------------------------------


@pytest.fixture
def settings_env(monkeypatch):
    """Set OMS_* variables for one test; the settings are read again."""

    def apply(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"OMS_{key.upper()}", value)
        get_settings.cache_clear()

    yield apply
    get_settings.cache_clear()


def call(url: str = "", **fields: Any) -> HttpCall:
    return HttpCall(
        workflow_id="wf-1",
        step="score",
        seq=7,
        method="POST",
        url=url,
        headers={"X-Channel": "web"},
        secrets=[HttpSecret(header="Authorization", env=SECRET_ENV, prefix="Bearer ")],
        body='{"order": "X"}',
        timeout_seconds=5,
        **fields,
    )


def failure(inp: HttpCall) -> http_calls.HttpCallFailed:
    with pytest.raises(http_calls.HttpCallFailed) as caught:
        asyncio.run(http_calls.call(inp))
    return caught.value


def test_127_0_0_1_is_refused_without_an_allowlist_and_nothing_is_sent(settings_env, risk):
    settings_env(outbound_allowlist="")
    external_id = f"local-{uuid.uuid4().hex[:6]}"
    refused = failure(call(f"http://127.0.0.1:{PORT}/v1/score/{external_id}"))
    assert (refused.code, refused.retryable) == ("http_refused", False)
    assert refused.message == (
        f"POST http://127.0.0.1:{PORT}/v1/score/{external_id} refused: the http step's host '127.0.0.1' is an "
        "internal address; name it in OMS_OUTBOUND_ALLOWLIST to allow it"
    )
    assert risk.seen(external_id) == []
    # Named in the allowlist, it goes.
    settings_env(outbound_allowlist="127.0.0.1")
    answer = asyncio.run(http_calls.call(call(f"http://127.0.0.1:{PORT}/v1/score/{external_id}")))
    assert (answer.status, answer.body, answer.headers["content-type"]) == (200, {"score": 12}, "application/json")
    [sent] = risk.seen(external_id)
    headers = sent["headers"]
    assert (headers["authorization"], headers["idempotency-key"]) == (f"Bearer {TOKEN}", "wf-1-7")


def test_a_429_is_retryable_after_its_retry_after_and_a_4xx_is_not(settings_env, risk):
    settings_env(outbound_allowlist="127.0.0.1")
    external_id = f"busy-{uuid.uuid4().hex[:6]}"
    risk.plans[external_id] = [(429, {"error": "slow down"}, {"Retry-After": "2"}), (409, {"error": "conflict"}, {})]
    busy = failure(call(f"http://127.0.0.1:{PORT}/v1/score/{external_id}"))
    assert (busy.code, busy.retryable, busy.retry_after) == ("http_429", True, 2.0)
    conflict = failure(call(f"http://127.0.0.1:{PORT}/v1/score/{external_id}"))
    assert (conflict.code, conflict.retryable, conflict.retry_after) == ("http_409", False, None)
    assert conflict.message == f"POST http://127.0.0.1:{PORT}/v1/score/{external_id} answered 409"


def test_an_answer_too_large_a_missing_endpoint_and_a_missing_secret_are_refused(settings_env, risk, monkeypatch):
    settings_env(outbound_allowlist="127.0.0.1")
    external_id = f"big-{uuid.uuid4().hex[:6]}"
    risk.plans[external_id] = [(200, b"x" * (http_calls.MAX_BODY_BYTES + 1), {})]
    too_large = failure(call(f"http://127.0.0.1:{PORT}/v1/score/{external_id}"))
    assert (too_large.code, too_large.retryable) == ("http_too_large", False)

    missing = failure(call(endpoint="nowhere", path="/score/1"))
    assert (missing.code, missing.message) == (
        "http_refused",
        "POST <nowhere>/score/1: endpoint 'nowhere' is not configured in OMS_HTTP_ENDPOINTS",
    )
    monkeypatch.delenv(SECRET_ENV)
    unset = failure(call(endpoint="risk_test", path="/score/1"))
    assert unset.message == (
        f"POST <risk_test>/score/1: {SECRET_ENV} is not set (the secret of header 'Authorization')"
    )
