"""Fulfilment's pure work on one core: carrier choice by the shipped table, label and e-mail rendering.

What the create_shipment and notify activities spend outside the database and
the network, measured on the shipped definitions (definitions/carriers/default.yaml,
definitions/templates/*.yaml) over generated parcels:

    .venv/bin/python bench/fulfilment_render.py                 # 50000 parcels
    .venv/bin/python bench/fulfilment_render.py --parcels 10000 --seed 3

Prints choices, labels and e-mails per CPU-second and writes bench/results/fulfilment_render.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.definitions import compile_text  # noqa: E402

COUNTRIES = ["DE"] * 6 + ["FR", "NL", "AT", "GB", "US", "CN", "JP"]


def definition(path: str):
    return compile_text((ROOT / "definitions" / path).read_text(encoding="utf-8"))


def parcels(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [{"weight_kg": round(rng.choice([rng.uniform(0.1, 2), rng.uniform(2, 30), rng.uniform(30, 80)]), 2),
             "country": rng.choice(COUNTRIES), "service_level": "express" if rng.random() < 0.1 else "standard",
             "value": round(rng.uniform(5, 500), 2), "warehouse": "BER"} for _ in range(n)]


def timed(label: str, work, items: list) -> tuple[float, object]:
    start = time.process_time()
    result = work(items)
    seconds = time.process_time() - start
    print(f"{label:<24} {len(items) / seconds:>12,.0f} per CPU-second ({seconds:.2f} s for {len(items)})")
    return len(items) / seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    table = definition("carriers/default.yaml")
    label = definition("templates/shipping_label.yaml")
    shipped = definition("templates/notify_shipped.yaml")
    items = parcels(args.parcels, args.seed)
    order = {"id": "ord_x", "external_id": "A-1", "customer": {"name": "Ann Example"}, "total": 42.0,
             "shipping_address": {"street": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
             "lines": [{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}]}

    choose_rate, choices = timed("carrier choices", lambda xs: [table.choose(p) for p in xs], items)
    sample = items[: max(1, len(items) // 5)]
    label_rate, _ = timed("labels rendered", lambda xs: [label.render({
        "order": order, "shipment": {**p, "tracking_number": "SIM0", "carrier_title": "Sim", "parcel": 1, "parcels": 1},
        "sender": {"code": "BER", "name": "Berlin", "country": "DE"}, "printed_at": "now"}) for p in xs], sample)
    mail_rate, _ = timed("e-mails rendered", lambda xs: [shipped.message({
        "order": order, "shipments": [{"carrier_title": "Sim", "tracking_number": "SIM0"}], "event": {}},
        "de" if i % 3 == 0 else "en") for i, _ in enumerate(xs)], sample)
    by_carrier = Counter(c.carrier.name for c in choices)
    print("carriers chosen:", ", ".join(f"{k} {v}" for k, v in by_carrier.most_common()))
    out = ROOT / "bench" / "results" / "fulfilment_render.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"parcels": args.parcels, "seed": args.seed, "choices_per_cpu_s": round(choose_rate),
                               "labels_per_cpu_s": round(label_rate), "emails_per_cpu_s": round(mail_rate),
                               "carriers": dict(by_carrier)}, indent=2))


if __name__ == "__main__":
    main()
