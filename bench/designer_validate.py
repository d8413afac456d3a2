"""Server validation time of a generated 200-step flow (target: under 50 ms).

Generates a valid flow of N steps using every step type (audits, activities
with typed failures, switches, waits and approvals with timeouts, ends) and
measures, on one core:

  engine     engine.definitions.validate_text: YAML, JSON Schema, semantic checks, references
  api        POST /api/definitions/validate in-process (FastAPI TestClient on a SQLite
             database with the shipped definitions): the above plus the reference
             look-up, line numbers for errors and the HTTP layer
  editor     what the editor's live check computes (POST /definitions/check): the api
             answer plus the problems, tests and diagram fragments (layout + SVG)

    .venv/bin/python bench/designer_validate.py               # 200 steps, 50 rounds
    .venv/bin/python bench/designer_validate.py --steps 400 --rounds 20
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.designer_common import ROOT, api_client, prepare_database  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "designer_validate.json"


def generated_flow(steps: int) -> str:
    """A valid flow of exactly ``steps`` steps: a chain of mixed steps with side exits to shared ends."""
    ends = ["done", "rejected", "out_of_stock", "expired"]
    body = len(steps_needed := range(steps - len(ends)))
    lines = ["# Generated for the validation benchmark.", "kind: flow", f"name: bench_{steps}_steps",
             "title: Generated flow", "form: order", "start: s0", "", "steps:"]
    for index in steps_needed:
        following = f"s{index + 1}" if index + 1 < body else "done"
        kind = ("audit", "activity", "switch", "wait", "approval")[index % 5]
        lines.append(f"  - id: s{index}")
        lines.append(f"    type: {kind}")
        if kind == "audit":
            lines += ["    rules: order_audit", f"    on: {{approve: {following}, review: {following}, reject: rejected}}"]
        elif kind == "activity":
            lines += ["    activity: reserve_stock", f"    status: step_{index}", f"    next: {following}",
                      "    on_error: {out_of_stock: out_of_stock}"]
        elif kind == "switch":
            lines += ["    cases:", f"      - when: \"order.total > {index * 10} and order.payment.status == 'paid'\"",
                      f"        next: {following}", f"    default: {following}"]
        elif kind == "wait":
            lines += ["    timeout: 2h", f"    on: {{payment_received: {following}}}", f"    on_timeout: {following}"]
        else:
            lines += ["    role: operator", "    due: 4h", f"    title: Check step {index}", "    comment_required: [reject]",
                      f"    on: {{approve: {following}, reject: rejected}}", "    on_timeout: expired"]
    for end in ends:
        lines += [f"  - id: {end}", "    type: end", f"    status: {end}"]
    return "\n".join(lines) + "\n"


def timed(function, rounds: int) -> dict:
    """Wall and CPU time per call; CPU time is what the call costs whatever else runs on the machine."""
    function()  # warm: imports, compiled schemas
    samples, cpu = [], []
    for _ in range(rounds):
        started, started_cpu = time.perf_counter(), time.process_time()
        function()
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[max(0, int(len(samples) * 0.95) - 1)], 2),
            "min_ms": round(samples[0], 2), "max_ms": round(samples[-1], 2),
            "cpu_median_ms": round(statistics.median(cpu), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args(argv)

    prepare_database()
    from sqlmodel import Session

    from designer.pages import _check_json
    from engine.definitions import validate_text
    from oms.db import get_read_engine
    from services.definitions.publishing import known_definitions

    text = generated_flow(args.steps)
    with Session(get_read_engine()) as session:
        known = known_definitions(session)
    source = validate_text(text, known)
    assert not source.errors, source.errors[:3]
    assert text.count("  - id: ") == args.steps
    client = api_client()

    def via_api() -> None:
        response = client.post("/api/definitions/validate", json={"text": text})
        assert response.status_code == 200 and response.json()["valid"], response.text[:300]

    results = {
        "steps": args.steps, "rounds": args.rounds, "bytes": len(text.encode()), "target_ms": 50,
        "engine": timed(lambda: validate_text(text, known), args.rounds),
        "api": timed(via_api, args.rounds),
        "editor": timed(lambda: _check_json(text), args.rounds),
    }
    broken = text.replace("next: s11\n", "next: s1l\n", 1).replace("due: 4h", "due: 4 hours", 1)
    results["api_with_errors"] = timed(lambda: client.post("/api/definitions/validate", json={"text": broken}), args.rounds)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"Validation of a generated {args.steps}-step flow ({results['bytes']} bytes), {args.rounds} rounds, one process:")
    for key, label in (("engine", "engine validate_text"), ("api", "POST /api/definitions/validate"),
                       ("api_with_errors", "  same, text with 2 errors"),
                       ("editor", "editor live check (+ diagram SVG)")):
        r = results[key]
        print(f"  {label:<36} median {r['median_ms']:7.2f} ms   p95 {r['p95_ms']:7.2f} ms   "
              f"min {r['min_ms']:7.2f} ms   CPU {r['cpu_median_ms']:7.2f} ms")
    api = results["api"]
    verdict = "met" if api["median_ms"] < 50 else "NOT met"
    tail = "" if api["p95_ms"] < 50 else f"; p95 ({api['p95_ms']} ms) is above it"
    print(f"Target: under 50 ms for the server's validation (median of the API): {verdict}{tail}.")
    print(f"Load average while measuring: {', '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores: above 2 means waiting)")
    print(f"Written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
