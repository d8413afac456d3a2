"""`oms import FILE --channel NAME` as a real process against the stack.

The 1,000-order import starts its workflows on a task queue no worker polls:
the import's job ends when every order is stored and its workflow started, and
a thousand running workflows would otherwise queue ahead of the next tests'
orders on the stack's worker. The marketplace import runs on the stack's own
queue and follows one order to `shipped`.
"""

from __future__ import annotations

import csv
import json
import random
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from oms.seed import SKUS
from oms.temporal.dev_server import free_port, temporal_binary
from services.orders.intake import order_id_for
from tests.conftest import ROOT, unique
from tests.integration.test_channels import marketplace_payload

PRICES = {sku.sku: sku.price for sku in SKUS}
COLUMNS = [
    "external_id",
    "customer.name",
    "customer.email",
    "shipping_address.street",
    "shipping_address.city",
    "shipping_address.postal_code",
    "shipping_address.country",
    "payment.method",
    "payment.status",
    "client_ip",
    "sku",
    "qty",
    "price",
]
DISAGREE = (
    "customer.email: 'ann@example.com' on line {first} but 'other@example.com' on line {second}; "
    "the rows of one order must agree"
)
# One fault per bad order (cycled): what is broken, and the reason the rejected file gives.
FAULTS = [
    ("unknown SKU", "lines[1].sku: Line 2: unknown SKU 'NOPE-404'"),
    ("qty 0", "lines[0].qty: Line 1: quantity must be at least 1"),
    ("no customer name", "customer.name: Customer name is required"),
    ("bad email", "customer.email: Email must be a valid email address"),
    ("bad country", "shipping_address.country: Shipping address: country must be a 2-letter country code"),
    ("negative price", "lines[0].price: Line 1: price must be at least 0"),
    ("qty not a number", "lines[0].qty: Line 1: quantity must be a whole number"),
    ("decimal comma", "lines[0].price: Line 1: price must be a number"),
    ("unknown payment status", "payment.status: Payment status must be one of: pending, paid"),
    ("rows disagree", DISAGREE),
    ("no external id", "external_id: missing; the rows of an order are grouped by external_id"),
]


def oms_import(stack, path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oms.cli", "import", str(path), *args],
        cwd=ROOT,
        env=env or stack.env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def bulk_csv(path: Path, prefix: str, orders: int = 1000, bad: int = 20) -> tuple[set[str], list[tuple[str, str]]]:
    """Prepaid orders of ordinary amounts, ~1.5 lines each, ``bad`` of them faulty and spread
    through the file. Returns the good external ids and the (external_id, reason) of every
    row the rejected file must hold."""
    rng = random.Random(prefix)
    rows: list[dict[str, str]] = []
    good: set[str] = set()
    rejected_rows: list[tuple[str, str]] = []
    faulty = {i * (orders // bad) + orders // bad // 2: FAULTS[i % len(FAULTS)] for i in range(bad)}
    for n in range(orders):
        external_id = f"{prefix}-{n:04d}"
        order = {
            "external_id": external_id,
            "customer.name": f"Customer {n}",
            "customer.email": "ann@example.com",
            "shipping_address.street": f"Importweg {n}",
            "shipping_address.city": "Berlin",
            "shipping_address.postal_code": f"{10115 + n % 80}",
            "shipping_address.country": "DE",
            "payment.method": "card",
            "payment.status": "paid",
            "client_ip": f"2001:db8::{n:x}:{rng.randrange(65536):x}",
        }
        lines = [
            {"sku": sku, "qty": str(rng.choice([1, 1, 2])), "price": f"{PRICES[sku]:.2f}"}
            for sku in rng.sample(sorted(PRICES), rng.choice([1, 2]))
        ]
        fault = faulty.get(n)
        if fault is not None:
            kind = fault[0]
            if kind == "unknown SKU":
                lines = [lines[0], {"sku": "NOPE-404", "qty": "1", "price": "5.00"}]
            elif kind in ("qty 0", "qty not a number"):
                lines[0]["qty"] = "0" if kind == "qty 0" else "two"
            elif kind in ("negative price", "decimal comma"):
                lines[0]["price"] = "-5.00" if kind == "negative price" else "9,50"
            elif kind == "no external id":
                lines, order["external_id"] = lines[:1], ""  # a row of its own: it belongs to no order
            elif kind == "rows disagree":
                lines = [lines[0], {**lines[0], "sku": "MUG-LOGO" if lines[0]["sku"] != "MUG-LOGO" else "SNEAKER-42"}]
            else:
                field, value = {
                    "no customer name": ("customer.name", ""),
                    "bad email": ("customer.email", "ann.example.com"),
                    "bad country": ("shipping_address.country", "Germany"),
                    "unknown payment status": ("payment.status", "free"),
                }[kind]
                order[field] = value
        first_line = len(rows) + 2  # after the header
        for i, line in enumerate(lines):
            # Some exports repeat the order's fields on every row, some only on its first.
            shared = order if i == 0 or n % 3 else {"external_id": external_id}
            row = {**shared, **line}
            if fault is not None and fault[0] == "rows disagree" and i == 1:
                row = {**order, **line, "customer.email": "other@example.com"}
            rows.append(row)
        if fault is None:
            good.add(external_id)
        else:
            reason = fault[1]
            if fault[0] == "rows disagree":
                reason = DISAGREE.format(first=first_line, second=first_line + 1)
            rejected_rows += [(order["external_id"], reason)] * len(lines)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return good, rejected_rows


def listed_external_ids(stack, channel: str, prefix: str) -> set[str]:
    found: set[str] = set()
    with stack.client("operator") as client:
        offset = 0
        while True:
            params = {"channel": channel, "limit": 500, "offset": offset}
            page = client.get("/api/orders", params=params).json()["orders"]
            found |= {o["external_id"] for o in page if o["external_id"].startswith(prefix)}
            if len(page) < 500:
                return found
            offset += 500


def workflow_count(stack, task_queue: str, expected: int, timeout: float = 30) -> int:
    """Workflows on ``task_queue`` as Temporal's visibility sees them (it lags a little)."""
    deadline = time.monotonic() + timeout
    while True:
        result = subprocess.run(
            [
                temporal_binary(),
                "workflow",
                "count",
                "--address",
                stack.env["OMS_TEMPORAL_ADDRESS"],
                "--query",
                f"TaskQueue='{task_queue}'",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        count = int(re.search(r"Total:\s*(\d+)", result.stdout).group(1))
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.5)


def test_thousand_orders_csv_then_the_same_file_again(stack, tmp_path):
    prefix = unique("IMP")
    path = tmp_path / "orders.csv"
    good, expected_rejected = bulk_csv(path, prefix)
    assert (len(good), len({e for e, _ in expected_rejected})) == (980, 20)
    parked = f"parked-{uuid.uuid4().hex[:8]}"
    env = {**stack.env, "OMS_TASK_QUEUE": parked}

    first = oms_import(stack, path, "--channel", "phone", env=env)
    assert first.returncode == 0, first.stderr
    rejected_file = tmp_path / "orders.rejected.csv"
    assert first.stdout.splitlines() == [
        "created 980, already present 0, rejected 20",
        f"rejected rows with reasons: {rejected_file}",
    ]
    print(f"\n[{stack.name}] first import: {first.stderr.strip().splitlines()[-1]}")

    with rejected_file.open(newline="", encoding="utf-8") as handle:
        rejected = list(csv.DictReader(handle))
    assert list(rejected[0]) == [*COLUMNS, "reason"]
    assert sorted((r["external_id"], r["reason"]) for r in rejected) == sorted(expected_rejected)
    reasons = {r["external_id"]: r["reason"] for r in rejected}
    assert reasons[f"{prefix}-0025"] == "lines[1].sku: Line 2: unknown SKU 'NOPE-404'"
    assert reasons[f"{prefix}-0075"] == "lines[0].qty: Line 1: quantity must be at least 1"
    assert reasons[f"{prefix}-0175"] == "customer.email: Email must be a valid email address"
    assert reasons[f"{prefix}-0325"] == "lines[0].qty: Line 1: quantity must be a whole number"
    assert reasons[""] == "external_id: missing; the rows of an order are grouped by external_id"
    # The rejected rows are the input's rows, unchanged but for the reason.
    with path.open(newline="", encoding="utf-8") as handle:
        originals = [r for r in csv.DictReader(handle) if r["external_id"] not in good]
    assert [{k: v for k, v in r.items() if k != "reason"} for r in rejected] == originals

    assert listed_external_ids(stack, "phone", prefix) == good
    assert workflow_count(stack, parked, 980) == 980
    # Rows of one order became its lines, with CSV text turned into numbers.
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["external_id"] == f"{prefix}-0001"]
    order = stack.order(order_id_for("phone", f"{prefix}-0001"))
    assert order["lines"] == [{"sku": r["sku"], "qty": int(r["qty"]), "price": float(r["price"])} for r in rows]
    assert order["customer"] == {"name": "Customer 1", "email": "ann@example.com", "type": "consumer"}
    assert order["payment"] == {"method": "card", "status": "paid"}

    again = oms_import(stack, path, "--channel", "phone", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        "created 0, already present 980, rejected 20",
        f"rejected rows with reasons: {rejected_file}",
    ]
    print(f"[{stack.name}] second import: {again.stderr.strip().splitlines()[-1]}")
    with rejected_file.open(newline="", encoding="utf-8") as handle:
        assert list(csv.DictReader(handle)) == rejected
    assert listed_external_ids(stack, "phone", prefix) == good
    assert workflow_count(stack, parked, 980, timeout=0) == 980


def test_marketplace_native_payloads_as_json_lines(stack, tmp_path):
    skus = sorted(PRICES)
    payloads = []
    for n in range(50):
        sku = skus[n % len(skus)]
        item = {"sellerSku": sku, "quantity": 1, "unitPriceCents": round(PRICES[sku] * 100)}
        payload = marketplace_payload(items=[item])
        # Each buyer their own phone: fifty orders from one phone are held by the phone-velocity rule.
        payload["buyer"]["contact"]["phone"] = f"+33 1 {n:02d} {random.randrange(100):02d} 00 00"
        payloads.append(payload)
    lines = [json.dumps(p) for p in payloads]
    lines[16] = lines[16][:40]  # cut off: not JSON
    bad_qty = payloads[32]
    bad_qty["items"][0]["quantity"] = 0
    lines[32] = json.dumps(bad_qty)
    path = tmp_path / "marketplace.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = oms_import(stack, path, "--channel", "marketplace")
    assert result.returncode == 0, result.stderr
    rejected_file = tmp_path / "marketplace.rejected.jsonl"
    assert result.stdout.splitlines() == [
        "created 48, already present 0, rejected 2",
        f"rejected rows with reasons: {rejected_file}",
    ]
    rejected = [json.loads(line) for line in rejected_file.read_text(encoding="utf-8").splitlines()]
    assert rejected[0]["raw"] == lines[16]
    assert rejected[0]["reason"].startswith("malformed JSON on line 17: ")
    assert rejected[1] == {**bad_qty, "reason": "lines[0].qty: Line 1: quantity must be at least 1"}

    good = {p["orderNumber"] for i, p in enumerate(payloads) if i not in (16, 32)}
    with stack.client("operator") as client:
        listed = client.get("/api/orders", params={"channel": "marketplace", "limit": 500}).json()["orders"]
    imported = {o["external_id"]: o["id"] for o in listed if o["external_id"] in good}
    assert set(imported) == good
    # Mapped exactly as the webhook maps it, and run by the stack's worker.
    first = payloads[0]
    order = stack.wait_status(imported[first["orderNumber"]], "shipped", timeout=120)
    item = first["items"][0]
    assert order["lines"] == [{"sku": item["sellerSku"], "qty": 1, "price": item["unitPriceCents"] / 100}]
    assert order["customer"]["email"] == "jean@example.fr"
    assert order["payment"] == {"method": "card", "status": "paid"}

    again = oms_import(stack, path, "--channel", "marketplace")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == "created 0, already present 48, rejected 2"


def test_json_lines_odd_records(stack, tmp_path):
    """Line records grouped by external id, an unmappable payload, a repeated order number,
    a line that is not an object."""
    prefix = unique("JL")
    customer = {"name": "Kim Lee", "email": "kim@example.com"}
    address = {"street": f"{uuid.uuid4().hex[:6]} Torstr. 1", "city": "Berlin", "postal_code": "10119", "country": "DE"}
    phone_path = tmp_path / "lines.jsonl"
    phone_path.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "external_id": f"{prefix}-1",
                    "customer": customer,
                    "shipping_address": address,
                    "payment": {"status": "paid"},
                    "sku": "MUG-LOGO",
                    "qty": 2,
                    "price": 9.5,
                },
                {
                    "external_id": f"{prefix}-2",
                    "customer.name": "Bo",
                    "shipping_address": address,
                    "payment.status": "paid",
                    "sku": "MUG-LOGO",
                    "qty": 1,
                    "price": 9.5,
                },
                {"external_id": f"{prefix}-1", "sku": "HOODIE-GRY-M", "qty": 1, "price": 49},
                [1, 2],
            ]
        )
        + "\n\n",
        encoding="utf-8",
    )
    result = oms_import(stack, phone_path, "--channel", "phone", "--concurrency", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "created 2, already present 0, rejected 1"
    assert [json.loads(line) for line in (tmp_path / "lines.rejected.jsonl").read_text().splitlines()] == [
        {"raw": [1, 2], "reason": "line 4 is not a JSON object"}
    ]
    order = stack.order(order_id_for("phone", f"{prefix}-1"))
    assert order["lines"] == [
        {"sku": "MUG-LOGO", "qty": 2, "price": 9.5},
        {"sku": "HOODIE-GRY-M", "qty": 1, "price": 49},
    ]
    assert order["customer"]["name"] == "Kim Lee"

    repeated = marketplace_payload()
    market_path = tmp_path / "market.ndjson"
    market_path.write_text(
        "\n".join(
            json.dumps(p)
            for p in [
                marketplace_payload(paymentState="REFUNDED"),
                repeated,
                {**repeated, "paymentState": "PAID"},
            ]
        ),
        encoding="utf-8",
    )
    result = oms_import(stack, market_path, "--channel", "marketplace")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "created 1, already present 0, rejected 2"
    reasons = [json.loads(line)["reason"] for line in (tmp_path / "market.rejected.jsonl").read_text().splitlines()]
    assert reasons == [
        "payment.status: paymentState is 'REFUNDED', not one of PAID, CAPTURED, AUTHORIZED, PENDING",
        f"external_id: {repeated['orderNumber']!r} is already the order on line 2",
    ]


def test_usage_errors_exit_2(stack, tmp_path):
    sheet = tmp_path / "orders.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    result = oms_import(stack, sheet, "--channel", "phone")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"oms import: {sheet}: cannot import '.xlsx' files; use CSV (.csv) or JSON Lines (.jsonl, .ndjson)"
    )

    orders = tmp_path / "orders.csv"
    bulk_csv(orders, unique("X"), orders=10, bad=1)
    result = oms_import(stack, orders, "--channel", "fax")
    assert result.returncode == 2
    prefix = "oms import: unknown channel 'fax'; channels are: "
    assert result.stderr.strip().startswith(prefix), result.stderr
    # Other tests publish channels of their own; the shipped ones are always listed.
    assert {"marketplace", "phone", "store", "web"} <= set(result.stderr.strip()[len(prefix) :].split(", "))

    no_sku = tmp_path / "no_sku.csv"
    no_sku.write_text("external_id,customer.name\nA-1,Ann\n", encoding="utf-8")
    result = oms_import(stack, no_sku, "--channel", "phone")
    assert result.returncode == 2
    assert result.stderr.startswith(f"oms import: {no_sku}: no sku column; ")

    result = oms_import(stack, tmp_path / "missing.csv", "--channel", "phone")
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert not list(tmp_path.glob("*.rejected.*"))


def test_temporal_unreachable_exits_1_and_stores_nothing(stack, tmp_path):
    prefix = unique("DOWN")
    path = tmp_path / "orders.csv"
    bulk_csv(path, prefix, orders=10, bad=1)
    port = free_port()
    nowhere = {**stack.env, "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{port}"}
    result = oms_import(stack, path, "--channel", "phone", env=nowhere)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    message = result.stderr.strip()
    assert message.startswith(f"oms import: cannot reach Temporal at 127.0.0.1:{port} (namespace default): ")
    assert message.endswith("; nothing was imported")
    assert listed_external_ids(stack, "phone", prefix) == set()


def test_reading_rows_into_orders(tmp_path):
    """No stack: how rows become orders before intake sees them."""
    from engine.channels import parse_channel
    from services.orders.importer import ImportRefused, read_orders

    phone = parse_channel({"name": "phone", "type": "phone"})
    path = tmp_path / "rows.csv"
    # A spreadsheet export: BOM, CRLF, an order's rows apart, blank cells on follow-up rows,
    # "2.0" for 2, a trailing blank row, and the reason column of an earlier rejected file.
    path.write_bytes(
        "\ufeffexternal_id,customer.name,shipping_address.country,sku,qty,price,reason\r\n"
        "A-1,Ann,DE,MUG-LOGO,2.0,9.5,old reason\r\n"
        "B-1,Bo,FR,HOODIE-GRY-M,1,49,\r\n"
        "A-1,,,SNEAKER-42, 1 ,89.00,\r\n"
        ",,,,,,\r\n".encode()
    )
    orders = read_orders(path, phone)
    assert [c.payload for c in orders.candidates] == [
        {
            "external_id": "A-1",
            "customer": {"name": "Ann"},
            "shipping_address": {"country": "DE"},
            "channel": "phone",
            "lines": [{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}, {"sku": "SNEAKER-42", "qty": 1, "price": 89.0}],
        },
        {
            "external_id": "B-1",
            "customer": {"name": "Bo"},
            "shipping_address": {"country": "FR"},
            "channel": "phone",
            "lines": [{"sku": "HOODIE-GRY-M", "qty": 1, "price": 49.0}],
        },
    ]
    assert [[r.line for r in c.records] for c in orders.candidates] == [[2, 4], [3]]

    for header, message in [
        ("external_id,sku,sku", "the column 'sku' appears twice"),
        ("external_id,sku,customer,customer.name", "the columns 'customer' and 'customer.name' cannot both be there"),
    ]:
        path.write_text(header + "\n", encoding="utf-8")
        with pytest.raises(ImportRefused) as refused:
            read_orders(path, phone)
        assert str(refused.value) == f"{path}: {message}"
