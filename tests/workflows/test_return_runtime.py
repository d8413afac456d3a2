"""The return workflow on a real dev server, its activities replaced by fakes registered under their names.

For 200+ generated returns (refund or exchange, policy outcomes, review
decisions and escalations, quality-check results, a parcel that arrives, comes
late or never, an exchange out of stock or refused), the simulated run
(``engine.simulation``, what test cases and what-if use) and the real
``ReturnFlow`` take the same path, end in the same status and call the same
activities in the same order.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from engine.definitions import parse_published
from engine.interpreter import TIMEOUT
from engine.simulation import Script, simulate
from oms.worker import workflow_runner
from tests.conftest import ROOT
from workflows.contracts import (
    QC_DECISION,
    DefinitionRef,
    ExternalEvent,
    ReturnAuditInput,
    ReturnAuditOutcome,
    ReturnDecision,
    ReturnInput,
    ReturnResult,
    ReturnStepInput,
    ReturnTaskInput,
)
from workflows.return_flow import ReturnWorkflow

STEP_ACTIVITIES = (
    "issue_return_label",
    "notify_return",
    "reserve_exchange",
    "release_exchange",
    "place_exchange",
    "restock_return",
    "refund_return",
)
# The simulation names the task effects by what they do; the return workflow's activities say "return".
AS_SIMULATED = {
    "open_return_task": "open_task",
    "escalate_return_task": "escalate_task",
    "close_return_task": "close_task",
}
# Every task period and the first parcel wait are short; the late parcel's wait leaves time to send it.
DUE = "8s"
LATE_WINDOW = "30s"


def quick_return_flow() -> str:
    """The shipped return flow with test-sized waits and task periods."""
    text = (ROOT / "definitions" / "flows" / "return.yaml").read_text(encoding="utf-8")
    text = re.sub(r"\btimeout: \w+", "timeout: 1s", text)
    text = re.sub(r"\bdue: \w+", f"due: {DUE}", text)
    late = "  - id: await_parcel_late\n    type: wait\n    timeout: 1s\n"
    assert late in text
    text = text.replace(late, late.replace("timeout: 1s", f"timeout: {LATE_WINDOW}"))
    return text.replace("name: return\n", "name: return_quick\n")


@dataclass
class Plan:
    """One generated return: its request, script and quality check, and what the fakes saw."""

    order: dict[str, Any]
    request: dict[str, Any]
    script: Script
    parcel: str  # on_time | late | never
    qc: list[dict[str, Any]]
    audit: str
    visits: dict[str, int] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    restocked_qc: list[dict[str, Any]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def visit(self, step: str) -> int:
        n = self.visits.get(step, 0)
        self.visits[step] = n + 1
        return n

    def called(self, name: str) -> None:
        with self.lock:
            self.calls.append(name)


PLANS: dict[str, Plan] = {}


def _per_visit(value: Any, visit: int) -> Any:
    if isinstance(value, list):
        return value[visit] if visit < len(value) else None
    return value


def _step_activity(name: str):
    @activity.defn(name=name)
    def run(inp: ReturnStepInput) -> dict:
        plan = PLANS[inp.return_id]
        plan.called(name)
        if name == "restock_return":
            plan.restocked_qc = list(inp.qc)
        failure = _per_visit(plan.script.failures.get(inp.step), plan.visit(inp.step))
        if failure:
            raise ApplicationError(f"{name} failed", type=failure, non_retryable=True)
        return dict(plan.script.results.get(inp.step) or {})

    return run


@activity.defn(name="audit_return")
def fake_audit(inp: ReturnAuditInput) -> ReturnAuditOutcome:
    plan = PLANS[inp.return_id]
    plan.called("audit_return")
    return ReturnAuditOutcome(action=plan.audit, fired=[], tags=[], facts={})


@activity.defn(name="open_return_task")
def fake_open_task(inp: ReturnTaskInput) -> str:
    PLANS[inp.return_id].called("open_return_task")
    return f"{inp.return_id}-t{inp.seq}"


@activity.defn(name="await_return_stored")
def fake_stored(return_id: str) -> bool:
    return True


def _plumbing(name: str):
    @activity.defn(name=name)
    def run(inp: Any) -> None:
        if name != "record_return_progress":
            PLANS[inp["return_id"]].called(name)  # untyped: the payload arrives as a dict

    return run


FAKES = [
    *(_step_activity(name) for name in STEP_ACTIVITIES),
    fake_audit,
    fake_open_task,
    fake_stored,
    *(_plumbing(name) for name in ("close_return_task", "escalate_return_task", "record_return_progress")),
]


def generate(rng: random.Random, index: int) -> Plan:
    lines = [
        {"line": n, "sku": f"SKU-{n}", "qty": rng.choice([1, 2]), "price": rng.choice([9.5, 49.0])}
        for n in range(1, rng.choice([1, 2]) + 1)
    ]
    kind = rng.choice(["refund", "exchange"])
    request = {"kind": kind, "reason": "wrong_size", "lines": lines, "replacement_sku": "SKU-9"}
    order = {
        "id": f"ord-{index}",
        "lines": [{"sku": ln["sku"], "qty": ln["qty"], "price": ln["price"]} for ln in lines],
    }
    audit = rng.choice(["approve", "approve", "review", "reject"])
    decisions: dict[str, list[str]] = {
        "review": rng.choice([[], ["approve"], ["approve"], ["reject"], [TIMEOUT, "approve"], [TIMEOUT, "reject"]]),
        "inspect": rng.choice([[QC_DECISION]] * 3 + [[TIMEOUT, QC_DECISION], [TIMEOUT, TIMEOUT, QC_DECISION]]),
    }
    failures: dict[str, Any] = {}
    results: dict[str, dict] = {}
    if kind == "exchange":
        if rng.random() < 0.25:
            failures["reserve_exchange"] = ["out_of_stock"]
        else:
            results["reserve_exchange"] = {"exchange_order": f"ord-x{index}"}
        if rng.random() < 0.25:
            failures["exchange"] = ["exchange_refused"]
    parcel = rng.choice(["on_time", "on_time", "on_time", "late", "never"])
    events = [] if parcel == "never" else ["parcel_received"]
    timeouts = {"await_parcel": True} if parcel == "late" else {}
    qc = []
    for line in lines:
        result = rng.choice(["resellable", "damaged", "missing"])
        qc.append({"line": line["line"], "result": result, "qty": line["qty"], "reason": "scratched"})
    script = Script(
        audit=audit, decisions=decisions, events=events, failures=failures, results=results, timeouts=timeouts
    )
    return Plan(order=order, request=request, script=script, parcel=parcel, qc=qc, audit=audit)


async def _drive(handle: WorkflowHandle, plan: Plan, finished: asyncio.Task) -> None:
    """Decide each waiting period as scripted (``timeout``: let it run out) and send a late parcel late."""
    pulls: dict[str, int] = {}  # per step, across visits, as the simulation counts them
    settled: set[tuple[str, str]] = set()  # waiting periods (task, role) already decided or let run out
    parcel_sent = plan.parcel != "late"
    while not finished.done():
        await asyncio.sleep(0.25)
        try:
            state = await handle.query("state")
        except Exception:
            continue
        if not parcel_sent and state.get("step") == "await_parcel_late":
            await handle.signal("event", ExternalEvent(type="parcel_received", data={}))
            parcel_sent = True
        task = state.get("task")
        if not task or task.get("state") != "open" or (task["id"], task["role"]) in settled:
            continue
        period = (task["id"], task["role"])
        settled.add(period)
        scripted = plan.script.decisions.get(task["step"]) or []
        pulled = pulls.get(task["step"], 0)
        if pulled >= len(scripted):
            continue  # nothing scripted: the period runs out
        pulls[task["step"]] = pulled + 1
        if scripted[pulled] == TIMEOUT:
            continue
        decision = ReturnDecision(
            task_id=task["id"],
            decision=scripted[pulled],
            user="ann",
            role="admin",
            comment="ok",
            qc=plan.qc if scripted[pulled] == QC_DECISION else [],
        )
        with contextlib.suppress(WorkflowUpdateFailedError):  # refused: the period ran out meanwhile
            await handle.execute_update("decide", decision)


async def _run_real(address: str, plans: list[Plan], flow_text: str) -> list[ReturnResult]:
    client = await Client.connect(address)
    queue = f"returns-{uuid.uuid4().hex[:8]}"
    ref = DefinitionRef(kind="flow", name="return_quick", version=1, sha256="0" * 64)
    rules = {"return_policy": DefinitionRef(kind="rules", name="return_policy", version=1, sha256="0" * 64)}
    handles = []
    for plan in plans:
        return_id = f"ret-{uuid.uuid4().hex[:10]}"
        PLANS[return_id] = plan
        handle = await client.start_workflow(
            ReturnWorkflow.run,
            ReturnInput(
                return_id=return_id,
                order_id=plan.order["id"],
                request=plan.request,
                order=plan.order,
                flow=ref,
                flow_text=flow_text,
                rules=rules,
            ),
            id=f"wf-{return_id}",
            task_queue=queue,
        )
        if plan.parcel == "on_time":  # in before the first step runs (the worker starts after)
            await handle.signal("event", ExternalEvent(type="parcel_received", data={}))
        handles.append(handle)
    with ThreadPoolExecutor(16) as executor:
        async with Worker(
            client,
            task_queue=queue,
            workflows=[ReturnWorkflow],
            activities=FAKES,
            activity_executor=executor,
            workflow_runner=workflow_runner(),
            max_concurrent_activities=16,
        ):
            finished = [asyncio.create_task(h.result()) for h in handles]
            drivers = [
                asyncio.create_task(_drive(h, plan, done))
                for h, plan, done in zip(handles, plans, finished, strict=True)
            ]
            results = await asyncio.wait_for(asyncio.gather(*finished), timeout=900)
            await asyncio.gather(*drivers)
    return list(results)


def test_simulated_and_real_runs_agree_on_200_generated_returns(temporal_address):
    flow_text = quick_return_flow()
    flow = parse_published(flow_text)
    rng = random.Random(6)
    plans = [generate(rng, index) for index in range(210)]
    results = asyncio.run(_run_real(temporal_address, plans, flow_text))
    differences = []
    for plan, real in zip(plans, results, strict=True):
        simulated = simulate(flow, plan.order, plan.script, {"return": plan.request})
        real_calls = [AS_SIMULATED.get(name, name) for name in plan.calls]
        end_status = flow.steps[simulated.path[-1]].status or ""
        if simulated.problem or list(simulated.path) != real.path or end_status != real.status:
            differences.append(("path", plan.request, plan.script, simulated.path, real.path, real.status))
        elif list(simulated.activities) != real_calls:
            differences.append(("activities", plan.script, simulated.activities, real_calls))
        elif "restock" in real.path and plan.restocked_qc != plan.qc:
            differences.append(("qc", plan.qc, plan.restocked_qc))
    assert differences == []
    # The generated returns cover what the flow can do, not one road.
    paths = [set(r.path) for r in results]
    assert {r.status for r in results} == {"completed", "rejected", "expired"}
    for step in ("review", "reserve_exchange", "exchange", "exchange_refused", "remind", "expire", "restock"):
        assert any(step in p for p in paths), step
    assert any(r.path.count("inspect") > 1 for r in results)  # a quality check that ran out and opened again
    assert any("escalate_return_task" in plan.calls for plan in plans)


@pytest.fixture(autouse=True)
def _forget_plans():
    yield
    PLANS.clear()
