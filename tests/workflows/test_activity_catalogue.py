"""The catalogue validation trusts is the set of activities the worker runs, kind for kind."""

from __future__ import annotations

from activities import fulfilment, http, orders, returns, stock
from activities.registry import ALL_ACTIVITIES, activity_name
from engine.catalog import ACTIVITIES
from engine.definitions import compile_text, parse_published, validate_text

# Which kind of flow each module's activities serve.
# http_request serves both (an http step may be in either); the catalogue files it with the runtime's own.
SERVES = {orders: "order", stock: "order", fulfilment: "order", returns: "return", http: "order"}


def registered_by_kind() -> dict[str, str]:
    return {
        activity_name(function): kind
        for module, kind in SERVES.items()
        for function in vars(module).values()
        if callable(function) and hasattr(function, "__temporal_activity_definition")
    }


def test_the_catalogue_equals_what_the_worker_registers_with_the_flow_kind_of_each():
    catalogue = {name: spec.serves for name, spec in ACTIVITIES.items()}
    assert registered_by_kind() == catalogue
    assert sorted(activity_name(a) for a in ALL_ACTIVITIES) == sorted(catalogue)


def test_a_return_flow_may_not_name_an_order_activity():
    text = """
kind: flow
name: return_test
serves: return
form: return_request
start: ship
steps:
  - {id: ship, type: activity, activity: reserve_stock, next: done}
  - {id: done, type: end, status: done}
"""
    source = validate_text(text)
    assert [(e.path, e.message) for e in source.errors] == [
        ("$.steps[0].activity", "activity 'reserve_stock' serves order flows and this flow serves return flows"),
    ]


def test_a_pinned_text_is_parsed_not_validated_again():
    # Published before `serves` existed: a return step in a flow that now reads as an order flow.
    text = """
kind: flow
name: pinned_before_a_stricter_check
form: order
start: restock
steps:
  - {id: restock, type: activity, activity: restock_return, next: done}
  - {id: done, type: end, status: done}
"""
    assert validate_text(text).errors, "today's validation refuses this text"
    flow = parse_published(text)
    assert flow.steps["restock"].activity == "restock_return"
    # Drafts are still validated before they are compiled.
    try:
        compile_text(text)
    except ValueError as refused:
        assert "serves return flows" in str(refused.errors[0].message)  # type: ignore[attr-defined]
    else:
        raise AssertionError("a draft with an error compiled")
