"""validate_text on the shipped definitions, and on each of them broken in one known way.

Each broken case pins the exact (path, message) list an analyst sees in the designer
and in `oms validate`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from engine.channels import Channel
from engine.definitions import compile_text, validate_text
from engine.errors import InvalidDefinition
from engine.flows import Flow
from engine.forms import Form
from engine.reference import Promotions, Regions
from engine.rules import RuleSet
from tests.engine.shipped import (
    CHANNEL_NAMES,
    DEFINITIONS,
    FLOW_FILE,
    FLOW_STEP_IDS,
    FORM_FILE,
    KNOWN,
    PROMOTIONS_FILE,
    REGIONS_FILE,
    RULES_FILE,
    channel_file,
    dump,
    load,
    read,
    replace_once,
    shipped_files,
    step,
)

FLOW = read(FLOW_FILE)
RULES = read(RULES_FILE)


def errors_of(text: str, known=KNOWN) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_text(text, known).errors]


def edited(text: str, edit: Callable[[dict], None]) -> str:
    """``text`` loaded, changed in place by ``edit``, dumped back to YAML."""
    raw = load(text)
    edit(raw)
    return dump(raw)


def set_in_step(step_id: str, key: str, value) -> Callable[[dict], None]:
    def edit(raw: dict) -> None:
        step(raw, step_id)[key] = value

    return edit


def drop_from_step(step_id: str, key: str) -> Callable[[dict], None]:
    def edit(raw: dict) -> None:
        del step(raw, step_id)[key]

    return edit


# ---- the shipped set ---------------------------------------------------------


def test_the_shipped_set_is_the_order_definitions_their_channels_and_reference_data():
    names = [str(p.relative_to(DEFINITIONS)) for p in shipped_files()]
    assert names == [
        "allocation/default.yaml",
        "carriers/default.yaml",
        "channels/marketplace.yaml",
        "channels/phone.yaml",
        "channels/shopify.yaml",
        "channels/store.yaml",
        "channels/web.yaml",
        "channels/woocommerce.yaml",
        "flows/order.yaml",
        "flows/return.yaml",
        "forms/order.yaml",
        "forms/return_request.yaml",
        "payments/default.yaml",
        "promotions/coupons.yaml",
        "regions/delivery.yaml",
        "rules/order_audit.yaml",
        "rules/return_policy.yaml",
        "templates/notify_cancelled.yaml",
        "templates/notify_confirmed.yaml",
        "templates/notify_delivered.yaml",
        "templates/notify_return_cancelled.yaml",
        "templates/notify_return_exchanged.yaml",
        "templates/notify_return_expired.yaml",
        "templates/notify_return_label.yaml",
        "templates/notify_return_refunded.yaml",
        "templates/notify_return_rejected.yaml",
        "templates/notify_return_reminder.yaml",
        "templates/notify_shipped.yaml",
        "templates/packing_slip.yaml",
        "templates/pick_list.yaml",
        "templates/shipping_label.yaml",
    ]


def test_step_index_table_matches_the_shipped_flow():
    assert tuple(s["id"] for s in load(FLOW)["steps"]) == FLOW_STEP_IDS


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: str(p.relative_to(DEFINITIONS)))
def test_shipped_definition_is_valid(path):
    source = validate_text(read(path), KNOWN)
    assert source.errors == ()
    assert (source.kind, source.name) in KNOWN


@pytest.mark.parametrize(
    "path, model",
    [
        (FLOW_FILE, Flow),
        (RULES_FILE, RuleSet),
        (FORM_FILE, Form),
        (REGIONS_FILE, Regions),
        (PROMOTIONS_FILE, Promotions),
    ],
    ids=["flow", "rules", "form", "regions", "promotions"],
)
def test_shipped_definition_compiles_to_its_model(path, model):
    assert isinstance(compile_text(read(path)), model)


@pytest.mark.parametrize("name", CHANNEL_NAMES)
def test_shipped_channel_compiles_to_a_channel_of_its_file_name(name):
    channel = compile_text(read(channel_file(name)))
    assert isinstance(channel, Channel)
    assert (channel.name, channel.flow) == (name, "order")


def test_compile_text_refuses_a_broken_definition_with_every_error():
    with pytest.raises(InvalidDefinition) as caught:
        compile_text(edited(FLOW, drop_from_step("await_payment", "timeout")))
    assert [(e.path, e.message) for e in caught.value.errors] == [("$.steps[4]", "'timeout' is required")]


# ---- the shipped flow, broken one way at a time ---------------------------------


def _add_step(new: dict) -> Callable[[dict], None]:
    return lambda raw: raw["steps"].append(new)


def _rename_on_error(raw: dict) -> None:
    step(raw, "reserve")["on_error"] = {"no_stock": "backorder", "unallocatable": "out_of_stock"}


def _drop_audit_reject(raw: dict) -> None:
    del step(raw, "audit")["on"]["reject"]


def _add_audit_outcome(raw: dict) -> None:
    step(raw, "audit")["on"]["hold"] = "manual_review"


def _break_first_case(when: str) -> Callable[[dict], None]:
    def edit(raw: dict) -> None:
        step(raw, "payment_check")["cases"][0]["when"] = when

    return edit


def _bypass_delivery_method(raw: dict) -> None:
    step(raw, "payment_check")["cases"][0]["next"] = "ship"
    step(raw, "record_payment")["next"] = "ship"


def _set_top(key: str, value) -> Callable[[dict], None]:
    def edit(raw: dict) -> None:
        raw[key] = value

    return edit


def _drop_top(key: str) -> Callable[[dict], None]:
    def edit(raw: dict) -> None:
        del raw[key]

    return edit


BROKEN_FLOWS = {
    "unknown next step, with a suggestion": (
        set_in_step("record_payment", "next", "shp"),
        [("$.steps[5].next", "unknown step 'shp' (did you mean 'ship'?)")],
    ),
    "unknown next step, nothing close": (
        set_in_step("release_unpaid", "next", "nowhere"),
        [("$.steps[17].next", "unknown step 'nowhere'")],
    ),
    "unknown switch case target": (
        lambda raw: step(raw, "payment_check")["cases"][0].update(next="shipp"),
        [("$.steps[3].cases[0].next", "unknown step 'shipp' (did you mean 'ship'?)")],
    ),
    "unknown delivery switch case target": (
        lambda raw: step(raw, "delivery_method")["cases"][0].update(next="hand_ovr"),
        [("$.steps[6].cases[0].next", "unknown step 'hand_ovr' (did you mean 'hand_over'?)")],
    ),
    "unknown delivery switch default": (
        set_in_step("delivery_method", "default", "shipp"),
        [("$.steps[6].default", "unknown step 'shipp' (did you mean 'ship'?)")],
    ),
    "hand over with an unknown activity": (
        set_in_step("hand_over", "activity", "hand_over"),
        [
            (
                "$.steps[8].activity",
                "unknown activity 'hand_over'; known in order flows: cancel_payment, change_address, check, "
                "create_shipment, mark_paid, notify, pack, pick, release_stock, reserve_stock",
            )
        ],
    ),
    "an order flow naming a return activity": (
        set_in_step("hand_over", "activity", "restock_return"),
        [
            (
                "$.steps[8].activity",
                "activity 'restock_return' serves return flows and this flow serves order flows "
                "(a return flow says `serves: return`)",
            )
        ],
    ),
    "hand over without next": (
        drop_from_step("hand_over", "next"),
        [("$.steps[8]", "'next' is required")],
    ),
    "delivery switch bypassed: it and the hand over are unreachable": (
        _bypass_delivery_method,
        [
            ("$.steps[6].id", "step 'delivery_method' is unreachable from start 'audit'"),
            ("$.steps[7].id", "step 'notify_confirmed' is unreachable from start 'audit'"),
            ("$.steps[8].id", "step 'hand_over' is unreachable from start 'audit'"),
        ],
    ),
    "unknown on_timeout target is reported alone, not as a flood of unreachable steps": (
        set_in_step("await_payment", "on_timeout", "release_unpayd"),
        [("$.steps[4].on_timeout", "unknown step 'release_unpayd' (did you mean 'release_unpaid'?)")],
    ),
    "unknown start step": (
        _set_top("start", "audt"),
        [("$.start", "unknown step 'audt' (did you mean 'audit'?)")],
    ),
    "wait step without timeout": (
        drop_from_step("await_payment", "timeout"),
        [("$.steps[4]", "'timeout' is required")],
    ),
    "approval step without due": (
        drop_from_step("manual_review", "due"),
        [("$.steps[1]", "'due' is required")],
    ),
    "activity step without next": (
        drop_from_step("release_unpaid", "next"),
        [("$.steps[17]", "'next' is required")],
    ),
    "switch when that does not compile": (
        _break_first_case("order.payment.status == 'paid"),
        [("$.steps[3].cases[0].when", "expression does not compile: lexerError: Unexpected EOF: d at 28")],
    ),
    "switch when with an unclosed bracket": (
        _break_first_case("(order.payment.status == 'paid'"),
        [
            (
                "$.steps[3].cases[0].when",
                "expression does not compile: parserError: Unexpected token: None at (31, 31); Expected Bracket.",
            )
        ],
    ),
    "missing start": (_drop_top("start"), [("$", "'start' is required")]),
    "missing steps": (_drop_top("steps"), [("$", "'steps' is required")]),
    "steps is a number": (_set_top("steps", 5), [("$.steps", "must be of type array, not int")]),
    "steps is empty": (_set_top("steps", []), [("$.steps", "[] should be non-empty")]),
    "due is a number": (
        set_in_step("manual_review", "due", 12),
        [("$.steps[1].due", "must be of type string, not int")],
    ),
    "due of zero": (
        set_in_step("manual_review", "due", "0s"),
        [("$.steps[1].due", "'0s' must be longer than zero")],
    ),
    "unknown step type": (
        set_in_step("payment_check", "type", "branch"),
        [
            (
                "$.steps[3].type",
                "'branch' is not one of 'activity', 'audit', 'approval', 'wait', 'switch', 'http', 'end'",
            )
        ],
    ),
    "unknown activity": (
        set_in_step("reserve", "activity", "reserve_stok"),
        [
            (
                "$.steps[2].activity",
                "unknown activity 'reserve_stok' (did you mean 'reserve_stock'?); "
                "known in order flows: cancel_payment, change_address, check, create_shipment, mark_paid, "
                "notify, pack, "
                "pick, release_stock, reserve_stock",
            )
        ],
    ),
    "on_error failure the activity does not declare": (
        _rename_on_error,
        [
            (
                "$.steps[2].on_error.no_stock",
                "activity 'reserve_stock' has no failure 'no_stock'; it can fail with: out_of_stock, unallocatable",
            )
        ],
    ),
    "on_error on an activity that declares no failures": (
        set_in_step("record_payment", "on_error", {"carrier_down": "lost"}),
        [
            (
                "$.steps[5].on_error.carrier_down",
                "activity 'mark_paid' has no failure 'carrier_down'; it declares no failures",
            )
        ],
    ),
    "unreachable step": (
        _add_step({"id": "orphan", "type": "end", "status": "cancelled"}),
        [(f"$.steps[{len(FLOW_STEP_IDS)}].id", "step 'orphan' is unreachable from start 'audit'")],
    ),
    "duplicate step id": (
        _add_step({"id": "lost", "type": "end", "status": "cancelled"}),
        [(f"$.steps[{len(FLOW_STEP_IDS)}].id", "duplicate step id 'lost'")],
    ),
    "audit step missing an outcome": (
        _drop_audit_reject,
        [("$.steps[0].on", "no step for audit outcome 'reject'")],
    ),
    "audit step with an unknown outcome": (
        _add_audit_outcome,
        [("$.steps[0].on.hold", "unknown audit outcome 'hold'; outcomes are approve, review, reject")],
    ),
    "unknown role": (
        set_in_step("manual_review", "role", "operater"),
        [
            (
                "$.steps[1].role",
                "unknown role 'operater' (did you mean 'operator'?); roles are admin, analyst, operator, channel",
            )
        ],
    ),
    "comment required for a decision the step does not have": (
        set_in_step("manual_review", "comment_required", ["rejct"]),
        [("$.steps[1].comment_required", "'rejct' is not a decision of this step")],
    ),
    "unknown rules reference, with a suggestion": (
        set_in_step("audit", "rules", "order_audits"),
        [("$.steps[0].rules", "unknown rules 'order_audits' (did you mean 'order_audit'?)")],
    ),
    "unknown form reference": (
        _set_top("form", "invoice"),
        [("$.form", "unknown form 'invoice'")],
    ),
}


@pytest.mark.parametrize("edit, expected", BROKEN_FLOWS.values(), ids=BROKEN_FLOWS.keys())
def test_broken_flow_errors(edit, expected):
    assert errors_of(edited(FLOW, edit)) == expected


def test_unknown_step_key_is_named():
    text = replace_once(FLOW, "    default: await_payment\n", "    default: await_payment\n    otherwise: ship\n")
    assert errors_of(text) == [("$.steps[3]", "unknown key 'otherwise'; allowed here: cases, default, status, title")]


def test_no_reachable_end_step():
    text = (
        "kind: flow\nname: loop\nform: order\nstart: wait\nsteps:\n"
        "  - {id: wait, type: wait, timeout: 1h, on: {ping: wait}, on_timeout: wait}\n"
        "  - {id: done, type: end, status: completed}\n"
    )
    assert errors_of(text) == [
        ("$.steps[1].id", "step 'done' is unreachable from start 'wait'"),
        ("$.steps", "no end step is reachable from start"),
    ]


# ---- references resolve only against `known` ------------------------------------


def test_rules_reference_missing_from_known():
    assert errors_of(FLOW, known={("form", "order"), ("allocation", "default")}) == [
        ("$.steps[0].rules", "unknown rules 'order_audit'")
    ]


def test_every_missing_reference_is_reported():
    assert errors_of(FLOW, known=set()) == [
        ("$.form", "unknown form 'order'"),
        ("$.steps[0].rules", "unknown rules 'order_audit'"),
        ("$.steps[2].params.allocation", "unknown allocation 'default'"),
    ]


def test_references_are_not_checked_without_known():
    assert errors_of(FLOW, known=None) == []


def test_references_are_not_checked_while_the_definition_has_other_errors():
    text = edited(FLOW, drop_from_step("await_payment", "timeout"))
    assert errors_of(text, known=set()) == [("$.steps[4]", "'timeout' is required")]


# ---- text that is not a definition ----------------------------------------------


KINDS_LISTED = "form, rules, flow, regions, promotions, channel, allocation, carriers, payments, template"

NOT_DEFINITIONS = {
    "unclosed flow sequence": (
        replace_once(FLOW, "start: audit", "start: [audit"),
        [("$", "the [ opened on line 7 is never closed (a ] is missing, or a comma between two items)")],
    ),
    "duplicate key": (
        replace_once(FLOW, "start: audit\n", "start: audit\nstart: reserve\n"),
        [("$", "line 8 repeats the key 'start' (it is already on line 7): a key may appear once in a mapping")],
    ),
    "unknown kind": (
        replace_once(FLOW, "kind: flow", "kind: flw"),
        [("$.kind", "unknown kind 'flw' (did you mean 'flow'?); kinds are " + KINDS_LISTED)],
    ),
    "unknown kind, close to the new kind": (
        replace_once(FLOW, "kind: flow", "kind: chanel"),
        [("$.kind", "unknown kind 'chanel' (did you mean 'channel'?); kinds are " + KINDS_LISTED)],
    ),
    "unknown kind, nothing close": (
        replace_once(FLOW, "kind: flow", "kind: warehouse"),
        [("$.kind", "unknown kind 'warehouse'; kinds are " + KINDS_LISTED)],
    ),
    "no kind": (replace_once(FLOW, "kind: flow\n", ""), [("$.kind", "kind is required")]),
    "a list": ("- a\n- b\n", [("$", "a definition must be a mapping with kind and name")]),
    "empty text": ("", [("$", "a definition must be a mapping with kind and name")]),
}


@pytest.mark.parametrize("text, expected", NOT_DEFINITIONS.values(), ids=NOT_DEFINITIONS.keys())
def test_not_a_definition(text, expected):
    assert errors_of(text) == expected


# ---- rule sets ----------------------------------------------------------------


def _rule(index: int, **changes) -> Callable[[dict], None]:
    def edit(raw: dict) -> None:
        raw["rules"][index].update(changes)

    return edit


def _duplicate_first_rule(raw: dict) -> None:
    raw["rules"].append(copy.deepcopy(raw["rules"][0]))  # deep: a shared reason mapping would dump as an alias


BROKEN_RULES = {
    "duplicate rule id": (
        _duplicate_first_rule,
        [("$.rules[12].id", "duplicate rule id 'high_value_new_address'")],
    ),
    "when that does not compile": (
        _rule(1, when="not (facts.address.complete"),
        [
            (
                "$.rules[1].when",
                "expression does not compile: parserError: Unexpected token: None at (27, 27); Expected Bracket.",
            )
        ],
    ),
    "empty when": (_rule(1, when="  "), [("$.rules[1].when", "expression does not compile: expression is empty")]),
    "reason with a placeholder that does not compile": (
        _rule(0, reason="amount {{ order.total + }} to a first-time address"),
        [
            (
                "$.rules[0].reason",
                "placeholder {{ order.total + }} does not compile "
                "(parserError: Unexpected end of unary expression at (13, 13))",
            )
        ],
    ),
    "reason with an unclosed placeholder": (
        _rule(0, reason="amount {{ order.total to a first-time address"),
        [("$.rules[0].reason", "unbalanced '{{' and '}}'")],
    ),
    "unknown action": (
        _rule(2, action="block"),
        [("$.rules[2].action", "'block' is not one of 'approve', 'review', 'reject', 'tag'")],
    ),
    "rule without reason": (
        lambda raw: raw["rules"][3].pop("reason"),
        [("$.rules[3]", "'reason' is required")],
    ),
    "unknown hit policy": (
        _set_top("hit_policy", "all"),
        [("$.hit_policy", "'all' is not one of 'first', 'collect'")],
    ),
}


@pytest.mark.parametrize("edit, expected", BROKEN_RULES.values(), ids=BROKEN_RULES.keys())
def test_broken_rules_errors(edit, expected):
    assert errors_of(edited(RULES, edit)) == expected


def test_every_rule_error_is_reported_at_once():
    def edit(raw: dict) -> None:
        _duplicate_first_rule(raw)
        raw["rules"][1]["when"] = "not (facts.address.complete"
        raw["rules"][4]["reason"] = "{{ facts.orders_from_ip_last_hour"

    assert [path for path, _ in errors_of(edited(RULES, edit))] == [
        "$.rules[1].when",
        "$.rules[4].reason",
        "$.rules[12].id",
    ]


# ---- known gaps (product bugs, see the test's reason) ---------------------------


def test_assignment_instead_of_comparison_is_refused():
    text = edited(FLOW, _break_first_case("order.payment.status = 'paid'"))
    assert [path for path, _ in errors_of(text)] == ["$.steps[3].cases[0].when"]


def test_bad_duration_names_the_units():
    text = edited(FLOW, set_in_step("manual_review", "due", "1 day"))
    assert errors_of(text) == [
        (
            "$.steps[1].due",
            "'1 day' is not a duration; write a number and a unit (ms, s, m, h, d, w), e.g. '30m' or '7d'",
        )
    ]
