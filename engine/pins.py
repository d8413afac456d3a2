"""Which definitions a flow will use, so that intake can pin every one of them.

A flow names some definitions directly (its form, the rule sets of its audit
steps) and others through its activity steps' params: the allocation of a
reservation, the carriers table of a shipment, the template of a
notification, the payment providers of a refund or void. ``definitions_used`` lists them all as (kind, name); what an
order uses outside its flow (its channel, the delivery regions and coupons its
audit facts read, its printed documents) the caller adds.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.flows import ActivityStep, Flow
from engine.payments import DEFAULT_PAYMENTS

DEFAULT_ALLOCATION = "default"
DEFAULT_CARRIERS = "default"

# Activities that allocate stock by params.allocation.
_ALLOCATING = ("reserve_stock", "reserve_exchange")
# Activities that send a notification: params.template, else notify_<params.event>.
_NOTIFYING = ("notify", "notify_return")


def notification_template(params: dict) -> str:
    """The template a notify step sends: ``params.template``, else ``notify_<params.event>``."""
    return str(params.get("template") or f"notify_{params.get('event') or ''}")


def _step_uses(step: ActivityStep) -> Iterator[tuple[str, str]]:
    params = dict(step.params)
    if step.activity in _ALLOCATING:
        yield "allocation", str(params.get("allocation") or DEFAULT_ALLOCATION)
    elif step.activity == "create_shipment" and not params.get("carrier"):
        yield "carriers", str(params.get("carriers") or DEFAULT_CARRIERS)
    elif step.activity in _NOTIFYING:
        yield "template", notification_template(params)
    elif step.activity == "cancel_payment":
        yield "payments", str(params.get("payments") or DEFAULT_PAYMENTS)


def definitions_used(flow: Flow) -> list[tuple[str, str]]:
    """(kind, name) of every definition ``flow`` uses, the flow first, sorted after it."""
    used: set[tuple[str, str]] = {("rules", name) for name in flow.rule_sets}
    if flow.form:
        used.add(("form", flow.form))
    for step in flow.steps.values():
        if isinstance(step, ActivityStep):
            used.update(_step_uses(step))
    return [("flow", flow.name), *sorted(used)]
