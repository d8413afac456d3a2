"""Fulfilment's pure work on one core: carrier choice by the shipped table, label and e-mail rendering.

What create_shipment and notify spend outside the database and the network, on the shipped
definitions (carriers/default.yaml, templates/) over generated parcels, per CPU-second.

    .venv/bin/python -m bench.fulfilment_render                 # 50000 parcels
    .venv/bin/python -m bench.fulfilment_render --parcels 10000 --seed 3
"""

from __future__ import annotations

import random
import time
from collections import Counter

from bench import harness

COUNTRIES = ["DE"] * 6 + ["FR", "NL", "AT", "GB", "US", "CN", "JP"]
ORDER = {
    "id": "ord_x",
    "external_id": "A-1",
    "customer": {"name": "Ann Example"},
    "total": 42.0,
    "shipping_address": {"street": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
    "lines": [{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}],
}
SENDER = {"code": "BER", "name": "Berlin", "country": "DE"}
SHIPMENT = {"tracking_number": "SIM0", "carrier_title": "Sim", "parcel": 1, "parcels": 1}


def per_cpu_second(work, items: list) -> tuple[float, list]:
    start = time.process_time()
    result = [work(i, item) for i, item in enumerate(items)]
    return round(len(items) / (time.process_time() - start)), result


def main() -> int:
    from engine.definitions import compile_text

    args = harness.arguments(__doc__, parcels=50_000, seed=1)
    table, label, shipped = (
        compile_text((harness.ROOT / "definitions" / f"{path}.yaml").read_text(encoding="utf-8"))
        for path in ("carriers/default", "templates/shipping_label", "templates/notify_shipped")
    )
    rng = random.Random(args.seed)
    weights = lambda: rng.choice([rng.uniform(0.1, 2), rng.uniform(2, 30), rng.uniform(30, 80)])  # noqa: E731
    parcels = [
        {"weight_kg": round(weights(), 2), "country": rng.choice(COUNTRIES), "warehouse": "BER"}
        | {"service_level": "express" if rng.random() < 0.1 else "standard", "value": round(rng.uniform(5, 500), 2)}
        for _ in range(args.parcels)
    ]
    sample = parcels[: max(1, len(parcels) // 5)]
    choices, chosen = per_cpu_second(lambda i, p: table.choose(p), parcels)
    labels, _ = per_cpu_second(
        lambda i, p: label.render({"order": ORDER, "shipment": p | SHIPMENT, "sender": SENDER, "printed_at": "now"}),
        sample,
    )
    event = {"order": ORDER, "shipments": [SHIPMENT], "event": {}}
    mails, _ = per_cpu_second(lambda i, p: shipped.message(event, "de" if i % 3 == 0 else "en"), sample)
    figures = {"parcels": args.parcels, "carrier choices per CPU-second": choices, "labels per CPU-second": labels}
    figures |= {"e-mails per CPU-second": mails, "carriers": dict(Counter(c.carrier.name for c in chosen))}
    return harness.report("fulfilment_render: one core, CPU time", figures, seed=args.seed)


if __name__ == "__main__":
    harness.run(main)
