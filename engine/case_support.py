"""What every kind's stored test cases share: the ordinary example order, results, comparisons.

A case states only what matters: its order is merged over an ordinary one,
and each ``expect`` key is compared on its own, so a failing case names the
key that failed (``$.tests[2].expect.carrier: expected 'sim_post', got
'sim_parcel'``).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from engine.errors import DefinitionError, join_path

# An ordinary, prepaid consumer order; a test case's `order` is merged over it.
ORDINARY_ORDER: dict[str, Any] = {
    "id": "ord_test",
    "channel": "web",
    "external_id": "TEST-1",
    "customer": {"name": "Ann Example", "email": "ann@example.com", "type": "consumer"},
    "shipping_address": {"street": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
    "lines": [{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}],
    "payment": {"method": "card", "status": "paid"},
    "client_ip": "203.0.113.7",
    "delivery_method": "ship",
    "coupon": None,
}

# What the audit activity finds for an ordinary order; a case's `facts` are merged over them.
ORDINARY_FACTS: dict[str, Any] = {
    "first_time_address": False,
    "orders_from_ip_last_hour": 1,
    "velocity": {"ip": 1, "phone": 1, "address": 1, "window_minutes": 60},
    "customer": {"known": True, "orders_so_far": 1, "returned_orders": 0, "returns_ratio": 0.0},
    "credit": {"limit": 0.0, "open_balance": 0.0, "remaining": 0.0},
    "address": {"complete": True, "missing": [], "serviceable": True, "unserviceable_reason": ""},
    "stock": {"lines": [], "all_available": True},
    "coupon": {"code": None, "exists": False, "valid": False, "min_spend_met": False},
}


@dataclass(frozen=True)
class CaseResult:
    """One case: its index and name, whether it passed, what happened."""

    index: int
    name: str
    passed: bool
    detail: str
    # rules: the action and rule ids that fired; flow: the path taken; other kinds: what came out.
    outcome: dict
    # Each failed expectation at its own path (`$.tests[i].expect.key`); empty: the case's path says it.
    problems: tuple[DefinitionError, ...] = ()

    @property
    def path(self) -> str:
        return join_path("$.tests", self.index)


def merged(base: dict, overrides: dict | None) -> dict:
    """``base`` with ``overrides`` applied key by key, nested mappings merged."""
    out = copy.deepcopy(base)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def example_order(overrides: dict | None) -> dict:
    """The case's order; ``total`` is computed from the lines unless the case gives it."""
    order = merged(ORDINARY_ORDER, overrides)
    if "total" not in (overrides or {}):
        try:
            lines = order.get("lines") or []
            order["total"] = round(sum(float(line["qty"]) * float(line["price"]) for line in lines), 2)
        except (KeyError, TypeError, ValueError):
            order["total"] = 0
    return order


def case_name(case: dict, index: int) -> str:
    return str(case.get("name") or f"case {index + 1}")


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


class Expectations:
    """Compares what came out of a case with its ``expect``, noting each difference at its path."""

    def __init__(self, index: int):
        self.case = join_path("$.tests", index)
        self.root = join_path(self.case, "expect")
        self.problems: list[DefinitionError] = []

    def fail_case(self, message: str) -> None:
        """The case as a whole failed (its example could not be used): at the case's path."""
        self.problems.append(DefinitionError(self.case, message))

    def fail(self, rel: tuple[str | int, ...], message: str) -> None:
        path = self.root
        for part in rel:
            # A key such as a form's field path `lines[0].qty` is quoted, so the editor finds its line.
            quoted = isinstance(part, str) and not _PLAIN_KEY.fullmatch(part)
            path = f"{path}['{part}']" if quoted else join_path(path, part)
        self.problems.append(DefinitionError(path, message))

    def equal(self, key: str, expected: Any, got: Any) -> None:
        if not same(expected, got):
            self.fail((key,), f"expected {expected!r}, got {got!r}")

    def contains(self, rel: tuple[str | int, ...], expected: Any, got: Any) -> None:
        """``got`` has every key of ``expected`` with the same value (recursively); lists match item by item."""
        if isinstance(expected, dict) and isinstance(got, dict):
            for key, value in expected.items():
                if key not in got:
                    self.fail((*rel, key), f"expected {value!r}, got nothing")
                else:
                    self.contains((*rel, key), value, got[key])
        elif isinstance(expected, list) and isinstance(got, list):
            if len(expected) != len(got):
                self.fail(rel, f"expected {len(expected)} items, got {len(got)}: {got!r}")
                return
            for position, (want, have) in enumerate(zip(expected, got, strict=True)):
                self.contains((*rel, position), want, have)
        elif not same(expected, got):
            self.fail(rel, f"expected {expected!r}, got {got!r}")

    def result(self, index: int, name: str, outcome: dict, summary: str) -> CaseResult:
        detail = "; ".join(f"{p.path}: {p.message}" for p in self.problems) if self.problems else summary
        if self.problems and summary:
            detail += f" ({summary})"
        return CaseResult(index, name, not self.problems, detail, outcome, tuple(self.problems))


def same(expected: Any, got: Any) -> bool:
    """Equal, numbers to the cent (a price of 3.9 is 3.9000000000000004 once computed)."""
    numbers = (int, float)
    if isinstance(expected, numbers) and isinstance(got, numbers):
        if isinstance(expected, bool) or isinstance(got, bool):
            return expected is got
        return abs(float(expected) - float(got)) < 0.005
    return bool(expected == got)
