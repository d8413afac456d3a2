"""The activities a flow's `activity` steps may call, and how each can fail.

The worker registers an implementation under each name (see ``activities/``);
validation uses this catalogue so that an unknown name or failure type is a
definition error rather than a stuck workflow.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActivitySpec:
    name: str
    summary: str
    failures: tuple[str, ...] = ()


ACTIVITIES: dict[str, ActivitySpec] = {
    spec.name: spec
    for spec in (
        ActivitySpec(
            "reserve_stock",
            "Reserve every line's quantity in one warehouse each; all lines or none.",
            failures=("out_of_stock",),
        ),
        ActivitySpec("release_stock", "Release the order's open reservations."),
        ActivitySpec(
            "create_shipment",
            "Ship the reserved stock with the simulated carrier; issues a tracking number.",
        ),
        ActivitySpec("mark_paid", "Record the payment that arrived with an event."),
    )
}

# Roles that may be named by approval steps.
ROLES = ("admin", "analyst", "operator", "channel")

# Outcomes of an audit step: the rule set's action.
AUDIT_ACTIONS = ("approve", "review", "reject")
