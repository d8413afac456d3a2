"""What-if over recorded orders (target: 10,000 orders in under 3 s).

Records N orders as the audit leaves them (bench.traffic.audit_contexts: the product's intake
and facts code), then runs a draft ``order_audit`` with one rule added over them, as POST
/api/definitions/whatif does; also the worst case, when no recorded outcome can be reused and
both rule sets evaluate every order.

    .venv/bin/python -m bench.designer_whatif                 # 10000 orders, 5 rounds
    .venv/bin/python -m bench.designer_whatif --orders 20000 --rounds 3
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import asdict

from bench import harness
from bench.traffic import audit_contexts

EXTRA_RULE = """rules:
  - id: big_marketplace_order
    when: "order.channel == 'marketplace' and order.total > 800"
    action: review
    reason: "marketplace order of {{ order.total }}"
"""


def record_orders(count: int, seed: int) -> str:
    """``count`` audited orders as the audit activity records them; returns the live rule set's text."""
    from engine.definitions import compile_text
    from engine.rules import evaluate_rules
    from oms.db import session_scope
    from services.definitions.publishing import latest

    with session_scope() as session:
        live = latest(session, "rules", "order_audit")
        rule_set, ref = compile_text(live.body), {"name": "order_audit", "version": live.version, "sha256": live.sha256}
        for order, context in audit_contexts(session, count, seed):
            decision = evaluate_rules(rule_set, context)
            fired, tags = [asdict(f) for f in decision.fired], list(decision.tags)
            order.audit = {"action": decision.action, "fired": fired, "tags": tags, "facts": context["facts"]}
            order.audit["rules"] = {"kind": "rules", **ref}
        return live.body


def main() -> int:
    args = harness.arguments(__doc__, orders=10_000, rounds=5, seed=7)
    with harness.app_database():
        from sqlmodel import Session

        from engine.definitions import compile_text, load
        from engine.whatif import rules_whatif
        from oms.bootstrap import prepare
        from oms.db import get_read_engine
        from services.definitions.whatif import recorded_orders, run_rules_whatif

        prepare(seed=True)
        started = time.perf_counter()
        live_text = record_orders(args.orders, args.seed)
        print(f"recorded {args.orders} audited orders in {time.perf_counter() - started:.1f} s", flush=True)
        draft_text = live_text.replace("rules:\n", EXTRA_RULE, 1)
        draft, client, rounds = compile_text(draft_text), harness.api_client(), []
        for _ in range(args.rounds):
            with Session(get_read_engine()) as session:
                t0 = time.perf_counter()
                orders = recorded_orders(session, args.orders, "order_audit")
                t1 = time.perf_counter()
                whatif = run_rules_whatif(session, draft, args.orders, load(draft_text).raw)
                t2, cpu = time.perf_counter(), time.process_time()
            response = client.post("/api/definitions/whatif", json={"text": draft_text, "last": args.orders})
            assert response.status_code == 200 and response.json()["considered"] == len(orders), response.text[:300]
            rounds.append((t1 - t0, t2 - t1, time.perf_counter() - t2, time.process_time() - cpu))
        # Worst case: no recorded outcome reusable (another version audited them): both rule sets evaluate all.
        cpu, wall = time.process_time(), time.perf_counter()
        full = rules_whatif(draft, compile_text(live_text), orders, "live")
        full_wall, full_cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert len(full.now_held) == len(whatif.now_held)
    read, evaluated, api, api_cpu = ([round(r[i], 3) for r in rounds] for i in range(4))
    figures = {
        "read orders with their facts (s)": {"median": statistics.median(read), "max": max(read)},
        "read + evaluate draft and live (s)": {"median": statistics.median(evaluated), "max": max(evaluated)},
        "POST /api/definitions/whatif (s)": {"median": statistics.median(api), "max": max(api)},
        "  its CPU (s)": {"median": statistics.median(api_cpu)},
        "without reuse, both evaluated (s)": {"wall": round(full_wall, 3), "CPU": round(full_cpu, 3)},
        "outcome": whatif.summary(),
        "load average": os.getloadavg(),
    }
    verdict = (f"under 3 s for {args.orders} orders (median of the API)", statistics.median(api) < 3)
    title = f"designer_whatif: a draft order_audit over the last {args.orders} recorded orders, {args.rounds} rounds"
    return harness.report(title, figures, [verdict])


if __name__ == "__main__":
    harness.run(main)
