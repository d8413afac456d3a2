"""Server validation time of a generated 200-step flow (target: under 50 ms).

A valid flow of N steps of every type, validated in one process on a SQLite database with the
shipped definitions: by ``engine.definitions.validate_text``, through POST /api/definitions/validate
(in-process), the same with two errors, and by the editor's live check (problems, tests, diagram).

    .venv/bin/python -m bench.designer_validate               # 200 steps, 50 rounds
    .venv/bin/python -m bench.designer_validate --steps 400 --rounds 20
"""

from __future__ import annotations

import os
import statistics
import time

from bench import harness

STEP = {  # the lines of each type of step; {n}: its number, {t}: ten times that, {next}: the step after it
    "audit": "rules: order_audit|on: {{approve: {next}, review: {next}, reject: rejected}}",
    "activity": "activity: reserve_stock|status: step_{n}|next: {next}|on_error: {{out_of_stock: out_of_stock}}",
    "switch": "cases:|  - when: \"order.total > {t} and order.payment.status == 'paid'\""
    "|    next: {next}|default: {next}",
    "wait": "timeout: 2h|on: {{payment_received: {next}}}|on_timeout: {next}",
    "approval": "role: operator|due: 4h|title: Check step {n}|comment_required: [reject]"
    "|on: {{approve: {next}, reject: rejected}}|on_timeout: expired",
}


def generated_flow(steps: int) -> str:
    """A valid flow of exactly ``steps`` steps: a chain of mixed steps with side exits to shared ends."""
    ends, body = ["done", "rejected", "out_of_stock", "expired"], steps - 4
    lines = ["kind: flow", f"name: bench_{steps}_steps", "title: Generated flow", "form: order", "start: s0", "steps:"]
    for n in range(body):
        kind = list(STEP)[n % 5]
        fields = STEP[kind].format(n=n, t=n * 10, next=f"s{n + 1}" if n + 1 < body else "done").split("|")
        lines += [f"  - id: s{n}", f"    type: {kind}"] + [f"    {field}" for field in fields]
    return "\n".join(lines + [f"  - id: {end}\n    type: end\n    status: {end}" for end in ends]) + "\n"


def timed(function, rounds: int) -> dict:
    """Wall and CPU time per call; CPU time is what a call costs whatever else runs on the machine."""
    function()  # warm: imports, compiled schemas
    wall, cpu = [], []
    for _ in range(rounds):
        started, started_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    median, p95 = round(statistics.median(wall), 2), round(harness.percentile(wall, 95), 2)
    return {"median ms": median, "p95 ms": p95, "min ms": round(min(wall), 2), "CPU ms": statistics.median(cpu)}


def main() -> int:
    args = harness.arguments(__doc__, steps=200, rounds=50)
    with harness.app_database():
        from sqlmodel import Session

        from designer.pages import _check_json
        from engine.definitions import validate_text
        from oms.bootstrap import prepare
        from oms.db import get_read_engine
        from services.definitions.publishing import known_definitions

        prepare(seed=True)  # the dev users sign in
        text = generated_flow(args.steps)
        with Session(get_read_engine()) as session:
            known = known_definitions(session)
        assert not validate_text(text, known).errors and text.count("  - id: ") == args.steps
        client = harness.api_client()

        def via_api(body: str) -> None:
            response = client.post("/api/definitions/validate", json={"text": body})
            assert response.status_code == 200, response.text[:300]

        broken = text.replace("next: s11\n", "next: s1l\n", 1).replace("due: 4h", "due: 4 hours", 1)
        results = {
            "engine validate_text": timed(lambda: validate_text(text, known), args.rounds),
            "POST /api/definitions/validate": timed(lambda: via_api(text), args.rounds),
            "  the same, text with 2 errors": timed(lambda: via_api(broken), args.rounds),
            "editor live check (+ diagram)": timed(lambda: _check_json(text), args.rounds),
        }
    api = results["POST /api/definitions/validate"]
    verdict = ("under 50 ms for the server's validation (median of the API)", api["median ms"] < 50)
    title = f"designer_validate: a generated {args.steps}-step flow ({len(text)} characters), {args.rounds} rounds"
    figures = {"validation": results, "load average": os.getloadavg()}
    return harness.report(title, figures, [verdict], output=harness.RESULTS / "designer_validate.json")


if __name__ == "__main__":
    harness.run(main)
