"""What a return means, free of I/O: quantities left to return, the quality check, the refund.

The return workflow (``workflows/returns.py``) and its activities ask; this answers,
so the arithmetic that guards money and stock is unit-tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

QC_RESULTS = ("resellable", "damaged", "missing")
# Results whose goods came back (a missing item never arrived and is not refunded).
ARRIVED = ("resellable", "damaged")


@dataclass(frozen=True)
class Asked:
    """One line of a return request: the order line (1-based) and the quantity."""

    line: int
    qty: int


def resolve_lines(
    order_lines: Sequence[Mapping[str, Any]], asked: Sequence[Mapping[str, Any]]
) -> tuple[list[Asked], list[tuple[str, str]]]:
    """The order lines a request names (by ``line`` number or by ``sku``), and (field, message) problems."""
    resolved: list[Asked] = []
    problems: list[tuple[str, str]] = []
    seen: dict[int, int] = {}
    for index, item in enumerate(asked):
        field = f"lines[{index}]"
        line, sku = item.get("line"), item.get("sku")
        if line is None and not sku:
            problems.append((f"{field}.line", f"Line {index + 1}: name the order line or its SKU"))
            continue
        if line is not None:
            if not 1 <= int(line) <= len(order_lines):
                problems.append(
                    (f"{field}.line", f"Line {index + 1}: the order has no line {line}; it has {len(order_lines)}")
                )
                continue
            if sku and order_lines[int(line) - 1].get("sku") != sku:
                ordered = order_lines[int(line) - 1].get("sku")
                problems.append((f"{field}.sku", f"Line {index + 1}: order line {line} is {ordered}, not {sku}"))
                continue
            number = int(line)
        else:
            matches = [n for n, line in enumerate(order_lines, start=1) if line.get("sku") == sku]
            if not matches:
                problems.append((f"{field}.sku", f"Line {index + 1}: {sku} is not in the order"))
                continue
            if len(matches) > 1:
                problems.append((f"{field}.sku", f"Line {index + 1}: {sku} is on order lines {matches}; name the line"))
                continue
            number = matches[0]
        if number in seen:
            problems.append((f"{field}.line", f"Line {index + 1}: order line {number} is named twice"))
            continue
        seen[number] = index
        resolved.append(Asked(number, int(item["qty"])))
    return resolved, problems


def over_returned(
    order_lines: Sequence[Mapping[str, Any]], asked: Sequence[Asked], counted: Mapping[int, int]
) -> list[tuple[int, str]]:
    """(order line, message) for each line asked beyond what was delivered minus what is returned already."""
    problems = []
    for item in asked:
        delivered = int(order_lines[item.line - 1].get("qty") or 0)
        left = delivered - int(counted.get(item.line, 0))
        if item.qty > left:
            sku = order_lines[item.line - 1].get("sku")
            problems.append(
                (
                    item.line,
                    f"order line {item.line} ({sku}): {item.qty} asked back, but only {max(left, 0)} "
                    f"of {delivered} delivered {'is' if left == 1 else 'are'} left to return",
                )
            )
    return problems


def qc_problem(lines: Mapping[int, int], qc: Sequence[Mapping[str, Any]]) -> str | None:
    """Why a quality check does not give a result for exactly every returned item, or None.

    ``lines`` maps each returned order line to its quantity; ``qc`` holds
    ``{line, result, qty}`` entries (qty defaults to the whole line).
    """
    if not qc:
        return "the quality check needs a result for every line: " + ", ".join(f"line {n}" for n in sorted(lines))
    found: dict[int, int] = {}
    for index, entry in enumerate(qc, start=1):
        line, result = entry.get("line"), entry.get("result")
        if not isinstance(line, int) or isinstance(line, bool) or line not in lines:
            return f"result {index}: line {line!r} is not in this return; its lines are {sorted(lines)}"
        if result not in QC_RESULTS:
            return f"result {index}: {result!r} is not one of {', '.join(QC_RESULTS)}"
        qty = entry.get("qty", lines[line])
        if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
            return f"result {index}: qty must be a whole number of at least 1"
        if result == "damaged" and not str(entry.get("reason") or "").strip():
            return f"result {index}: a damaged item needs a reason"
        found[line] = found.get(line, 0) + qty
    wrong = [
        f"line {n}: results for {found.get(n, 0)} of {q}" for n, q in sorted(lines.items()) if found.get(n, 0) != q
    ]
    return "; ".join(wrong) if wrong else None


def arrived(qc: Sequence[Mapping[str, Any]], lines: Mapping[int, int]) -> dict[int, dict[str, int]]:
    """Per line, the quantity of each QC result (qty defaulting to the whole line)."""
    counts: dict[int, dict[str, int]] = {n: dict.fromkeys(QC_RESULTS, 0) for n in lines}
    for entry in qc:
        counts[entry["line"]][entry["result"]] += int(entry.get("qty", lines[entry["line"]]))
    return counts


@dataclass(frozen=True)
class Refund:
    amount: float  # goods + shipping
    goods: float
    shipping: float
    capped: bool  # less than the goods were worth: the order's payment was used up


def refund_for(
    goods_value: float,
    paid: float,
    refunded_before: float,
    shipping_fee: float,
    refund_shipping: bool,
    shipping_refunded_before: float,
) -> Refund:
    """What to refund: the goods' value (plus the shipping fee once, if the rules say so),
    never more than is left of what the order paid."""
    shipping = max(shipping_fee - shipping_refunded_before, 0.0) if refund_shipping else 0.0
    left = max(round(paid - refunded_before, 2), 0.0)
    wanted = round(goods_value + shipping, 2)
    amount = min(wanted, left)
    shipping_part = min(shipping, amount)
    return Refund(round(amount, 2), round(amount - shipping_part, 2), round(shipping_part, 2), amount < wanted)
