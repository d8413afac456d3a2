"""Audit rules per core: the shipped rule set, evaluated by the product's code on the product's audit contexts.

``--orders`` generated orders (bench/traffic.py, profile ``mixed``) are stored through intake in a
temporary SQLite database, and each one's audit context comes from ``services.orders.facts``
(``bench.traffic.audit_contexts``). One process pinned to one CPU then evaluates
``definitions/rules/order_audit.yaml`` on every context with ``engine.rules.evaluate_rules``, what
the audit runs: ``zen``, the whole rule set, and ``zen-exprs``, without its decision table,
alternating per slice. "Per core" is orders per CPU-second of this process.

    .venv/bin/python -m bench.rules_throughput                    # 20000 orders
    .venv/bin/python -m bench.rules_throughput --orders 100000 --rounds 5
"""

from __future__ import annotations

import gc
import os
import time
from collections import Counter, defaultdict
from dataclasses import replace

from bench import harness
from bench.traffic import audit_contexts


def build_contexts(count: int, seed: int) -> list[dict]:
    """The audit contexts of ``count`` generated orders, from the product's intake and facts code."""
    from oms.bootstrap import prepare
    from oms.db import session_scope

    with harness.app_database():
        prepare(seed=True)
        with session_scope() as session:
            return [context for _, context in audit_contexts(session, count, seed)]


def measure(variants: dict, contexts: list[dict], rounds: int, warmup: int) -> tuple[dict, dict]:
    """Every variant evaluates every context once, in ``rounds`` slices, alternating the variants' order."""
    for evaluate in variants.values():
        for ctx in contexts[:warmup]:
            evaluate(ctx)
    size = -(-len(contexts) // rounds)
    slices = [contexts[i : i + size] for i in range(0, len(contexts), size)]
    meter, used, results = harness.CpuMeter(), defaultdict(list), defaultdict(list)
    for n, chunk in enumerate(slices):
        for name in list(variants)[:: 1 if n % 2 == 0 else -1]:
            evaluate, before = variants[name], meter.read()
            results[name].extend([evaluate(ctx) for ctx in chunk])
            used[name].append(meter.used(before, meter.read()))
        rates = (f"{name} {len(chunk) / used[name][-1]['this process']:,.0f}/CPU-s" for name in variants)
        print(f"  slice {n + 1}/{len(slices)}: " + "   ".join(rates), flush=True)
    figures = {}
    for name, parts in used.items():
        cpu, wall = (sum(p[key] for p in parts) for key in ("this process", "wall"))
        per_slice = [len(c) / p["this process"] for c, p in zip(slices, parts, strict=True)]
        rates = {"orders per CPU-second (per core)": len(contexts) / cpu, "per wall-second": len(contexts) / wall}
        times = {"us per order": 1e6 * cpu / len(contexts), "slowest slice": min(per_slice), "fastest": max(per_slice)}
        figures[name] = {k: round(v, 1) for k, v in (rates | times).items()}
        figures[name]["other processes (cores)"] = round(sum(p["others"] for p in parts) / wall, 2)
    return figures, results


def main() -> int:
    args = harness.arguments(__doc__, orders=20_000, seed=20261121, rounds=5, warmup=1000)
    from engine.definitions import compile_text
    from engine.rules import evaluate_rules

    cpu = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {cpu})  # one core: the figure is per core
    started = time.perf_counter()
    contexts = build_contexts(args.orders, args.seed)
    print(
        f"{len(contexts):,} audit contexts ({args.orders - len(contexts)} orders refused by intake) in "
        f"{time.perf_counter() - started:.0f}s; pinned to CPU {cpu}",
        flush=True,
    )
    gc.collect()
    gc.freeze()  # the contexts live for the whole run: the collector need not scan them again and again
    rule_set = compile_text((harness.ROOT / "definitions" / "rules" / "order_audit.yaml").read_text())
    expressions = replace(rule_set, rules=tuple(r for r in rule_set.rules if r.table is None))
    variants = {"zen": lambda c: evaluate_rules(rule_set, c), "zen-exprs": lambda c: evaluate_rules(expressions, c)}
    figures, results = measure(variants, contexts, args.rounds, args.warmup)
    zen, exprs = (figures[name]["us per order"] for name in variants)
    figures["decision table share of zen's time"] = round(1 - exprs / zen, 3)
    figures["actions"] = dict(Counter(d.action for d in results["zen"]))
    figures["fired"] = dict(Counter(f.rule for d in results["zen"] for f in d.fired).most_common())
    return harness.report(f"rules_throughput: {len(contexts):,} orders, one process pinned to CPU {cpu}", figures)


if __name__ == "__main__":
    harness.run(main)
