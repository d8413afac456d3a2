"""Timeline lines and service errors read back into their wording (services/timeline_words.py,
services/error_words.py), so that the pages can say them in Chinese; the English stays the API's."""

from __future__ import annotations

import contextlib
import re
import socket
import threading

import anyio
import pytest

from engine.adapters import ParcelRef, ParcelRequest, PaymentRequest
from engine.definitions import compile_text
from engine.flows import Flow
from engine.http_steps import HttpResponse
from engine.runtime import FlowState, StepFailed, run_flow
from engine.simulation import Script, SimulatedEffects, Suspended, run_now
from oms.settings import get_settings
from services import http_calls
from services.error_words import ERRORS, said
from services.errors import Conflict, DomainError
from services.fulfilment.carriers import HttpCarrier
from services.orders.payments import HttpPayments
from services.phrases import phrase
from services.timeline_words import TIMELINE, recognised, worded
from tests.engine.shipped import DEFINITIONS, read
from tests.http_fakes import Answer, FakeServer
from web import i18n
from workflows.contracts import HttpCall

PLACE = re.compile(r"%\((\w+)\)s")


@pytest.mark.parametrize("wording", sorted(TIMELINE.all_wordings() | ERRORS.all_wordings()))
def test_every_wording_has_a_chinese_sentence_with_the_same_places(wording):
    chinese = i18n.translations("zh").gettext(wording)
    assert chinese != wording
    values = {name: f"<{name}>" for name in PLACE.findall(wording)}
    filled = chinese % values if values else chinese
    assert all(f"<{name}>" in filled for name in values)


class Recording(SimulatedEffects):
    """The simulated effects, keeping each timeline line the production interpreter writes."""

    def __init__(self, flow: Flow, script: Script):
        super().__init__(flow, script)
        self.lines: list[tuple[str, str]] = []

    async def record(self, type_, step_id, message, status=None, data=None) -> None:
        self.lines.append((type_, message))


def _lines(flow_file: str, script: Script) -> list[tuple[str, str]]:
    flow = compile_text(read(DEFINITIONS / "flows" / flow_file))
    assert isinstance(flow, Flow)
    effects = Recording(flow, script)
    order = {"total": 19, "payment": {"status": "pending"}, "lines": [{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}]}
    state = FlowState(order=order, audit={} if flow.serves == "return" else None)
    with contextlib.suppress(Suspended):  # stopped where it waits (Script.stop_at_waits)
        run_now(run_flow(flow, effects, state))
    return effects.lines


@pytest.mark.parametrize(
    ("flow_file", "script", "types"),
    [
        ("order.yaml", Script(events=["payment_received", "delivered"]), ["waiting", "event", "event"]),
        ("order.yaml", Script(), ["waiting", "timed_out"]),
        ("order.yaml", Script(failures={"reserve": "out_of_stock"}), ["out_of_stock", "waiting", "timed_out"]),
        ("return.yaml", Script(stop_at_waits=True), ["status", "waiting"]),
    ],
    ids=["paid and delivered", "never paid", "out of stock, never restocked", "a return waiting for its parcel"],
)
def test_every_line_the_interpreter_writes_for_the_shipped_flows_is_recognised(flow_file, script, types):
    lines = _lines(flow_file, script)
    assert [t for t, _ in lines] == types
    unrecognised = [(t, m) for t, m in lines if m and recognised(t, m) is None]  # a status line may say nothing
    # A scripted failure's text is the simulation's, not a service's English (tested below).
    assert unrecognised == [(t, m) for t, m in lines if m.endswith("(scripted)")]


def test_a_line_is_stored_with_its_wording_and_values_a_sentence_inside_nested():
    assert worded("waiting", "waiting for payment_received, cancel_requested") == {
        "message_key": "waiting for %(events)s",
        "message_values": {"events": "payment_received, cancel_requested"},
    }
    assert worded("notification", "resent: shipped notification sent by email to a@b.test: Your order W-1") == {
        "message_key": "resent: %(summary)s",
        "message_values": {
            "summary": {
                "key": "%(event)s notification sent by %(channels)s to %(to)s: %(subject)s",
                "values": {"event": "shipped", "channels": "email", "to": "a@b.test", "subject": "Your order W-1"},
            }
        },
    }
    assert worded("note", "called the customer") == {"message_key": None, "message_values": None}
    # A line is read by the wordings of its own type only: a note that looks like another line stays a note.
    assert worded("note", "waiting for payment_received")["message_key"] is None


def test_a_failed_steps_line_has_its_errors_wording():
    assert recognised("out_of_stock", "cannot allocate (line 1: 3 more MUG-LOGO): no warehouse has it") == {
        "key": "cannot allocate (%(missing)s): %(why)s",
        "values": {"missing": "line 1: 3 more MUG-LOGO", "why": "no warehouse has it"},
    }


def test_an_error_says_its_own_phrase_else_the_wording_of_its_code_else_nothing():
    explicit = Conflict("task_closed", phrase("task is already %(status)s", status="decided"))
    assert (explicit.message, said(explicit)) == ("task is already decided", explicit.phrase)
    known = said(Conflict("task_claimed", "task is claimed by ann"))
    assert known is not None and (known.wording, dict(known.values)) == (
        "task is claimed by %(person)s",
        {"person": "ann"},
    )
    assert said(Conflict("task_claimed", "something else entirely")) is None
    assert said(Conflict("no_such_code", "task is claimed by ann")) is None


# ---- the lines of the http step and of the carriers' and payment providers' APIs --------------------
#
# Each line is made by the code that writes it — the interpreter's http step over the real http_request
# service, the real carrier and payment adapters — sending to a local server with scripted answers.


class _Scripted(FakeServer):
    """Answers each path as ``answers`` says: (status, headers, body); ``/hold`` answers when released."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.released = threading.Event()
        super().__init__()

    def route(self, request: dict) -> Answer:
        if request["path"].startswith("/hold"):
            self.released.wait()
        missing = (404, {}, b'{"detail": "Not found", "error": {"message": "No such thing"}}')
        return self.answers.get(request["path"], missing)


@pytest.fixture
def scripted(monkeypatch):
    """A local server the outbound rules let through (the suite allowlists loopback for its own servers)."""
    server = _Scripted()
    monkeypatch.setenv("OMS_OUTBOUND_ALLOWLIST", "127.0.0.1")
    monkeypatch.setenv("OMS_CARRIER_API_SECRET_SHIPPO", "shippo-test-token")
    monkeypatch.setenv("OMS_PAYMENT_API_SECRET_STRIPE", "stripe-test-key")
    get_settings.cache_clear()
    yield server
    server.released.set()
    server.close()
    get_settings.cache_clear()


@pytest.fixture
def provider_server(scripted):
    return scripted.base_url


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


HTTP_FLOW = """kind: flow
name: words_http
form: order
start: score
steps:
  - id: score
    type: http
    method: POST
    url: {base}{path}/{{{{ order.external_id }}}}
    body: '{{"total": {{{{ order.total }}}}}}'
    save: {{score: body.score}}
    timeout: 1s
    next: done
    on_error: {{"404": done, 5xx: done, timeout: done, unreachable: done}}
  - id: done
    type: end
    status: completed
"""


class OverHttp(Recording):
    """The simulated effects, but an http step's request goes out through the ``http_request`` service, its
    failure reaching the flow typed and worded as the workflow passes it on (workflows/flow.py: http)."""

    async def http(self, step, request):
        call = HttpCall(
            workflow_id="words",
            step=step.id,
            seq=1,
            method=request.method,
            url=request.url,
            endpoint=request.endpoint,
            path=request.path,
            headers=dict(request.headers),
            body=request.body,
            timeout_seconds=step.call.timeout_seconds,
        )
        try:
            answer = await http_calls.call(call)
        except http_calls.HttpCallFailed as exc:
            raise StepFailed(exc.code, exc.message) from None
        return HttpResponse(answer.status, answer.body, dict(answer.headers))


def _http_lines(base: str, path: str) -> list[tuple[str, str]]:
    flow = compile_text(HTTP_FLOW.format(base=base, path=path))
    assert isinstance(flow, Flow)
    effects = OverHttp(flow, Script())
    order = {"external_id": "W-7", "total": 19.0, "lines": []}
    anyio.run(run_flow, flow, effects, FlowState(order=order))
    return [line for line in effects.lines if line[0].startswith("http_")]


@pytest.mark.parametrize(
    ("path", "answer", "wording", "values"),
    [
        (
            "/ok",
            (200, {}, b'{"score": 12}'),
            "%(method)s %(target)s answered %(status)s; saved %(saved)s",
            {"status": "200", "saved": "score=12"},
        ),
        (
            "/empty",
            (204, {}, b""),
            "%(method)s %(target)s answered %(status)s; saved %(saved)s",
            {"status": "204", "saved": "score=null"},
        ),
        (
            "/gone",
            (404, {}, b"{}"),
            "%(method)s %(target)s answered %(status)s; on_error %(key)s: %(step)s",
            {"status": "404", "key": "404", "step": "done"},
        ),
        (
            "/busy",
            (503, {}, b"{}"),
            "%(method)s %(target)s answered %(status)s; on_error %(key)s: %(step)s",
            {"status": "503", "key": "5xx", "step": "done"},
        ),
        (
            "/hold",
            None,
            "%(method)s %(target)s did not answer within %(seconds)ss; on_error %(key)s: %(step)s",
            {"seconds": "1", "key": "timeout", "step": "done"},
        ),
    ],
    ids=["saved", "no body", "404", "503", "no answer in time"],
)
def test_an_http_steps_lines_are_recognised(scripted, provider_server, path, answer, wording, values):
    if answer is not None:
        scripted.answers[f"{path}/W-7"] = answer
    [(type_, message)] = _http_lines(provider_server, path)
    sentence = recognised(type_, message)
    assert sentence is not None, message
    target = f"{provider_server}{path}/W-7"
    assert sentence == {"key": wording, "values": {"method": "POST", "target": target, **values}}


def test_an_http_step_that_reaches_nobody_has_its_line_recognised(provider_server):
    [(type_, message)] = _http_lines(f"http://127.0.0.1:{_closed_port()}", "/score")
    assert recognised(type_, message) == {
        "key": "%(method)s %(target)s could not be reached; on_error %(key)s: %(step)s",
        "values": {
            "method": "POST",
            "target": message.split(" ")[1],
            "key": "unreachable",
            "step": "done",
        },
    }


def _shippo(base: str) -> HttpCarrier:
    text = (DEFINITIONS / "carriers" / "default.yaml").read_text(encoding="utf-8")
    assert text.count("base_url: https://api.goshippo.com\n") == 1
    table = compile_text(text.replace("base_url: https://api.goshippo.com\n", f"base_url: {base}\n"))
    carrier = table.carriers["dhl_shippo"]
    assert carrier.http is not None
    return HttpCarrier(carrier.name, carrier.http)


def _stripe(base: str) -> HttpPayments:
    text = (DEFINITIONS / "payments" / "default.yaml").read_text(encoding="utf-8")
    assert text.count("base_url: https://api.stripe.com\n") == 1
    provider = compile_text(text.replace("base_url: https://api.stripe.com\n", f"base_url: {base}\n")).providers[
        "stripe"
    ]
    return HttpPayments(provider.name, provider.http)


TRACKS = "/tracks/dhl_express/TN-1"
PARCEL = ParcelRef("dhl_shippo", "TN-1", "tx-1", "ord_1", 1)


def _failure(action) -> tuple[str, str]:
    with pytest.raises(DomainError) as caught:
        action()
    return caught.value.code, caught.value.message


@pytest.mark.parametrize(
    ("answer", "code", "wording", "values"),
    [
        (
            (404, {}, b'{"detail": "Not found."}'),
            "carrier_failed",
            "carrier %(carrier)s: %(operation)s was refused with %(status)s: %(said)s",
            {"status": "404", "said": "Not found."},
        ),
        (
            (400, {}, b"{}"),
            "carrier_failed",
            "carrier %(carrier)s: %(operation)s was refused with %(status)s",
            {"status": "400"},
        ),
        (
            (200, {"Content-Type": "text/html"}, b"<html>maintenance</html>"),
            "carrier_failed",
            "carrier %(carrier)s: the answer to %(operation)s is not JSON (%(where)s)",
            {"where": "$.carriers[4].adapter.track"},
        ),
        (
            (200, {}, b'{"tracking_status": {}}'),
            "carrier_failed",
            "carrier %(carrier)s: the answer to %(operation)s does not match the mapping: %(problem)s",
            {
                "problem": "$.carriers[4].adapter.track.status: the answer has no 'tracking_status.status'; "
                "keys are tracking_status"
            },
        ),
        (
            (503, {}, b'{"detail": "down for maintenance"}'),
            "carrier_unavailable",
            "carrier %(carrier)s: %(operation)s answered %(status)s: %(said)s",
            {"status": "503", "said": "down for maintenance"},
        ),
        (
            (429, {"Retry-After": "2"}, b"{}"),
            "carrier_unavailable",
            "carrier %(carrier)s: %(operation)s answered 429 (retry after %(seconds)ss)",
            {"seconds": "2"},
        ),
    ],
    ids=["refused, saying why", "refused", "not JSON", "not the mapping", "unavailable, saying why", "429"],
)
def test_a_carrier_apis_failures_are_recognised(scripted, provider_server, answer, code, wording, values):
    scripted.answers[TRACKS] = answer
    failed = _failure(lambda: _shippo(provider_server).track(PARCEL))
    assert failed[0] == code
    sentence = recognised(*failed)
    assert sentence is not None, failed[1]
    assert sentence["key"] == wording
    assert {k: v for k, v in sentence["values"].items() if k in values} == values
    assert (sentence["values"]["carrier"], sentence["values"]["operation"]) == ("'dhl_shippo'", "track")


def test_a_carrier_api_out_of_reach_unset_or_unbuildable_has_its_line_recognised(provider_server, monkeypatch):
    unreachable = _failure(lambda: _shippo(f"http://127.0.0.1:{_closed_port()}").track(PARCEL))
    assert recognised(*unreachable) == {
        "key": "carrier %(carrier)s: the %(operation)s request %(problem)s",
        "values": {"carrier": "'dhl_shippo'", "operation": "track", "problem": "could not be reached"},
    }
    request = ParcelRequest("ord_1", 1, "dhl_shippo", "parcel", 1.0, {"code": "ZZZ"}, {})
    unbuildable = _failure(lambda: _shippo(provider_server).create_shipment(request))
    assert recognised(*unbuildable) == {
        "key": "carrier %(carrier)s: cannot build the %(operation)s request: %(problem)s",
        "values": {
            "carrier": "'dhl_shippo'",
            "operation": "create",
            "problem": "$.carriers[4].adapter.create.body.shipment.address_from: sender.code is 'ZZZ', "
            "not one of BER, LYS, NJ1",
        },
    }
    monkeypatch.delenv("OMS_CARRIER_API_SECRET_SHIPPO")
    unset = _failure(lambda: _shippo(provider_server).track(PARCEL))
    sentence = recognised(*unset)
    assert sentence is not None and sentence["key"] == "carrier %(carrier)s: %(problem)s (%(where)s)", unset
    assert sentence["values"]["where"] == "$.carriers[4].adapter.auth.secret_env"


def test_a_payment_providers_failures_are_recognised(scripted, provider_server):
    no_reference = _failure(lambda: _stripe(provider_server).void(PaymentRequest("ord_1", 19.0)))
    assert recognised(*no_reference) == {
        "key": "payment provider %(provider)s: the order's payment has no reference to %(operation)s "
        "(the payment_received event brings it as `reference`)",
        "values": {"provider": "'stripe'", "operation": "void"},
    }
    scripted.answers["/v1/refunds"] = (400, {}, b'{"error": {"message": "No such payment_intent"}}')
    refused = _failure(lambda: _stripe(provider_server).refund(PaymentRequest("ord_1", 19.0, "pi_1")))
    assert recognised(*refused) == {
        "key": "payment provider %(provider)s: %(operation)s was refused with %(status)s: %(said)s",
        "values": {"provider": "'stripe'", "operation": "refund", "status": "400", "said": "No such payment_intent"},
    }
    scripted.answers["/v1/refunds"] = (502, {}, b"{}")
    unavailable = _failure(lambda: _stripe(provider_server).refund(PaymentRequest("ord_1", 19.0, "pi_1")))
    assert recognised(*unavailable) == {
        "key": "payment provider %(provider)s: %(operation)s answered %(status)s",
        "values": {"provider": "'stripe'", "operation": "refund", "status": "502"},
    }
