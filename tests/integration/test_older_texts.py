"""Validation happens at publish; a workflow only parses its pinned text.

A check added in a later release (here: YAML anchors and aliases, refused since
the definition limits came in) refuses a text that was published before it. An
order pinned to such a text must still run: neither intake nor the workflow
validates a published text again.
"""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine
from sqlmodel import Session

from engine.definitions import ALIAS_MESSAGE, DefinitionError, content_hash, parse_published, validate_text
from engine.flows import ActivityStep, Flow
from oms.models import DefinitionVersion
from tests.conftest import order_payload


def _flow_with_an_alias(name: str) -> str:
    """A flow written before aliases were refused: both tables are called ``default``, said once."""
    return f"""kind: flow
name: {name}
title: Written before the YAML limits
form: order
start: reserve
steps:
  - id: reserve
    type: activity
    activity: reserve_stock
    params: {{allocation: &table default}}
    status: reserved
    next: ship
  - id: ship
    type: activity
    activity: create_shipment
    params: {{carriers: *table}}
    status: shipped
    next: done
  - id: done
    type: end
    status: completed
"""


def _store_as_published(stack, text: str, name: str) -> None:
    """What publishing stored before the check existed: the row, without today's validation."""
    engine = create_engine(stack.env["OMS_DATABASE_URL"])
    try:
        with Session(engine) as session:
            session.add(
                DefinitionVersion(
                    kind="flow", name=name, version=1, sha256=content_hash(text), body=text, author="analyst"
                )
            )
            session.commit()
    finally:
        engine.dispose()


def test_an_order_pinned_to_a_text_a_later_check_refuses_still_runs(stack):
    name = f"older_{uuid.uuid4().hex[:8]}"
    text = _flow_with_an_alias(name)
    # Today's validation refuses the text, for a reason that matters only at validation ...
    assert list(validate_text(text).errors) == [DefinitionError("$", f"line 10: {ALIAS_MESSAGE}")]
    with stack.client("analyst") as client:
        refused = client.post("/api/definitions", json={"text": text})
    assert refused.status_code == 422, refused.text
    # ... while the published text parses to the same flow as ever.
    flow = parse_published(text)
    assert isinstance(flow, Flow)
    reserve, ship = flow.steps["reserve"], flow.steps["ship"]
    assert isinstance(reserve, ActivityStep) and isinstance(ship, ActivityStep)
    assert (reserve.params, ship.params) == ({"allocation": "default"}, {"carriers": "default"})

    _store_as_published(stack, text, name)
    response = stack.submit(order_payload(), flow=name)
    assert response.status_code == 201, response.text
    order = stack.wait_status(response.json()["id"], "completed")
    assert order["flow"] == {"name": name, "version": 1}
    assert [e["step"] for e in order["timeline"] if e["type"] in ("stock_reserved", "shipped")] == ["reserve", "ship"]
    pins = {(p["kind"], p["name"]): p for p in order["pins"]}
    assert pins[("flow", name)]["sha256"] == content_hash(text)
