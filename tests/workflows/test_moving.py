"""A move in place (``workflows/moving.py``) on a real dev server, the activities replaced by fakes.

An order held for review moves to v2 with its open task: the same run goes on (no continue-as-new),
the task keeps its id and takes the decision, which v2 routes through its new step; the flow ends
on v2 and says so.
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from engine.simulation import Script
from oms.worker import workflow_runner
from tests.workflows.test_flow_runtime import (
    ORDER_ACTIVITIES,
    PLANS,
    Plan,
    _plumbing,
    _step_activity,
    fake_audit,
    fake_open_task,
    quick_flow,
)
from workflows.contracts import (
    Decision,
    DecisionAccepted,
    DefinitionRef,
    MigrateRequest,
    MigrateResult,
    OrderInput,
    OrderResult,
    Progress,
)
from workflows.order_flow import OrderWorkflow

FRAUD_CHECK = """\
  - id: fraud_check
    type: activity
    activity: notify
    params: {event: confirmed}
    next: reserve

  - id: reserve
"""
PAID_PICKUP = ("payment_check", "delivery_method", "hand_over", "completed")
LINES: list[str] = []


@activity.defn(name="record_progress")
def record_progress(progress: Progress) -> None:
    LINES.append(progress.message)


def test_an_order_held_for_review_moves_in_place_with_its_open_task_and_decides_on_v2(temporal_address):
    v1 = quick_flow().replace("due: 3s", "due: 10m")
    review = "approve: reserve\n      reject: rejected"  # manual_review's decisions
    v2 = v1.replace(review, review.replace("reserve", "fraud_check"), 1).replace("  - id: reserve\n", FRAUD_CHECK, 1)
    order = {"id": "M", "lines": [], "total": 10, "payment": {"status": "paid"}, "delivery_method": "pickup"}
    order_id, LINES[:] = f"move-{uuid.uuid4().hex[:10]}", []
    plan = PLANS[order_id] = Plan(order=order, script=Script(audit=["review"]))
    rules = {"order_audit": DefinitionRef(kind="rules", name="order_audit", version=1, sha256="0" * 64)}
    refs = [DefinitionRef(kind="flow", name="order_quick", version=n, sha256=str(n) * 64) for n in (1, 2)]
    fakes = [*(_step_activity(name) for name in ORDER_ACTIVITIES), fake_audit, fake_open_task, record_progress]
    fakes += [_plumbing(name) for name in ("close_task", "escalate_task", "record_approval")]

    async def scenario() -> tuple[dict, MigrateResult, dict, DecisionAccepted, OrderResult, list[str]]:
        client = await Client.connect(temporal_address)
        queue = f"move-{uuid.uuid4().hex[:8]}"
        with ThreadPoolExecutor(4) as executor:
            async with Worker(
                client,
                task_queue=queue,
                workflows=[OrderWorkflow],
                activities=fakes,
                activity_executor=executor,
                workflow_runner=workflow_runner(),
            ):
                handle = await client.start_workflow(
                    OrderWorkflow.run,
                    OrderInput(order_id=order_id, order=order, flow=refs[0], flow_text=v1, rules=rules),
                    id=f"wf-{order_id}",
                    task_queue=queue,
                )
                move = MigrateRequest(flow=refs[1], flow_text=v2, rules=rules, by="ana", migration_id="m1")
                for attempt in range(100):  # refused until the task is open and the flow waits for its decision
                    held = await handle.query("state")
                    try:
                        moved = await handle.execute_update(
                            "migrate", move, id=f"m1-{attempt}", result_type=MigrateResult
                        )
                        break
                    except WorkflowUpdateFailedError as refused:
                        assert isinstance(refused.cause, ApplicationError) and refused.cause.type == "not_waiting"
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError(f"never waited at its review: {held}")
                state = await handle.query("state")
                decision = Decision(task_id=state["task"]["id"], decision="approve", user="ann", role="operator")
                accepted = await handle.execute_update("decide", decision, result_type=DecisionAccepted)
                result = await handle.result()
                kinds = [event.WhichOneof("attributes") async for event in handle.fetch_history_events()]
        return held, moved, state, accepted, result, kinds

    try:
        held, moved, state, accepted, result, kinds = asyncio.run(scenario())
    finally:
        PLANS.pop(order_id)
    assert (moved.moved, moved.from_version, moved.to_version, moved.step, moved.target_step) == (
        True,
        1,
        2,
        "manual_review",
        "manual_review",
    )
    assert state["step"] == "manual_review" and state["task"]["state"] == "open"
    assert state["task"]["id"] == held["task"]["id"]  # the task opened on v1, not a new one
    assert accepted.next_step == "fraud_check"  # v2's route for the decision
    assert result.path == [*("audit", "manual_review", "fraud_check", "reserve"), *PAID_PICKUP]
    assert "workflow_execution_continued_as_new_event_attributes" not in kinds  # one run: moved in place
    assert plan.calls.count("open_task") == 1
    assert "moved from v1 to v2 at step manual_review by ana" in LINES
    assert LINES[-1] == "flow order_quick v2 ended: completed"
