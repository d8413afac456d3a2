"""Deliberate changes to the order workflow, for the test that proves the patching rule.

``Unpatched`` adds a command (a timer before every audit) the way a careless
change would; ``Patched`` adds the same command behind ``workflow.patched``.
Both are registered as "OrderFlow", as a new release of the code would be.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.flows import AuditStep
    from engine.runtime import FlowState
    from workflows.contracts import OrderInput, OrderResult
    from workflows.order_flow import OrderWorkflow


@workflow.defn(name="OrderFlow")
class Unpatched(OrderWorkflow):
    async def audit(self, step: AuditStep, state: FlowState) -> dict:
        await workflow.sleep(0.01)  # a new command, in front of what old histories recorded
        return await super().audit(step, state)

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderResult:
        return await super().run(inp)


@workflow.defn(name="OrderFlow")
class Patched(OrderWorkflow):
    async def audit(self, step: AuditStep, state: FlowState) -> dict:
        if workflow.patched("pause-before-audit"):
            await workflow.sleep(0.01)
        return await super().audit(step, state)

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderResult:
        return await super().run(inp)


@workflow.defn(name="OrderFlow")
class BeforeTaskFix(OrderWorkflow):
    """The order workflow as it was before the task-race fix: the task is recorded after open_task returns."""

    def _record_task_first(self) -> bool:
        return False

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderResult:
        return await super().run(inp)
