"""Seeded, realistic order traffic in the shape POST /api/orders takes.

Two profiles share one generator. ``ordinary`` (bench.demo_traffic, bench.intake_load):
what honest customers send in one busy hour: served countries only, small amounts
with a realistic tail, repeat customers at their usual address, a realistic
number of IPs; ``fraud_orders`` adds suspicious ones. ``mixed``
(bench.rules_throughput, bench.designer_whatif): what an OMS sees over days: also
unserved countries, incomplete addresses, B2B accounts with credit limits, hot
IPs, expired and unknown coupons. Every figure that shapes the traffic is a
named constant, so that a reader can challenge what "realistic" was taken to mean.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

SEEDED_ACCOUNTS = {"ACME": 20000.0, "GLOBEX": 5000.0}  # B2B accounts of oms.seed: id -> credit limit
CHANNEL_MIX = {"web": 0.55, "marketplace": 0.25, "store": 0.10, "phone": 0.10}  # the shipped channels
STORE_PICKUP_SHARE = 0.6  # store sales the customer takes away; the rest is shipped home
STORE_ANONYMOUS_SHARE = 0.6  # pickups without the customer's name
RETURNING_POOL = {"ordinary": 2000, "mixed": 5000}  # customers known from before the run
# Served by the shipped regions (definitions/regions/delivery.yaml), and not.
SERVED_MIX = {"DE": 0.38, "FR": 0.20, "NL": 0.12, "US": 0.20, "BE": 0.04, "AT": 0.04, "GB": 0.02}
UNSERVED = ("CH", "PL", "ES", "NO", "BR", "IT")


def _table(text: str) -> dict[str, list[list[str]]]:
    """Lines ``KEY: a/b; c/d`` as ``{KEY: [[a, b], [c, d]]}``."""
    lines = (line.split(":", 1) for line in text.strip().splitlines())
    return {key: [item.strip().split("/") for item in items.split(";")] for key, items in lines}


CITIES = {  # city/postal code[/region]
    country: [(*row, None)[:3] for row in rows]
    for country, rows in _table("""
DE: Berlin/10115; Berlin/10243; München/80331; Hamburg/20095; Köln/50667; Frankfurt am Main/60311; Leipzig/04109; \
Stuttgart/70173; Dresden/01067
FR: Paris/75001; Paris/75011; Lyon/69001; Marseille/13001; Toulouse/31000; Lille/59000
NL: Amsterdam/1012 AB; Rotterdam/3011 AA; Utrecht/3511 AA; Den Haag/2511 AA; Eindhoven/5611 AA
US: New York/10001/NY; Newark/07102/NJ; Chicago/60601/IL; Austin/78701/TX; Seattle/98101/WA; Boston/02108/MA
BE: Bruxelles/1000; Antwerpen/2000
AT: Wien/1010; Graz/8010
GB: London/SW1A 1AA; Manchester/M1 1AE
CH: Zürich/8001
PL: Warszawa/00-001
ES: Madrid/28001
NO: Oslo/0150
BR: São Paulo/01000-000/SP
IT: Milano/20121
NG: Lagos/100001
RU: Moskva/101000
UA: Kyiv/01001
""").items()
}
HELIGOLAND = ("Helgoland", "27498", None)  # DE, excluded by the regions definition
NAMES = _table("""
DE: Hauptstraße; Bahnhofstraße; Gartenweg; Schillerstraße; Lindenallee; Goethestraße
AT: Hauptstraße; Ringstraße; Kirchengasse
FR: rue de la Paix; avenue Victor Hugo; rue du Moulin; boulevard Voltaire
BE: rue Royale; Meir; avenue Louise
NL: Kerkstraat; Dorpsstraat; Molenweg; Prinsengracht
US: Main St; Oak Ave; Maple Dr; 2nd St; Park Ave
GB: High Street; Station Road; Church Lane
first: Anna; Lukas; Marie; Paul; Emma; Noah; Léa; Hugo; Sophie; Daan; Julia; Liam; Olivia; James; Mia; Finn; Chloé; \
Lars; Eva; Tom; Sara; Jan; Nina; Max
last: Müller; Schmidt; Schneider; Martin; Bernard; Dubois; de Jong; Jansen; Smith; Johnson; Brown; Fischer; Weber; \
Laurent; Visser; Bakker; Garcia; Wagner; Becker
""")
STREETS = {key: [name for name, *_ in rows] for key, rows in NAMES.items() if key.isupper()}  # per country
FIRST, LAST = ([name for name, *_ in NAMES[key]] for key in ("first", "last"))
NUMBER_FIRST = {"FR", "BE", "US", "GB"}
IPV4_FIRST = [31, 46, 62, 77, 80, 84, 85, 87, 88, 89, 91, 93, 94, 95, 109, 151, 176, 178, 185, 212, 213, 217]
PHONE_PREFIX = {"DE": "+49 ", "FR": "+33 ", "NL": "+31 ", "US": "+1 ", "BE": "+32 ", "AT": "+43 ", "GB": "+44 "}
# Totals: log-normal around a median (consumers of each profile, B2B), with a long tail (sigma).
TOTALS = {"mixed": (80.0, 1.0), "ordinary": (65.0, 0.85), "b2b": (900.0, 1.1)}
BIG_TICKET_SHARE = 0.02  # a laptop, chair or monitor bought on its own
MIXED_ACCOUNTS = 3000  # B2B accounts with a credit limit in the mixed profile
WELCOME10 = ("WELCOME10", 50.0, 0.10)  # (code, minimum spend, discount) as in definitions/promotions/coupons.yaml


@dataclass(frozen=True)
class Item:
    sku: str
    price: float


def store_defaults() -> tuple[dict[str, str], str]:
    """The store's own address and anonymous customer name, as the store channel's mapping fills them in."""
    from ruamel.yaml import YAML

    mapping = YAML(typ="safe", pure=True).load((ROOT / "definitions/channels/store.yaml").read_text("utf-8"))["mapping"]
    address = {k: str(v["default"]) for k, v in mapping["shipping_address"].items() if "default" in v}
    return address, mapping["customer"]["name"].get("default", "Store customer")


@dataclass
class Customer:
    key: str
    name: str
    email: str
    phone: str | None
    country: str
    address: dict[str, str]
    ip: str | None
    type: str = "consumer"
    account: str | None = None  # customer id the shop knows (B2B account, loyalty number)
    tax_id: str | None = None


@dataclass
class Generated:
    payload: dict[str, Any]
    kind: str  # "ordinary" or "fraud"
    pattern: str  # ordinary: channel/segment; fraud: ip_velocity, high_value_new_address, unserved_country


class TrafficGenerator:
    """Orders from a seeded random generator; ``profile`` is ``mixed`` or ``ordinary``.

    ``channel_ips``: what ``client_ip`` carries. ``as-mapped`` (default) follows
    the shipped channel definitions: web and marketplace orders carry the
    buyer's IP, store and phone orders none. ``device`` adds the IP of the till
    (store) and of the call centre's NAT address (phone).
    """

    def __init__(self, seed: int, profile: str = "ordinary", run_tag: str = "", channel_ips: str = "as-mapped") -> None:
        if profile not in ("mixed", "ordinary") or channel_ips not in ("as-mapped", "device"):
            raise ValueError(f"unknown profile {profile!r} or channel_ips {channel_ips!r}")
        from oms.seed import SKUS  # intake refuses unknown SKUs

        self.rng = rng = random.Random(seed)
        self.profile, self.tag, self.channel_ips, self._serial = profile, run_tag, channel_ips, 0
        self.items = [Item(s.sku, float(s.price)) for s in SKUS]
        self.by_sku = {i.sku: i for i in self.items}
        self.store_address, self.store_customer = store_defaults()
        self.store_ips = [self._ipv4() for _ in range(2)]  # the store's two tills
        self.call_centre_ips = [self._ipv4() for _ in range(2)]
        self.cgnat_ips = [self._ipv4() for _ in range(40)]  # mobile networks: many shoppers behind one address
        self.hot_ips = [self._ipv4() for _ in range(2)]  # mixed: bots, resellers, shared proxies
        self.accounts = dict(SEEDED_ACCOUNTS)
        if profile == "mixed":
            # Accounts order a few times a month each, so the open invoices of most stay within their limit.
            limits = [5000, 10000, 20000, 50000]
            self.accounts = {f"B2B{n:04d}": float(rng.choice(limits)) for n in range(MIXED_ACCOUNTS)}
            self.accounts.update(SEEDED_ACCOUNTS)
        self.account_ids = list(self.accounts)
        self.account_people: dict[str, list[Customer]] = {}
        self.returning = [self._new_customer(self._pick(SERVED_MIX)) for _ in range(RETURNING_POOL[profile])]

    def _ipv4(self) -> str:
        rng = self.rng
        first = rng.choice(IPV4_FIRST)
        return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"

    def _home_ip(self) -> str:
        rng = self.rng
        if rng.random() < 0.3:
            return f"2001:db8:{rng.randrange(1 << 16):x}:{rng.randrange(1 << 16):x}::{rng.randrange(1, 1 << 16):x}"
        return self._ipv4()

    def _next_id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}{self.tag}{self._serial:07d}"

    def _pick(self, mix: dict[str, float]) -> str:
        return self.rng.choices(list(mix), weights=list(mix.values()))[0]

    def _address(self, country: str, name: str, heligoland: bool = False, fresh: bool = False) -> dict[str, str]:
        """A street address; ``fresh`` ones (house numbers from 300) never match an ordinary customer's."""
        rng = self.rng
        city, postal, region = HELIGOLAND if heligoland else rng.choice(CITIES[country])
        street_name = rng.choice(STREETS.get(country, ["Main Street"]))
        number = rng.randrange(300, 1000) if fresh else rng.randrange(1, 250)
        street = f"{number} {street_name}" if country in NUMBER_FIRST else f"{street_name} {number}"
        address = {"name": name, "street": street, "city": city, "postal_code": postal, "country": country}
        return {**address, "region": region} if region else address

    def _phone(self, country: str) -> str:
        rng = self.rng
        return PHONE_PREFIX.get(country, "+41 ") + f"{rng.randrange(100, 999)} {rng.randrange(1000000, 9999999)}"

    def _new_customer(self, country: str, heligoland: bool = False, fresh: bool = False) -> Customer:
        rng = self.rng
        first, last = rng.choice(FIRST), rng.choice(LAST)
        key = self._next_id("C")
        email = f"{first}.{last}.{key[-5:]}@example.com".lower().replace(" ", "").replace("ü", "ue").replace("é", "e")
        ip = rng.choice(self.cgnat_ips) if rng.random() < 0.15 else self._home_ip()
        phone = self._phone(country) if rng.random() < 0.6 else None
        address = self._address(country, f"{first} {last}", heligoland, fresh)
        account = key if rng.random() < 0.5 else None  # logged-in shoppers have a customer number
        return Customer(key, f"{first} {last}", email, phone, country, address, ip, account=account)

    def _account_person(self, account: str) -> Customer:
        """A buyer of a B2B account: each account has a few buyers and sites, on one office network."""
        rng = self.rng
        people = self.account_people.setdefault(account, [])
        if len(people) < 3 and (not people or rng.random() < 0.3):
            country = "DE" if account in SEEDED_ACCOUNTS or rng.random() < 0.6 else self._pick(SERVED_MIX)
            person = self._new_customer(country)
            person.type, person.account, person.tax_id = "b2b", account, f"{country}{rng.randrange(10**8, 10**9)}"
            person.phone = self._phone(country)
            person.address["name"] = f"{account} site {len(people) + 1}, attn. {person.name}"
            person.ip = people[0].ip if people else self._ipv4()
            people.append(person)
            return person
        return rng.choice(people)

    def _lines(self, target: float, b2b: bool) -> list[dict[str, Any]]:
        """Catalog lines whose total comes close to ``target``."""
        rng, lines, remaining = self.rng, [], target
        max_lines, max_qty = (6, 40) if b2b else (4, 3)
        cheapest = min(i.price for i in self.items)
        while len(lines) < max_lines and remaining >= cheapest * 0.7:
            used = {line["sku"] for line in lines}
            fits = [i for i in self.items if i.price <= remaining * 1.15 and i.sku not in used]
            if not fits:
                break
            item = rng.choices(fits, weights=[math.sqrt(i.price) for i in fits])[0]
            qty = max(1, min(max_qty, int(remaining // item.price) or 1, rng.randint(1, max_qty)))
            lines.append({"sku": item.sku, "qty": qty, "price": item.price})
            remaining -= qty * item.price
        if not lines:
            item = min(self.items, key=lambda i: i.price)
            lines.append({"sku": item.sku, "qty": 1, "price": item.price})
        return lines

    @staticmethod
    def total(lines: list[dict[str, Any]]) -> float:
        return round(sum(float(line["qty"]) * float(line["price"]) for line in lines), 2)

    def order(self) -> Generated:
        """The next order of this profile."""
        rng, mixed = self.rng, self.profile == "mixed"
        channel = self._pick(CHANNEL_MIX)
        segment = channel
        if rng.random() < (0.08 if mixed else 0.03) and channel in ("web", "phone"):
            # A buyer of a B2B account; on web some business customers have no account and pay by card.
            if rng.random() < (0.15 if mixed else 0.35):
                customer = self._new_customer(self._pick(SERVED_MIX))
                customer.type, customer.account = "b2b", None
                customer.tax_id = f"{customer.country}{rng.randrange(10**8, 10**9)}"
                segment = "b2b-no-account"
            else:
                account = rng.choice(self.account_ids) if mixed else rng.choices([*SEEDED_ACCOUNTS], weights=[2, 1])[0]
                customer, segment = self._account_person(account), "b2b-account"
        elif rng.random() < (0.2 if mixed else 0.25):
            customer, segment = rng.choice(self.returning), f"{channel}-returning"  # same address, same home IP
        else:
            if channel == "store":
                country = "DE" if rng.random() < 0.9 else self._pick(SERVED_MIX)
            elif mixed and rng.random() < 0.03:
                country = rng.choice(UNSERVED)
            else:
                country = self._pick(SERVED_MIX)
            customer = self._new_customer(country, heligoland=mixed and country == "DE" and rng.random() < 0.003)
        b2b = customer.type == "b2b"
        pickup = channel == "store" and rng.random() < STORE_PICKUP_SHARE
        if channel == "store":
            segment = "store-pickup" if pickup else "store-ship"
        if not b2b and rng.random() < BIG_TICKET_SHARE:
            item = self.by_sku[rng.choice(["LAPTOP-14", "CHAIR-OFFICE", "MONITOR-27", "HEADPHONES-NC"])]
            lines = [{"sku": item.sku, "qty": 2 if rng.random() < 0.3 else 1, "price": item.price}]
        else:
            median, sigma = TOTALS["b2b" if b2b else self.profile]
            lines = self._lines(rng.lognormvariate(math.log(median), sigma), b2b)
        if channel == "marketplace":  # marketplace price lists differ a little from the shop's
            for line in lines:
                line["price"] = round(line["price"] * rng.choice([0.95, 0.97, 1.0, 1.0, 1.03]), 2)
        payment = self._payment(channel, b2b, customer)
        external_id, who = self._next_id(f"{channel[:3].upper()}-"), self._customer_block(customer, channel)
        payload: dict[str, Any] = {"channel": channel, "external_id": external_id, "customer": who}
        payload |= {"shipping_address": dict(customer.address), "lines": lines, "payment": payment}
        if pickup:  # as the store channel's mapping does: the store's address, no name for walk-in customers
            payload.update(delivery_method="pickup", shipping_address=dict(self.store_address))
            if rng.random() < STORE_ANONYMOUS_SHARE:
                payload["customer"] = {"name": self.store_customer}
        elif channel == "store":
            payload["delivery_method"] = "ship"
        ip = self._client_ip(channel, customer)
        if mixed and rng.random() < 0.01:
            ip = rng.choice(self.hot_ips)
        if ip:
            payload["client_ip"] = ip
        if coupon := self._coupon(channel, lines):
            payload["coupon"] = coupon
        if mixed and rng.random() < 0.01:
            part = rng.choice(["street", "postal_code", "city"])
            payload["shipping_address"] = {k: v for k, v in payload["shipping_address"].items() if k != part}
        return Generated(payload, "ordinary", segment)

    def _customer_block(self, customer: Customer, channel: str) -> dict[str, Any]:
        block: dict[str, Any] = {"name": customer.name}
        if channel != "marketplace" or self.rng.random() < 0.3:  # marketplaces often mask the e-mail
            block["email"] = customer.email
        if customer.phone and (channel in ("phone", "store") or self.rng.random() < 0.8):
            block["phone"] = customer.phone
        if customer.type == "b2b":
            block["type"] = "b2b"
            if customer.tax_id:
                block["tax_id"] = customer.tax_id
        if customer.account and channel != "marketplace":
            block["id"] = customer.account
        return block

    def _payment(self, channel: str, b2b: bool, customer: Customer) -> dict[str, str]:
        rng = self.rng
        if b2b and customer.account:
            return {"method": "invoice", "status": "pending"}
        if channel == "marketplace":
            return {"method": "card", "status": "paid"}  # the marketplace collected it
        if channel == "store":
            return {"method": rng.choice(["card", "card", "cash"]), "status": "paid"}
        if channel == "phone":
            return rng.choice([{"method": "invoice", "status": "pending"}, {"method": "card", "status": "paid"}])
        if rng.random() < 0.05:
            return {"method": "bank_transfer", "status": "pending"}
        return {"method": rng.choice(["card", "card", "paypal"]), "status": "paid"}

    def _client_ip(self, channel: str, customer: Customer) -> str | None:
        if channel == "web":
            return customer.ip
        if channel == "marketplace":  # the buyer's, when the marketplace passes it on
            return customer.ip if self.rng.random() < 0.7 else None
        if self.channel_ips == "as-mapped":
            return None
        return self.rng.choice(self.store_ips if channel == "store" else self.call_centre_ips)

    def _coupon(self, channel: str, lines: list[dict[str, Any]]) -> str | None:
        """Coupons come through the web shop; mixed traffic also has expired and unknown ones."""
        if channel != "web":
            return None
        roll = self.rng.random()
        if self.profile == "mixed" and roll < 0.06:
            return "SUMMER25" if roll < 0.03 else self.rng.choice(["FREESHIP", "BLACKFRIDAY", "WELCOME5", "SAVE20"])
        code, min_spend, discount = WELCOME10
        if roll >= 0.14 or self.total(lines) < min_spend:  # the shop refuses it below the minimum spend
            return None
        for line in lines:  # the shop sends what the customer pays: unit prices after the discount
            line["price"] = round(line["price"] * (1 - discount), 2)
        return code if self.rng.random() < 0.8 else code.lower()

    def fraud_orders(self, count: int) -> list[Generated]:
        """``count`` suspicious orders, the patterns in turn; IP velocity comes in bursts of 6 from one address."""
        rng, out = self.rng, []
        per = [count // 3 + (1 if i < count % 3 else 0) for i in range(3)]
        while per[0] > 0:
            ip = self._ipv4()
            for _ in range(min(6, per[0])):
                victim = self._new_customer(self._pick(SERVED_MIX), fresh=True)
                lines = [{"sku": "HEADPHONES-NC", "qty": rng.randint(1, 3), "price": 249.0}]
                out.append(self._fraud(victim, lines, ip, "ip_velocity"))
            per[0] -= 6
        for _ in range(per[1]):
            victim = self._new_customer(self._pick(SERVED_MIX), fresh=True)
            lines = [{"sku": "LAPTOP-14", "qty": rng.randint(4, 7), "price": 1299.0}]
            out.append(self._fraud(victim, lines, self._home_ip(), "high_value_new_address"))
        for _ in range(per[2]):
            victim = self._new_customer(rng.choice(["NG", "RU", "UA", "BR"]), fresh=True)
            sku = rng.choice(["LAPTOP-14", "HEADPHONES-NC", "MONITOR-27"])
            lines = [{"sku": sku, "qty": rng.randint(1, 2), "price": self.by_sku[sku].price}]
            out.append(self._fraud(victim, lines, self._home_ip(), "unserved_country"))
        return out

    def _fraud(self, customer: Customer, lines: list[dict[str, Any]], ip: str, pattern: str) -> Generated:
        who = {"name": customer.name, "email": customer.email}
        payload = {"channel": "web", "external_id": self._next_id("WEB-"), "customer": who}
        payload |= {"shipping_address": dict(customer.address), "lines": lines}
        return Generated(payload | {"payment": {"method": "card", "status": "paid"}, "client_ip": ip}, "fraud", pattern)


ORDERS_PER_HOUR = 400  # the stream the facts see: one-hour velocity windows, first-time addresses, open invoices
SERIAL_RETURNERS = 0.03  # customers who send back most of what they buy (70 %; the others 8 %)


def audit_contexts(session: Any, count: int, seed: int, profile: str = "mixed") -> Iterator[tuple[Any, dict]]:
    """``count`` generated orders stored through intake as a stream of ORDERS_PER_HOUR, each with its audit context.

    The context is what the audit activity evaluates, ``{"order": order.document,
    "facts": services.orders.facts.order_facts(session, order)}``, once the orders
    before it are stored. Orders intake refuses never reach the audit: skipped.
    ``session`` needs the shipped definitions and demo data; the generator's B2B
    accounts are added with their credit limits.
    """
    from datetime import UTC, datetime, timedelta

    from sqlmodel import select

    from oms.models import Customer
    from services.orders.facts import order_facts
    from services.orders.intake import IntakeRejected, prepare

    generator = TrafficGenerator(seed, profile)
    rng = random.Random(seed ^ 0x5EED)
    known = set(session.exec(select(Customer.id)).all())
    accounts = [Customer(id=a, name=a, type="b2b", credit_limit=limit) for a, limit in generator.accounts.items()]
    session.add_all([customer for customer in accounts if customer.id not in known])
    returners: dict[str, float] = {}
    now = datetime(2026, 11, 10, tzinfo=UTC)
    for _ in range(count):
        try:
            order = prepare(session, generator.order().payload, None).order
        except IntakeRejected:
            continue
        now += timedelta(seconds=rng.expovariate(ORDERS_PER_HOUR / 3600))
        order.created_at = order.updated_at = now
        session.add(order)
        session.flush()
        yield order, {"order": order.document, "facts": order_facts(session, order)}
        if order.customer_id:  # some customers return most orders: the serial_returner rule's facts
            share = returners.setdefault(order.customer_id, 0.7 if rng.random() < SERIAL_RETURNERS else 0.08)
            if rng.random() < share:
                order.status = "returned"
