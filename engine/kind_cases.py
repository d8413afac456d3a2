"""Stored test cases of allocation, carriers, channels, forms and templates.

Each kind answers one question from an example, and its cases say what the
answer must be. Every ``expect`` key is compared on its own and a difference
is an error at that key (``$.tests[2].expect.carrier: expected 'sim_post',
got 'sim_parcel'``):

```yaml
# allocation: a stock situation -> the plan (the warehouses, a split, or a shortage)
tests:
  - name: France ships from Lyon
    order: {shipping_address: {country: FR}}      # merged over an ordinary order
    stock: [{warehouse: BER, sku: MUG-LOGO, available: 9}, {warehouse: LYS, sku: MUG-LOGO, available: 9}]
    expect: {warehouses: [LYS], split: false}
# carriers: a parcel -> carrier, service and price
  - name: a light parcel in Germany goes by post
    parcel: {weight_kg: 1.5, country: DE}          # merged over an ordinary parcel
    expect: {carrier: sim_post, service: small_parcel, price: 3.9}
# channels: a native payload (and its event type) -> the canonical order, the mapping error naming the field,
# or ignored (an event type that carries no new order)
  - name: cents become euros
    payload: {orderNumber: M-1, items: [{sellerSku: MUG-LOGO, quantity: 1, unitPriceCents: 950}]}
    expect: {order: {external_id: M-1, lines: [{sku: MUG-LOGO, qty: 1, price: 9.5}]}}
# forms: an input -> errors by field, or valid
  - name: a line needs a quantity
    input: {...}
    expect: {valid: false, errors: {"lines[0].qty": "is required"}}
# templates: an order -> the text contains ...
  - name: the subject names the order
    order: {external_id: A-7}
    expect: {subject_contains: [A-7], contains: [Ann Example]}
```
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jinja2 import TemplateError

from engine.allocation import Allocation, Destination, Line, Request, StockPiece, WarehouseInfo, plan
from engine.carriers import CarrierTable, NoCarrier
from engine.case_support import CaseResult, Expectations, case_name, example_order, merged
from engine.channels import Channel, MappingError
from engine.errors import DefinitionError, join_path
from engine.expressions import suggest
from engine.forms import Form, FormValidator
from engine.templates import VARIABLES, RenderError, Template

# The demo warehouses `oms up` seeds; a case that lists no `warehouses` plans over these.
ORDINARY_WAREHOUSES: tuple[dict[str, Any], ...] = (
    {
        "code": "BER",
        "country": "DE",
        "latitude": 52.52,
        "longitude": 13.40,
        "handling_cost": 2.5,
        "serves": ["DE", "AT", "NL", "BE", "LU", "PL", "CZ", "DK", "CH", "GB", "CN"],
    },
    {
        "code": "LYS",
        "country": "FR",
        "latitude": 45.76,
        "longitude": 4.84,
        "handling_cost": 2.0,
        "serves": ["FR", "BE", "LU", "NL", "DE", "CH", "IT", "ES", "PT", "GB"],
    },
    {"code": "NJ1", "country": "US", "latitude": 40.74, "longitude": -74.17, "handling_cost": 3.0, "serves": ["US"]},
)
# A case's `today` when it gives none (it decides which lots are too close to their expiry).
DEFAULT_TODAY = "2026-01-01"
# A line's unit weight when the case's line gives no `weight_kg` (a SKU's default weight).
DEFAULT_WEIGHT_KG = 0.5

# What the shipping step passes the carrier table for an ordinary parcel; a case's `parcel` is merged over it.
ORDINARY_PARCEL: dict[str, Any] = {
    "weight_kg": 1.0,
    "country": "DE",
    "service_level": "standard",
    "value": 19.0,
    "warehouse": "BER",
}

# What print and notification templates see besides the order; a case's values are merged over them.
ORDINARY_SHIPMENT: dict[str, Any] = {
    "id": "shp_test",
    "parcel": 1,
    "parcels": 1,
    "carrier": "sim_post",
    "carrier_title": "Simulated Post",
    "service": "small_parcel",
    "tracking_number": "SIM000000001",
    "warehouse": "BER",
    "weight_kg": 1.0,
    "price": 3.9,
    "status": "shipped",
    "lines": [{"line_no": 1, "sku": "MUG-LOGO", "qty": 2}],
}
ORDINARY_SENDER: dict[str, Any] = {"code": "BER", "name": "Berlin", "country": "DE"}
ORDINARY_WAVE: dict[str, Any] = {
    "id": "wave_test",
    "warehouse": "BER",
    "created_by": "operator",
    "created_at": "2026-01-01T09:00:00",
    "status": "open",
    "orders": [{"id": "ord_test", "status": "allocated"}],
    "lines": [{"sku": "MUG-LOGO", "name": "Mug with logo", "qty": 2, "orders": [{"order_id": "ord_test", "qty": 2}]}],
}
PRINTED_AT = "2026-01-01 09:00"
# The longest rendered text a case result keeps (the designer shows it).
MAX_SHOWN_CHARS = 2000


@dataclass(frozen=True)
class KindCases:
    """How one kind runs its cases and checks their references before running them."""

    run: Callable[[Any, dict, int], CaseResult]
    check: Callable[[dict], Iterator[DefinitionError]]


def _guarded(run: Callable[[Any, dict, int], CaseResult]) -> Callable[[Any, dict, int], CaseResult]:
    """A case whose example cannot be used (a quantity of 'two') fails with the reason; it never raises."""

    def guarded(model: Any, case: dict, index: int) -> CaseResult:
        try:
            return run(model, case, index)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            problem = DefinitionError(join_path("$.tests", index), f"the case could not run: {_reason(exc)}")
            return CaseResult(index, case_name(case, index), False, problem.message, {}, (problem,))

    return guarded


def _reason(exc: Exception) -> str:
    return f"missing {exc}" if isinstance(exc, KeyError) else str(exc)


def _cases(raw: dict) -> Iterator[tuple[int, str, dict]]:
    for index, case in enumerate(raw.get("tests") or []):
        yield index, join_path("$.tests", index), case


# ---- allocation ------------------------------------------------------------


def _warehouse(raw: dict) -> WarehouseInfo:
    return WarehouseInfo(
        str(raw["code"]),
        str(raw.get("country", "")),
        float(raw.get("latitude", 0.0)),
        float(raw.get("longitude", 0.0)),
        float(raw.get("handling_cost", 0.0)),
        tuple(raw.get("serves", ())),
        str(raw.get("region", "")),
    )


def _day(text: Any) -> date | None:
    return None if text is None else date.fromisoformat(str(text))


def _moment(text: Any) -> datetime | None:
    return None if text is None else datetime.fromisoformat(str(text))


def run_allocation_case(rules: Allocation, case: dict, index: int) -> CaseResult:
    """Plan the case's order over its warehouses and stock and compare with `expect`."""
    order = example_order(case.get("order"))
    warehouses = [_warehouse(w) for w in case.get("warehouses") or ORDINARY_WAREHOUSES]
    stock = [
        StockPiece(
            str(s["warehouse"]),
            str(s["sku"]),
            int(s["available"]),
            s.get("lot"),
            _moment(s.get("received_at")),
            _day(s.get("expires_on")),
        )
        for s in case.get("stock") or []
    ]
    holds: dict[tuple[str, str], int] = {}
    for hold in case.get("holds") or []:
        spot = (str(hold["warehouse"]), str(hold["sku"]))
        holds[spot] = holds.get(spot, 0) + int(hold["qty"])
    lines = tuple(
        Line(
            number,
            str(line["sku"]),
            int(line["qty"]),
            float(line.get("price") or 0),
            float(line.get("weight_kg", DEFAULT_WEIGHT_KG)),
        )
        for number, line in enumerate(order.get("lines") or [], start=1)
    )
    address = order.get("shipping_address") or {}
    destination = Destination(
        str(address.get("country") or "").upper(), address.get("latitude"), address.get("longitude")
    )
    today = date.fromisoformat(str(case.get("today", DEFAULT_TODAY)))
    result = plan(rules, Request(lines, destination, str(order.get("channel") or ""), today), warehouses, stock, holds)
    outcome: dict[str, Any] = {
        "warehouses": [p.warehouse for p in result.parcels],
        "split": len(result.parcels) > 1,
        "shortage": [{"sku": s.sku, "missing": s.missing} for s in result.shortages],
        "failure": result.failure,
        "pieces": [{k: v for k, v in vars(p).items() if v is not None} for p in result.pieces],
        "why": list(result.why),
    }
    expect = case.get("expect") or {}
    check = Expectations(index)
    for key in ("warehouses", "split", "failure"):
        if key in expect:
            check.equal(key, expect[key], outcome[key])
    for key in ("shortage", "pieces"):
        if key in expect:
            check.contains((key,), expect[key], outcome[key])
    if result.allocated:
        summary = f"ships from {' + '.join(outcome['warehouses'])}"
    else:
        short = ", ".join(f"{s['missing']} x {s['sku']}" for s in outcome["shortage"]) or "nothing"
        summary = f"not allocated ({result.failure}): short {short}"
    return check.result(index, case_name(case, index), outcome, f"{summary}; {'; '.join(result.why)}")


def check_allocation_cases(raw: dict) -> Iterator[DefinitionError]:
    """Stock, holds and expected warehouses that name no warehouse of the case; dates that are no dates."""
    for _, path, case in _cases(raw):
        codes = [str(w["code"]) for w in case.get("warehouses") or ORDINARY_WAREHOUSES]
        named: list[tuple[tuple[str | int, ...], Any]] = []
        for key in ("stock", "holds"):
            named += [((key, n, "warehouse"), item.get("warehouse")) for n, item in enumerate(case.get(key) or [])]
        expect = case.get("expect") or {}
        named += [(("expect", "warehouses", n), code) for n, code in enumerate(expect.get("warehouses") or [])]
        named += [
            (("expect", "pieces", n, "warehouse"), p["warehouse"])
            for n, p in enumerate(expect.get("pieces") or [])
            if "warehouse" in p
        ]
        for rel, code in named:
            if code not in codes:
                yield DefinitionError(
                    join_path(path, *rel),
                    f"unknown warehouse {code!r}{suggest(str(code), codes)}; warehouses are {', '.join(codes)}",
                )
        dated: list[tuple[tuple[str | int, ...], Any, Callable[[Any], Any]]] = (
            [(("today",), case["today"], _day)] if "today" in case else []
        )
        for n, piece in enumerate(case.get("stock") or []):
            dated += [
                (("stock", n, key), piece[key], parse)
                for key, parse in (("expires_on", _day), ("received_at", _moment))
                if key in piece
            ]
        for rel, text, parse in dated:
            try:
                parse(text)
            except ValueError:
                yield DefinitionError(join_path(path, *rel), f"{text!r} is not a date: write it as 'YYYY-MM-DD'")


# ---- carriers ----------------------------------------------------------------


def run_carrier_case(table: CarrierTable, case: dict, index: int) -> CaseResult:
    """Choose a carrier for the case's parcel and compare with `expect`."""
    parcel = merged(ORDINARY_PARCEL, case.get("parcel"))
    expect = case.get("expect") or {}
    check = Expectations(index)
    try:
        choice = table.choose(parcel)
    except NoCarrier as exc:
        outcome: dict[str, Any] = {"carrier": None, "no_carrier": True, "reason": str(exc)}
        if not expect.get("no_carrier", False):
            wanted = f"{expect['carrier']!r}" if "carrier" in expect else "a carrier"
            check.fail(("carrier" if "carrier" in expect else "no_carrier",), f"expected {wanted}, got none: {exc}")
        return check.result(index, case_name(case, index), outcome, str(exc))
    outcome = {
        "carrier": choice.carrier.name,
        "service": choice.service,
        "price": choice.price,
        "region": choice.region,
        "row": choice.row,
        "no_carrier": False,
    }
    if expect.get("no_carrier"):
        check.fail(("no_carrier",), f"expected no carrier, got {choice.carrier.name!r} (row {choice.row})")
    for key in ("carrier", "service", "price", "region"):
        if key in expect:
            check.equal(key, expect[key], outcome[key])
    summary = f"{choice.carrier.name} {choice.service} at {choice.price:.2f} (row {choice.row}, region {choice.region})"
    return check.result(index, case_name(case, index), outcome, summary)


def check_carrier_cases(raw: dict) -> Iterator[DefinitionError]:
    """Expected carriers and regions the table does not have."""
    names = [c["name"] for c in raw.get("carriers", [])]
    regions = [*raw.get("regions", {}), "other"]
    for _, path, case in _cases(raw):
        expect = case.get("expect") or {}
        if "carrier" in expect and expect["carrier"] not in names:
            carrier = str(expect["carrier"])
            yield DefinitionError(
                join_path(path, "expect", "carrier"), f"unknown carrier {carrier!r}{suggest(carrier, names)}"
            )
        if "region" in expect and expect["region"] not in regions:
            region = str(expect["region"])
            yield DefinitionError(
                join_path(path, "expect", "region"),
                f"unknown region {region!r}{suggest(region, regions)}; regions are {', '.join(regions)}",
            )


# ---- channels ----------------------------------------------------------------


def run_channel_case(channel: Channel, case: dict, index: int) -> CaseResult:
    """Map the case's native payload and compare with `expect`: the order's values, the error's field, or ignored.

    A case's `event_type` is the delivery's (a header's value); a channel that reads it from a payload field
    reads it from the case's payload. A delivery of a type that carries no new order is ignored.
    """
    expect = case.get("expect") or {}
    check = Expectations(index)
    payload = case.get("payload")
    events = channel.webhook.event_type
    event_type = case.get("event_type")
    if events is not None and events.field is not None:
        event_type = events.of({}, payload)
    typed = events is not None and (event_type is not None or events.field is not None)
    if events is not None and typed and not channel.webhook.takes(event_type):
        outcome: dict[str, Any] = {"ignored": True, "event_type": event_type}
        if not expect.get("ignored", False):
            instead = "an order" if "order" in expect or not expect else "a mapping error"
            check.fail(
                ("ignored",),
                f"expected {instead}, got the delivery ignored: {event_type!r} is not one of "
                f"{', '.join(events.orders)} ({events.where()})",
            )
        return check.result(index, case_name(case, index), outcome, f"ignored: event type {event_type!r}")
    try:
        order = channel.to_order(payload)
    except MappingError as exc:
        outcome = {"error": {"field": exc.field, "message": exc.message}}
        wanted = expect.get("error")
        if wanted is None:
            check.fail(("order",), f"expected an order, got a mapping error at {exc.field!r}: {exc.message}")
        else:
            if wanted["field"] != exc.field:
                check.fail(("error", "field"), f"expected {wanted['field']!r}, got {exc.field!r} ({exc.message})")
            if "message" in wanted and str(wanted["message"]) not in exc.message:
                check.fail(
                    ("error", "message"), f"expected a message containing {wanted['message']!r}, got {exc.message!r}"
                )
        return check.result(index, case_name(case, index), outcome, f"mapping error at {exc.field!r}: {exc.message}")
    outcome = {"order": order}
    if "error" in expect:
        check.fail(("error",), f"expected a mapping error at {expect['error']['field']!r}, got an order")
    if expect.get("ignored"):
        check.fail(("ignored",), f"expected the delivery ignored, got order {order.get('external_id', '')!s}")
    if "order" in expect:
        check.contains(("order",), expect["order"], order)
    return check.result(index, case_name(case, index), outcome, f"order {order.get('external_id', '')!s}".strip())


def check_channel_cases(raw: dict) -> Iterator[DefinitionError]:
    """An event type given to a channel whose webhooks carry none, or one read from the payload instead."""
    events = (raw.get("webhook") or {}).get("event_type")
    for _, path, case in _cases(raw):
        if "event_type" not in case:
            continue
        if events is None:
            yield DefinitionError(
                join_path(path, "event_type"),
                "this channel's webhooks carry no event type: describe where it is in `webhook.event_type`",
            )
        elif "field" in events:
            yield DefinitionError(
                join_path(path, "event_type"),
                f"this channel reads the event type from the payload field {events['field']}: set it in `payload`",
            )


# ---- forms -------------------------------------------------------------------


def run_form_case(form: Form, case: dict, index: int) -> CaseResult:
    """Validate the case's input with the form and compare the errors by field (or validity) with `expect`."""
    document, errors = FormValidator(form).validate(case.get("input"))
    by_field: dict[str, str] = {}
    for error in errors:
        by_field[error.field] = (
            f"{by_field[error.field]}; {error.message}" if error.field in by_field else error.message
        )
    outcome = {"valid": not errors, "errors": by_field, "document": document}
    expect = case.get("expect") or {}
    check = Expectations(index)
    if "valid" in expect:
        check.equal("valid", expect["valid"], outcome["valid"])
    if "errors" in expect:
        wanted: dict[str, str] = expect["errors"]
        unexpected = [f for f in by_field if f not in wanted]
        for field, text in wanted.items():
            if field not in by_field:
                check.fail(("errors", field), f"expected an error containing {text!r}, got none")
            elif str(text) not in by_field[field]:
                check.fail(("errors", field), f"expected an error containing {text!r}, got {by_field[field]!r}")
        if unexpected:
            listed = "; ".join(f"{f or '(the document)'}: {by_field[f]}" for f in unexpected)
            check.fail(("errors",), f"unexpected errors at {', '.join(repr(f) for f in unexpected)} ({listed})")
    if "document" in expect:
        check.contains(("document",), expect["document"], document)
    summary = "valid" if not errors else "; ".join(f"{f or '(the document)'}: {m}" for f, m in by_field.items())
    return check.result(index, case_name(case, index), outcome, summary)


def check_form_cases(raw: dict) -> Iterator[DefinitionError]:
    """A case that expects a valid input and errors at once."""
    for _, path, case in _cases(raw):
        expect = case.get("expect") or {}
        if expect.get("valid") is True and expect.get("errors"):
            yield DefinitionError(join_path(path, "expect", "valid"), "a valid input has no errors: drop one of them")


# ---- templates -------------------------------------------------------------


def _template_context(template: Template, case: dict) -> dict[str, Any]:
    order = example_order(case.get("order"))
    shipments = case.get("shipments")
    shipments = (
        [merged(ORDINARY_SHIPMENT, s) for s in shipments] if shipments is not None else [dict(ORDINARY_SHIPMENT)]
    )
    names = {
        "order": order,
        "shipment": merged(ORDINARY_SHIPMENT, case.get("shipment")),
        "shipments": shipments,
        "sender": merged(ORDINARY_SENDER, case.get("sender")),
        "wave": merged(ORDINARY_WAVE, case.get("wave")),
        "event": merged({"type": template.event or ""}, case.get("event")),
        "printed_at": PRINTED_AT,
    }
    return {name: names[name] for name in VARIABLES[template.use]}


def run_template_case(template: Template, case: dict, index: int) -> CaseResult:
    """Render the template for the case's order and check the text contains (or not) what `expect` says."""
    context = _template_context(template, case)
    expect = case.get("expect") or {}
    check = Expectations(index)
    try:
        if template.use == "notification":
            # As the notify step chooses (services/notifications.py): the customer's language, else the order's;
            # a case may name one.
            order = context["order"]
            language = case.get("language") or (order.get("customer") or {}).get("language") or order.get("language")
            message = template.message(context, language)
            subject, body, language = message.subject, message.body, message.language
        else:
            subject, body, language = "", template.render(context), ""
    except (RenderError, TemplateError) as exc:  # e.g. calling a value that is not there
        check.fail_case(f"the template failed: {exc}" if isinstance(exc, TemplateError) else str(exc))
        return check.result(index, case_name(case, index), {}, str(exc))
    outcome = {"subject": subject, "text": body[:MAX_SHOWN_CHARS], "language": language}
    for key, text, where in (("contains", body, "the text"), ("subject_contains", subject, "the subject")):
        for n, wanted in enumerate(_texts(expect.get(key))):
            if wanted not in text:
                check.fail((key, n), f"{where} does not contain {wanted!r}: {_excerpt(text)}")
    for n, unwanted in enumerate(_texts(expect.get("not_contains"))):
        if unwanted in body or unwanted in subject:
            check.fail(("not_contains", n), f"the text contains {unwanted!r}")
    if "language" in expect:
        check.equal("language", expect["language"], language)
    summary = f"{subject!r}: {_excerpt(body)}" if subject else _excerpt(body)
    return check.result(index, case_name(case, index), outcome, summary)


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _excerpt(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")


def check_template_cases(raw: dict) -> Iterator[DefinitionError]:
    """A language the notification does not have; a subject expected of a print template."""
    languages = list(raw.get("languages") or {})
    for _, path, case in _cases(raw):
        expect = case.get("expect") or {}
        if raw.get("use") != "notification":
            for key in ("language", "subject_contains"):
                where = (key,) if key == "language" and key in case else ("expect", key)
                if key in case or key in expect:
                    yield DefinitionError(
                        join_path(path, *where), f"a {raw.get('use')} template has no {key.split('_')[0]}"
                    )
            continue
        # A case's own `language` may be one the template lacks: the default language is then expected.
        language = expect.get("language")
        if language is not None and language not in languages:
            yield DefinitionError(
                join_path(path, "expect", "language"),
                f"unknown language {language!r}; this template has {', '.join(languages)}",
            )


KIND_CASES: dict[str, KindCases] = {
    "allocation": KindCases(_guarded(run_allocation_case), check_allocation_cases),
    "carriers": KindCases(_guarded(run_carrier_case), check_carrier_cases),
    "channel": KindCases(_guarded(run_channel_case), check_channel_cases),
    "form": KindCases(_guarded(run_form_case), check_form_cases),
    "template": KindCases(_guarded(run_template_case), check_template_cases),
}
