"""Audit rule throughput on one core: zen-engine (the product) vs the pure-Python `rule-engine`.

Generates N orders (bench/traffic.py, profile ``mixed``) with precomputed
facts, in the exact context the audit activity evaluates
(``{"order": order.document, "facts": order_facts(...)}``), and evaluates the
shipped ``definitions/rules/order_audit.yaml`` on every one of them:

  zen          engine.rules.evaluate_rules(compile_text(...), ctx)   (what audit_order runs)
  zen-exprs    the same without the decision table rules (zen expressions only)
  zen-table    the decision table rules alone (zen's JDM engine)
  rule-engine  every condition, table row and reason placeholder translated to
               rule_engine.Rule(text, context=Context(default_value=None)),
               the same hit policy and strictest-action result

It checks that zen and rule-engine give the same action (and the same fired
rules and reasons) for every order, and prints orders per CPU-second (= per
core) and per wall-second.

    .venv/bin/python bench/rules_throughput.py                  # 100000 orders
    .venv/bin/python bench/rules_throughput.py --orders 20000 --seed 7
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.flow_overhead import CpuClock  # noqa: E402
from bench.traffic import Generated, TrafficGenerator  # noqa: E402

RULES_FILE = ROOT / "definitions" / "rules" / "order_audit.yaml"
REGIONS_FILE = ROOT / "definitions" / "regions" / "delivery.yaml"
PROMOTIONS_FILE = ROOT / "definitions" / "promotions" / "coupons.yaml"
FORM_FILE = ROOT / "definitions" / "forms" / "order.yaml"
RESULTS = ROOT / "bench" / "results" / "rules_throughput.json"

SIM_START = datetime(2026, 11, 10, tzinfo=timezone.utc)
SIM_ORDERS_PER_HOUR = 400
# client_ip as the shipped channel definitions map it (web and marketplace buyers; no store or phone IPs).
CHANNEL_IPS = "as-mapped"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders to generate and evaluate (default 100000)")
    parser.add_argument("--seed", type=int, default=20261121, help="random seed (default %(default)s)")
    parser.add_argument("--cpu", type=int, default=None,
                        help="pin the process to this CPU (default: the last CPU this process may use; -1: no pinning)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="slices the orders are measured in, variants alternating per slice (default 5)")
    parser.add_argument("--warmup", type=int, default=1000, help="unmeasured orders per variant first (default 1000)")
    parser.add_argument("--diagnostic-sample", type=int, default=10_000,
                        help="orders used for the diagnostics (context conversion, table alternatives; default 10000)")
    parser.add_argument("--shape-sample", type=int, default=2000,
                        help="orders whose document is checked against the real form validator (default 2000)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results (default %(default)s)")
    args = parser.parse_args(argv)
    if args.orders < 1 or args.rounds < 1:
        parser.error("--orders and --rounds must be at least 1")
    return args


# ---- orders and facts -----------------------------------------------------------------


def _with_defaults(fields, data: dict) -> dict:
    """The form's defaults filled in, as intake does (the generator sends no blank values)."""
    out = dict(data)
    for field in fields:
        if field.id not in out and field.default is not None:
            out[field.id] = copy.deepcopy(field.default)
        if isinstance(out.get(field.id), dict) and field.type in ("group", "address"):
            out[field.id] = _with_defaults(field.fields, out[field.id])
    return out


_FORM = None


def document_of(generated: Generated) -> dict[str, Any]:
    """``order.document`` as intake stores it: the form-cleaned payload plus id and total."""
    from engine.definitions import compile_text
    from services.orders.intake import order_id_for

    global _FORM
    if _FORM is None:
        _FORM = compile_text(FORM_FILE.read_text(encoding="utf-8"))
    doc = _with_defaults(_FORM.fields, copy.deepcopy(generated.payload))
    doc["id"] = order_id_for(doc["channel"], doc["external_id"])
    doc["total"] = TrafficGenerator.total(doc["lines"])
    return doc


@dataclass
class _Open:
    at: datetime
    total: float
    settles: datetime


class FactsSimulator:
    """What ``services.orders.facts.order_facts`` would compute, from the orders seen so far.

    Orders arrive as a Poisson stream (SIM_ORDERS_PER_HOUR) starting at
    SIM_START; velocity counts the last hour including the order itself, B2B
    invoices stay open 14 to 45 days, some customers return most of what they buy.
    """

    def __init__(self, seed: int) -> None:
        import random

        from engine.definitions import compile_text

        self.rng = random.Random(seed ^ 0x5EED)
        self.regions = compile_text(REGIONS_FILE.read_text(encoding="utf-8"))
        self.promotions = compile_text(PROMOTIONS_FILE.read_text(encoding="utf-8"))
        self.now = SIM_START
        self.windows: dict[tuple[str, str], deque] = defaultdict(deque)
        self.addresses: set[str] = set()
        self.history: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)
        self.returner: dict[str, float] = {}
        self.open: dict[str, list[_Open]] = defaultdict(list)
        self.stock_short: dict[str, int] = {}

    def _velocity(self, kind: str, key: str | None) -> int:
        if not key:
            return 0
        window = self.windows[(kind, key)]
        while window and window[0] < self.now - timedelta(hours=1):
            window.popleft()
        window.append(self.now)
        return len(window)

    def facts(self, generated: Generated, doc: dict[str, Any], limits: dict[str, float]) -> dict[str, Any]:
        from services.orders.facts import ADDRESS_PARTS
        from services.orders.intake import address_key, normalized_phone

        rng = self.rng
        self.now += timedelta(seconds=rng.expovariate(SIM_ORDERS_PER_HOUR / 3600))
        address = doc.get("shipping_address") or {}
        key = address_key(address)
        customer = doc.get("customer") or {}
        velocity = {
            "ip": self._velocity("ip", doc.get("client_ip")),
            "phone": self._velocity("phone", normalized_phone(customer.get("phone"))),
            "address": self._velocity("address", key),
            "window_minutes": 60,
        }
        first_time = key not in self.addresses
        self.addresses.add(key)

        customer_id = customer.get("id")
        if customer_id:
            earlier = self.history[customer_id]
            so_far = len(earlier)
            returned = sum(1 for at, flag in earlier if flag and at < self.now - timedelta(days=5))
            propensity = self.returner.setdefault(customer_id, 0.7 if rng.random() < 0.03 else 0.08)
            earlier.append((self.now, rng.random() < propensity))
            customer_facts = {"known": so_far > 0, "orders_so_far": so_far, "returned_orders": returned,
                              "returns_ratio": round(returned / so_far, 3) if so_far else 0.0}
        else:
            customer_facts = {"known": False, "orders_so_far": 0, "returned_orders": 0, "returns_ratio": 0.0}

        limit = limits.get(customer_id) if customer_id else None
        if limit is None:
            credit = {"limit": 0.0, "open_balance": 0.0, "remaining": 0.0}
        else:
            still_open = [o for o in self.open[customer_id] if o.settles > self.now]
            self.open[customer_id] = still_open
            balance = round(sum(o.total for o in still_open), 2)
            credit = {"limit": limit, "open_balance": balance, "remaining": round(limit - balance, 2)}
            self.open[customer_id].append(_Open(self.now, doc["total"], self.now + timedelta(days=rng.uniform(14, 45))))

        missing = [part for part in ADDRESS_PARTS if not str(address.get(part) or "").strip()]
        serviceable, why = self.regions.serviceable(address)
        stock_lines = []
        for line in doc["lines"]:
            available = rng.randint(0, line["qty"] - 1) if rng.random() < 0.02 else rng.randint(line["qty"], 1200)
            stock_lines.append({"sku": line["sku"], "qty": line["qty"], "available": available,
                                "enough": available >= line["qty"]})
        coupon = {**self.promotions.check(doc.get("coupon"), doc["total"], self.now.date()), "promotions_version": 1}
        return {
            "first_time_address": first_time,
            "orders_from_ip_last_hour": velocity["ip"],
            "velocity": velocity,
            "customer": customer_facts,
            "credit": credit,
            "address": {"complete": not missing, "missing": missing, "serviceable": serviceable,
                        "unserviceable_reason": why, "regions_version": 1},
            "stock": {"lines": stock_lines, "all_available": all(l["enough"] for l in stock_lines)},
            "coupon": coupon,
        }


def build_contexts(count: int, seed: int) -> tuple[list[dict], list[Generated], float]:
    started = time.perf_counter()
    generator = TrafficGenerator(seed, "mixed", channel_ips=CHANNEL_IPS)
    simulator = FactsSimulator(seed)
    contexts, generated = [], []
    for _ in range(count):
        item = generator.order()
        doc = document_of(item)
        contexts.append({"order": doc, "facts": simulator.facts(item, doc, generator.accounts)})
        generated.append(item)
    return contexts, generated, time.perf_counter() - started


def shape_check(contexts: list[dict], generated: list[Generated], sample: int) -> dict:
    """Run the real form validator on a sample: the documents must be what intake stores."""
    from engine.definitions import compile_text
    from engine.forms import FormValidator

    validator = FormValidator(compile_text(FORM_FILE.read_text(encoding="utf-8")))
    checked = identical = 0
    invalid = 0
    differences = []
    for ctx, item in zip(contexts[:sample], generated[:sample]):
        cleaned, errors = validator.validate(item.payload)
        if errors:
            invalid += 1  # e.g. an incomplete address: intake would refuse it (422)
            continue
        checked += 1
        expected = {**cleaned, "id": ctx["order"]["id"], "total": ctx["order"]["total"]}
        if expected == ctx["order"]:
            identical += 1
        elif len(differences) < 3:
            differences.append({"generated": ctx["order"], "intake": expected})
    return {"sampled": min(sample, len(contexts)), "valid": checked, "identical": identical,
            "refused_by_form": invalid, "differences": differences}


# ---- zen -> rule-engine translation ----------------------------------------------------


class Untranslatable(ValueError):
    pass


_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>==|!=|>=|<=|>|<|\(|\)|\[|\]|,|\+|-|\*|/|%)
  | (?P<other>.)
""", re.VERBOSE)
KEYWORDS = {"and", "or", "not", "in", "null", "true", "false"}
ROOTS = {"order", "facts"}


def translate_expression(text: str) -> str:
    """A zen expression in the common subset, as rule-engine text.

    Both languages read ``and or not in == != > >= < <=``, ``null true false``,
    quoted strings, numbers and array literals the same way. A zen path
    ``a.b.c`` yields null when any part is missing; rule-engine's safe item
    access ``a&['b']&['c']`` does the same (its dot syntax on mappings is
    deprecated). Function calls, closures, ranges, ``?:`` and indexing are
    refused rather than guessed.
    """
    out = []
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(text)]
    previous = None
    for i, (kind, value) in enumerate(tokens):
        if kind == "op" and value == "[" and previous in ("name", "string", "]", ")"):
            raise Untranslatable(f"{text!r}: indexing is not translated")
        if kind != "space":
            previous = value if kind == "op" and value in ("]", ")") else kind
            if previous == "name" and value in KEYWORDS:
                previous = "keyword"
        if kind == "space":
            out.append(" ")
        elif kind == "other":
            raise Untranslatable(f"{text!r}: {value!r} is outside the subset both languages share")
        elif kind == "name":
            following = next((v for k, v in tokens[i + 1:] if k != "space"), None)
            if following == "(" and value not in KEYWORDS:
                raise Untranslatable(f"{text!r}: function call {value}(...) has no checked rule-engine equivalent")
            if value in KEYWORDS:
                out.append(value)
                continue
            root, *parts = value.split(".")
            if root not in ROOTS:
                raise Untranslatable(f"{text!r}: unknown root {root!r}")
            out.append(root + "".join(f"&[{p!r}]" for p in parts))
        else:
            out.append(value)
    return "".join(out)


_LITERAL = re.compile(r"""^\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null)\s*$""")
_COMPARISON = re.compile(r"^\s*(==|!=|>=|<=|>|<)\s*(.+)$")
_MEMBERSHIP = re.compile(r"^\s*(not\s+in|in)\s*(\[.*\])\s*$")


def translate_unary(test: Any, input_text: str) -> str | None:
    """A decision-table cell as a condition over its column; None matches anything."""
    from engine.tables import _cell

    cell = _cell(test)
    if cell == "":
        return None
    if _LITERAL.match(cell):
        return f"({input_text}) == {cell.strip()}"
    if m := _COMPARISON.match(cell):
        if not _LITERAL.match(m.group(2)):
            raise Untranslatable(f"table test {cell!r}: only literals are compared")
        return f"({input_text}) {m.group(1)} {m.group(2).strip()}"
    if m := _MEMBERSHIP.match(cell):
        return f"({input_text}) {' '.join(m.group(1).split())} {translate_expression(m.group(2))}"
    parts = [p.strip() for p in cell.split(",")]
    if len(parts) > 1 and all(_LITERAL.match(p) for p in parts):
        return f"({input_text}) in [{', '.join(parts)}]"
    raise Untranslatable(f"table test {cell!r} (ranges, functions, $ expressions) is not translated")


def _plain(value: Any) -> Any:
    """rule-engine's values (Decimal, tuples, OrderedDict) as zen returns them to Python."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _inline_text(value: Any) -> str:
    """How zen's templating writes a value inside text: 5000 not 5000.0, lists as JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".15g")
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


class ReasonTemplate:
    """A reason template whose placeholders are rule-engine expressions."""

    _PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")

    def __init__(self, template: str, rule_engine: Any, context: Any) -> None:
        self.pieces: list[str | Any] = []
        position = 0
        for m in self._PLACEHOLDER.finditer(template):
            self.pieces.append(template[position:m.start()])
            self.pieces.append(rule_engine.Rule(translate_expression(m.group(1).strip()), context=context))
            position = m.end()
        self.pieces.append(template[position:])
        self.pieces = [p for p in self.pieces if p != ""]
        self.sources = self._PLACEHOLDER.findall(template)

    def render(self, ctx: dict) -> str:
        from engine.expressions import to_text

        if len(self.pieces) == 1 and not isinstance(self.pieces[0], str):
            return to_text(_plain(self.pieces[0].evaluate(ctx)))  # one placeholder: the bare value
        return "".join(p if isinstance(p, str) else _inline_text(_plain(p.evaluate(ctx))) for p in self.pieces)


@dataclass
class PeerRule:
    id: str
    condition: Any | None = None          # rule_engine.Rule
    action: str = ""
    reason: ReasonTemplate | None = None
    tag: str | None = None
    rows: list["PeerRule"] | None = None  # a decision table: its rows, first match wins
    text: str = ""


class PeerRuleSet:
    """The shipped rule set translated to rule-engine, evaluated like engine.rules.evaluate_rules."""

    def __init__(self, raw: dict) -> None:
        import rule_engine

        self.rule_engine = rule_engine
        self.errors = (rule_engine.errors.EngineError, ArithmeticError, LookupError, TypeError)
        context = rule_engine.Context(default_value=None)
        self.hit_policy = raw.get("hit_policy", "collect")
        self.default = raw.get("default", "approve")
        self.rules: list[PeerRule] = []
        self.problems: list[str] = []
        for rule in raw["rules"]:
            try:
                self.rules.append(self._translate(rule, context))
            except (Untranslatable, rule_engine.errors.EngineError) as exc:
                self.problems.append(f"{rule['id']}: {exc}")

    def _translate(self, raw: dict, context: Any) -> PeerRule:
        rule_engine = self.rule_engine
        if "table" in raw:
            inputs = [translate_expression(i) for i in raw["table"]["inputs"]]
            rows = []
            for index, row in enumerate(raw["table"]["rows"]):
                tests = [t for t in (translate_unary(test, inputs[n]) for n, test in enumerate(row["when"])) if t]
                text = " and ".join(tests) or "true"
                rows.append(PeerRule(f"{raw['id']}[{index}]", rule_engine.Rule(text, context=context), row["action"],
                                     ReasonTemplate(row["reason"], rule_engine, context), row.get("tag"), text=text))
            return PeerRule(raw["id"], rows=rows)
        text = translate_expression(raw["when"])
        return PeerRule(raw["id"], rule_engine.Rule(text, context=context), raw["action"],
                        ReasonTemplate(raw["reason"], rule_engine, context), raw.get("tag"), text=text)

    def _true(self, rule: PeerRule, ctx: dict) -> bool:
        value = rule.condition.evaluate(ctx)
        if isinstance(value, bool):
            return value
        raise TypeError(f"condition {rule.text!r} gave {value!r}, not true or false")

    def _fire(self, rule: PeerRule, ctx: dict) -> tuple | None:
        if rule.rows is not None:
            for row in rule.rows:
                if self._true(row, ctx):
                    return (row.id, row.action, row.reason.render(ctx), row.tag)
            return None
        if not self._true(rule, ctx):
            return None
        return (rule.id, rule.action, rule.reason.render(ctx), rule.tag)

    def evaluate(self, ctx: dict) -> tuple[str, tuple]:
        from engine.rules import STRICTNESS

        fired = []
        for rule in self.rules:
            try:
                hit = self._fire(rule, ctx)
            except self.errors as exc:
                hit = (rule.id, "review", f"rule could not be evaluated: {exc}", None)
            if hit is None:
                continue
            fired.append(hit)
            if self.hit_policy == "first" and hit[1] != "tag":
                break
        deciding = [f[1] for f in fired if f[1] != "tag"]
        action = max(deciding, key=STRICTNESS.__getitem__) if deciding else self.default
        return action, tuple(fired)

    def translations(self) -> dict[str, Any]:
        out = {}
        for rule in self.rules:
            if rule.rows is not None:
                out[rule.id] = [{"row": r.id, "when": r.text, "reason_placeholders": [
                    translate_expression(s.strip()) for s in r.reason.sources]} for r in rule.rows]
            else:
                out[rule.id] = {"when": rule.text, "reason_placeholders": [
                    translate_expression(s.strip()) for s in rule.reason.sources]}
        return out


# ---- measuring -------------------------------------------------------------------------


CLOCK = CpuClock(None)


def measure(label: str, evaluate: Callable[[dict], Any], contexts: list[dict], warmup: int,
            keep: bool = False) -> tuple[dict, list]:
    """Evaluate every context once; CPU time of this process is the per-core figure."""
    for ctx in contexts[:warmup]:
        evaluate(ctx)
    print(f"  {label:<12} {len(contexts):>7} orders ...", end="", flush=True)
    results = [] if keep else None
    cpu0, _, machine0 = CLOCK.read()
    wall0 = time.perf_counter()
    if keep:
        append = results.append
        for ctx in contexts:
            append(evaluate(ctx))
    else:
        for ctx in contexts:
            evaluate(ctx)
    wall = time.perf_counter() - wall0
    cpu1, _, machine1 = CLOCK.read()
    cpu = cpu1 - cpu0
    figures = {
        "orders": len(contexts),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "orders_per_cpu_s": round(len(contexts) / cpu, 1) if cpu else None,
        "orders_per_wall_s": round(len(contexts) / wall, 1),
        "us_per_order_cpu": round(1e6 * cpu / len(contexts), 2),
        "other_load_cores": round((machine1 - machine0 - cpu) / wall, 2) if wall else None,
    }
    print(f" {figures['orders_per_cpu_s']:>10,.1f} orders/CPU-s   {figures['orders_per_wall_s']:>10,.1f} orders/wall-s"
          f"   ({figures['us_per_order_cpu']:,.1f} us/order; other load {figures['other_load_cores']:.2f} cores)",
          flush=True)
    return figures, results


def measure_interleaved(variants: dict[str, Callable[[dict], Any]], contexts: list[dict], rounds: int,
                        warmup: int, keep: set[str]) -> tuple[dict[str, dict], dict[str, list]]:
    """Every variant evaluates every context once, in ``rounds`` slices, the variants' order
    alternating per slice (ABCD, DCBA, ...) so a drift in the machine's load favours none."""
    for evaluate in variants.values():
        for ctx in contexts[:warmup]:
            evaluate(ctx)
    size = -(-len(contexts) // rounds)
    slices = [contexts[i:i + size] for i in range(0, len(contexts), size)]
    cpu: dict[str, list[float]] = defaultdict(list)
    wall: dict[str, list[float]] = defaultdict(list)
    busy: dict[str, list[float]] = defaultdict(list)
    results: dict[str, list] = {name: [] for name in keep}
    for n, chunk in enumerate(slices):
        order = list(variants) if n % 2 == 0 else list(reversed(variants))
        for name in order:
            evaluate = variants[name]
            cpu0, _, machine0 = CLOCK.read()
            wall0 = time.perf_counter()
            if name in keep:
                results[name].extend(evaluate(ctx) for ctx in chunk)
            else:
                for ctx in chunk:
                    evaluate(ctx)
            wall[name].append(time.perf_counter() - wall0)
            cpu1, _, machine1 = CLOCK.read()
            cpu[name].append(cpu1 - cpu0)
            busy[name].append(machine1 - machine0)
        print(f"  slice {n + 1}/{len(slices)} ({len(chunk):,} orders): " + "   ".join(
            f"{name} {len(chunk) / cpu[name][-1]:,.0f}/CPU-s" for name in variants), flush=True)
    figures = {}
    for name in variants:
        total_cpu, total_wall = sum(cpu[name]), sum(wall[name])
        per_slice = [len(chunk) / c for chunk, c in zip(slices, cpu[name]) if c]
        figures[name] = {
            "orders": len(contexts),
            "wall_s": round(total_wall, 3),
            "cpu_s": round(total_cpu, 3),
            "orders_per_cpu_s": round(len(contexts) / total_cpu, 1),
            "orders_per_wall_s": round(len(contexts) / total_wall, 1),
            "us_per_order_cpu": round(1e6 * total_cpu / len(contexts), 2),
            "orders_per_cpu_s_slices": [round(x, 1) for x in per_slice],
            "spread_min_max": [round(min(per_slice), 1), round(max(per_slice), 1)],
            # other processes' CPU use while this variant ran, in busy cores
            "other_load_cores": round((sum(busy[name]) - total_cpu) / total_wall, 2),
        }
    return figures, results


def zen_decision(decision) -> tuple[str, tuple]:
    return decision.action, tuple((f.rule, f.action, f.reason, f.tag) for f in decision.fired)


def diagnostics(rule_set, contexts: list[dict], warmup: int) -> dict:
    """Where zen's time goes, on a sample: context conversion, the JDM table, alternatives."""
    import zen

    from engine.expressions import compile_expression

    out = {}
    tiny = [{"order": {"total": c["order"]["total"]}} for c in contexts]
    first = compile_expression("order.total > 5000")
    out["zen_one_condition_tiny_context"] = measure("tiny-ctx", first.is_true, tiny, warmup)[0]
    out["zen_one_condition_tiny_context"]["note"] = "`order.total > 5000` given only {order: {total}}: the best case"
    true_expr = compile_expression("true")
    out["zen_context_conversion"] = measure("ctx->zen", true_expr.is_true, contexts, warmup)[0]
    out["zen_context_conversion"]["note"] = "`true` given the full context: the cost of handing it to zen once"
    conditions = [r.when.text for r in rule_set.rules if r.table is None]
    combined = zen.compile_expression("[" + ", ".join(f"({c})" for c in conditions) + "]")
    out["zen_all_conditions_one_call"] = measure("1-call", combined.evaluate, contexts, warmup)[0]
    out["zen_all_conditions_one_call"]["note"] = (
        f"the {len(conditions)} conditions as one zen array expression: one context conversion per order")
    for rule in rule_set.rules:
        if rule.table is None:
            continue
        table = rule.table
        fields = [i.text for i in table.inputs]

        def small_context(ctx, fields=fields):
            order = ctx["order"]
            return {"order": {"channel": order.get("channel"), "total": order.get("total"),
                              "shipping_address": {"country": (order.get("shipping_address") or {}).get("country")}}}

        if fields == ["order.channel", "order.shipping_address.country", "order.total"]:
            smalls = [small_context(c) for c in contexts]
            out[f"zen_table_{rule.id}_inputs_only"] = measure("table-small", table._decision.evaluate, smalls, warmup)[0]
            out[f"zen_table_{rule.id}_inputs_only"]["note"] = "the JDM decision given only its 3 inputs"
        rows = []
        for row_raw in _raw_rules()[rule.id]["table"]["rows"]:
            tests = [translate_unary(t, fields[n]) for n, t in enumerate(row_raw["when"])]
            rows.append(compile_expression(" and ".join(t for t in tests if t) or "true"))

        def rows_as_expressions(ctx, rows=rows):
            for n, expression in enumerate(rows):
                if expression.is_true(ctx):
                    return n
            return None

        out[f"zen_table_{rule.id}_as_expressions"] = measure("table-exprs", rows_as_expressions, contexts, warmup)[0]
        out[f"zen_table_{rule.id}_as_expressions"]["note"] = "each row as one zen expression, first match wins"
    return out


def load_raw(text: str) -> dict:
    """The rule set as YAML data (translation works from the text analysts wrote)."""
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(text)


def _raw_rules() -> dict[str, dict]:
    return {r["id"]: r for r in load_raw(RULES_FILE.read_text(encoding="utf-8"))["rules"]}


# ---- the run ---------------------------------------------------------------------------


def pin(cpu: int | None) -> int | None:
    if cpu == -1 or not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[-1] if cpu is None else cpu
    os.sched_setaffinity(0, {chosen})
    return chosen


def summarize_mix(contexts: list[dict], generated: list[Generated], decisions: list) -> dict:
    actions = Counter(d[0] for d in decisions)
    fired = Counter(f[0] for d in decisions for f in d[1])
    totals = sorted(c["order"]["total"] for c in contexts)
    n = len(totals)
    return {
        "channels": dict(Counter(c["order"]["channel"] for c in contexts).most_common()),
        "countries": dict(Counter((c["order"].get("shipping_address") or {}).get("country") for c in contexts).most_common()),
        "segments": dict(Counter(g.pattern for g in generated).most_common()),
        "b2b_share": round(sum(c["order"]["customer"].get("type") == "b2b" for c in contexts) / n, 4),
        "coupon_share": round(sum("coupon" in c["order"] for c in contexts) / n, 4),
        "incomplete_address_share": round(sum(not c["facts"]["address"]["complete"] for c in contexts) / n, 4),
        "total": {"median": totals[n // 2], "p90": totals[int(0.9 * (n - 1))], "p99": totals[int(0.99 * (n - 1))],
                  "max": totals[-1], "mean": round(statistics.fmean(totals), 2)},
        "actions": {a: actions.get(a, 0) for a in ("approve", "review", "reject")},
        "fired": dict(fired.most_common()),
    }


def compare(zen_results: list, peer_results: list, contexts: list[dict]) -> dict:
    action = fired = reasons = 0
    examples = []
    for n, (z, p) in enumerate(zip(zen_results, peer_results)):
        differs = False
        if z[0] != p[0]:
            action += 1
            differs = True
        if [(f[0], f[1], f[3]) for f in z[1]] != [(f[0], f[1], f[3]) for f in p[1]]:
            fired += 1
            differs = True
        elif [f[2] for f in z[1]] != [f[2] for f in p[1]]:
            reasons += 1
            differs = True
        if differs and len(examples) < 5:
            examples.append({"order": contexts[n]["order"]["external_id"], "zen": [z[0], list(z[1])],
                             "rule_engine": [p[0], list(p[1])]})
    return {"compared": len(zen_results), "action_disagreements": action, "fired_rule_disagreements": fired,
            "reason_text_disagreements": reasons, "examples": examples}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import rule_engine
    import zen

    from engine.definitions import compile_text

    cpu = pin(args.cpu)
    text = RULES_FILE.read_text(encoding="utf-8")
    rule_set = compile_text(text)
    print(f"rules_throughput: {args.orders:,} orders, seed {args.seed}, rule set {rule_set.name} "
          f"({len(rule_set.rules)} rules, hit policy {rule_set.hit_policy}), pinned to CPU {cpu}", flush=True)

    contexts, generated, gen_s = build_contexts(args.orders, args.seed)
    shape = shape_check(contexts, generated, args.shape_sample)
    print(f"generated {len(contexts):,} orders with facts in {gen_s:.1f}s; document shape vs the real form validator: "
          f"{shape['identical']}/{shape['valid']} identical ({shape['refused_by_form']} of {shape['sampled']} sampled "
          f"would be refused by the form)", flush=True)
    # The contexts live for the whole run: keep the collector from rescanning them
    # (rule-engine allocates more and would otherwise pay for them more often).
    gc.collect()
    gc.freeze()

    peer = PeerRuleSet(load_raw(text))
    expressions_only = replace(rule_set, rules=tuple(r for r in rule_set.rules if r.table is None))
    table_only = replace(rule_set, rules=tuple(r for r in rule_set.rules if r.table is not None))

    from engine.rules import evaluate_rules

    variants = {"zen": lambda c: zen_decision(evaluate_rules(rule_set, c)),
                "zen-exprs": lambda c: evaluate_rules(expressions_only, c),
                "zen-table": lambda c: evaluate_rules(table_only, c)}
    if not peer.problems:
        variants["rule-engine"] = peer.evaluate
    print(f"measuring (one process, one core; {args.rounds} slices, variants alternating):", flush=True)
    figures, results = measure_interleaved(variants, contexts, args.rounds, args.warmup, keep={"zen", "rule-engine"})
    zen_full, zen_exprs, zen_table = figures["zen"], figures["zen-exprs"], figures["zen-table"]
    peer_full = figures.get("rule-engine")
    zen_results = results["zen"]
    comparison = compare(zen_results, results["rule-engine"], contexts) if peer_full else None
    sample = contexts[: args.diagnostic_sample]
    print(f"diagnostics on the first {len(sample):,} orders:", flush=True)
    diag = diagnostics(rule_set, sample, min(args.warmup, len(sample)))

    table_share = 1 - zen_exprs["us_per_order_cpu"] / zen_full["us_per_order_cpu"]
    n_conditions = sum(1 for r in rule_set.rules if r.table is None)
    n_table_rows = sum(len(r.table.rows) for r in rule_set.rules if r.table is not None)
    report = {
        "benchmark": "rules_throughput",
        "orders": args.orders,
        "seed": args.seed,
        "rule_set": {"name": rule_set.name, "file": str(RULES_FILE.relative_to(ROOT)), "rules": len(rule_set.rules),
                     "conditions": n_conditions, "decision_tables": len(table_only.rules), "table_rows": n_table_rows,
                     "hit_policy": rule_set.hit_policy},
        "versions": {"zen_engine": _version("zen-engine"), "rule_engine": rule_engine.__version__},
        "host": {"python": platform.python_version(), "cpus": os.cpu_count(), "pinned_cpu": cpu,
                 "platform": platform.platform(), "load_average_at_end": os.getloadavg()},
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "generation_s": round(gen_s, 1),
        "document_shape_check": shape,
        "traffic": summarize_mix(contexts, generated, zen_results),
        "variants": {"zen": zen_full, "zen_expressions_only": zen_exprs, "zen_table_only": zen_table,
                     "rule_engine": peer_full},
        "ratio_zen_to_rule_engine": round(zen_full["orders_per_cpu_s"] / peer_full["orders_per_cpu_s"], 2)
        if peer_full else None,
        "ratio_zen_expressions_only_to_rule_engine": round(zen_exprs["orders_per_cpu_s"] / peer_full["orders_per_cpu_s"], 2)
        if peer_full else None,
        "table_share_of_zen_time": round(table_share, 3),
        "zen_expression_evaluations_per_cpu_s": round(zen_exprs["orders_per_cpu_s"] * n_conditions),
        "agreement": comparison,
        "translation_problems": peer.problems,
        "translations": peer.translations(),
        "diagnostics": diag,
    }
    print_report(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    print(f"results written to {args.output}")
    return 0 if (comparison and comparison["action_disagreements"] == 0) else 1


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def print_report(r: dict) -> None:
    line = "-" * 96
    v = r["variants"]
    t = r["traffic"]
    print()
    print(line)
    print(f"rules_throughput: {r['orders']:,} orders (seed {r['seed']}), rule set {r['rule_set']['name']}: "
          f"{r['rule_set']['conditions']} conditions + {r['rule_set']['decision_tables']} decision table "
          f"({r['rule_set']['table_rows']} rows), hit policy {r['rule_set']['hit_policy']}")
    print(f"zen-engine {r['versions']['zen_engine']}, rule-engine {r['versions']['rule_engine']}, Python "
          f"{r['host']['python']}, one process pinned to CPU {r['host']['pinned_cpu']} of {r['host']['cpus']}")
    print(f"traffic (profile mixed, client IPs as the channel definitions map them): channels {t['channels']}; "
          f"b2b {t['b2b_share']:.1%}; coupons {t['coupon_share']:.1%}; "
          f"incomplete addresses {t['incomplete_address_share']:.1%}")
    print(f"         totals median {t['total']['median']} p90 {t['total']['p90']} p99 {t['total']['p99']} "
          f"max {t['total']['max']}; actions {t['actions']}")
    print(f"         fired: {t['fired']}")
    print(line)
    print(f"{'variant':<34} {'orders/CPU-s (per core)':>24} {'slices min..max':>18} {'orders/wall-s':>14} {'us/order':>10}")
    rows = [("zen (evaluate_rules, shipped)", v["zen"]), ("zen, expressions only (no table)", v["zen_expressions_only"]),
            ("zen, decision table only", v["zen_table_only"]), ("rule-engine (translated)", v["rule_engine"])]
    for label, fig in rows:
        if fig is None:
            print(f"{label:<34} {'not measured: translation impossible':>50}")
            continue
        spread = f"{fig['spread_min_max'][0]:,.0f}..{fig['spread_min_max'][1]:,.0f}"
        print(f"{label:<34} {fig['orders_per_cpu_s']:>24,.1f} {spread:>18} {fig['orders_per_wall_s']:>14,.1f}"
              f" {fig['us_per_order_cpu']:>10,.1f}")
    print(f"(per core = orders per CPU-second of this process; other processes kept the machine "
          f"{v['zen']['other_load_cores']:.2f} cores busy meanwhile, so wall figures understate)")
    print()
    if r["ratio_zen_to_rule_engine"] is not None:
        print(f"ratio zen / rule-engine (orders per CPU-second): {r['ratio_zen_to_rule_engine']:.2f}x   "
              f"(zen expressions only / rule-engine: {r['ratio_zen_expressions_only_to_rule_engine']:.2f}x)")
    print(f"decision table share of zen's time: {r['table_share_of_zen_time']:.1%} "
          f"({r['rule_set']['table_rows']} rows through zen's JDM engine vs {r['rule_set']['conditions']} expressions)")
    print(f"zen expression evaluations per CPU-second in this context: {r['zen_expression_evaluations_per_cpu_s']:,}"
          f" (design.md quotes about 545,000)")
    a = r["agreement"]
    if a is None:
        print("agreement: not checked; translation impossible:")
        for problem in r["translation_problems"]:
            print(f"  {problem}")
    else:
        print(f"agreement over {a['compared']:,} orders: action disagreements {a['action_disagreements']}, "
              f"fired-rule disagreements {a['fired_rule_disagreements']}, reason-text disagreements "
              f"{a['reason_text_disagreements']}")
        for example in a["examples"]:
            print(f"  e.g. {json.dumps(example, ensure_ascii=False, default=str)[:400]}")
    s = r["document_shape_check"]
    print(f"document shape: {s['identical']}/{s['valid']} sampled documents identical to what intake stores")
    print(line)
    print("diagnostics (sample):")
    for key, fig in r["diagnostics"].items():
        note = f"  - {fig['note']}" if "note" in fig else ""
        print(f"  {key:<46} {fig['orders_per_cpu_s']:>12,.1f} /CPU-s  {fig['us_per_order_cpu']:>8,.1f} us{note}")
    print(line)


if __name__ == "__main__":
    sys.exit(main())
