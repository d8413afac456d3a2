"""The shipped definitions, and small edits of them for tests that break them on purpose."""

from __future__ import annotations

import io
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = ROOT / "definitions"
FLOW_FILE = DEFINITIONS / "flows" / "order.yaml"
RULES_FILE = DEFINITIONS / "rules" / "order_audit.yaml"
FORM_FILE = DEFINITIONS / "forms" / "order.yaml"
REGIONS_FILE = DEFINITIONS / "regions" / "delivery.yaml"
PROMOTIONS_FILE = DEFINITIONS / "promotions" / "coupons.yaml"
CHANNELS_DIR = DEFINITIONS / "channels"
# The shipped channels, by name; each file is channels/<name>.yaml.
CHANNEL_NAMES = ("marketplace", "phone", "shopify", "store", "web", "woocommerce")
# The shipped print and notification templates, by name; each file is templates/<name>.yaml.
TEMPLATE_NAMES = (
    "notify_cancelled",
    "notify_confirmed",
    "notify_delivered",
    "notify_shipped",
    "packing_slip",
    "pick_list",
    "shipping_label",
    "notify_return_exchanged",
    "notify_return_expired",
    "notify_return_label",
    "notify_return_refunded",
    "notify_return_rejected",
    "notify_return_reminder",
    "notify_return_cancelled",
)

# What the shipped set publishes: every reference of the flow resolves against this.
KNOWN = frozenset(
    {
        ("flow", "order"),
        ("rules", "order_audit"),
        ("form", "order"),
        ("regions", "delivery"),
        ("promotions", "coupons"),
        ("allocation", "default"),
        ("carriers", "default"),
        ("payments", "default"),
        ("flow", "return"),
        ("rules", "return_policy"),
        ("form", "return_request"),
        *(("template", name) for name in TEMPLATE_NAMES),
        *(("channel", name) for name in CHANNEL_NAMES),
    }
)

# Index of each step in the shipped order flow, as error paths name them ($.steps[N]).
FLOW_STEP_IDS = (
    "audit",
    "manual_review",
    "reserve",
    "payment_check",
    "await_payment",
    "record_payment",
    "delivery_method",
    "notify_confirmed",
    "hand_over",
    "ship",
    "notify_shipped",
    "shipping_problem",
    "await_delivery",
    "out_for_delivery",
    "delivery_exception",
    "notify_delivered",
    "delivery_check",
    "release_unpaid",
    "release_cancelled",
    "cancel_payment",
    "notify_cancelled",
    "change_address",
    "readdress_release",
    "completed",
    "rejected",
    "review_expired",
    "out_of_stock",
    "cancelled",
    "lost",
    "backorder",
    "backorder_expired",
    "backorder_cancelled",
    "held_by_hand",
    "hold_overdue",
)


def shipped_files() -> list[Path]:
    """Every YAML definition under definitions/, the JSON Schemas left out."""
    return sorted(p for p in DEFINITIONS.rglob("*.y*ml") if "schemas" not in p.relative_to(DEFINITIONS).parts)


def channel_file(name: str) -> Path:
    return CHANNELS_DIR / f"{name}.yaml"


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def load(text: str) -> dict:
    return YAML(typ="safe", pure=True).load(text)


def dump(raw: dict) -> str:
    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(raw, out)
    return out.getvalue()


def step(raw_flow: dict, step_id: str) -> dict:
    """The raw step ``step_id`` of a loaded flow, to edit in place."""
    (found,) = [s for s in raw_flow["steps"] if s["id"] == step_id]
    return found


def replace_once(text: str, old: str, new: str) -> str:
    """``text`` with the only occurrence of ``old`` replaced; fails if it is not exactly once."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)
