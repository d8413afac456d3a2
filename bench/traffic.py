"""Seeded, realistic order traffic for the benchmarks, in the shape POST /api/orders takes.

Two profiles share one generator:

- ``mixed`` (bench/rules_throughput.py): everything an OMS sees over days: a
  realistic channel and country mix, a few unserved countries and incomplete
  addresses, log-normal totals with a long tail, B2B accounts with credit
  limits, a few hot IPs, coupons that are valid, expired or unknown.
- ``ordinary`` (bench/demo_traffic.py): what honest customers send in one busy
  hour: served countries only, complete addresses, small amounts with a
  realistic tail, repeat customers at their usual address, a realistic number
  of IPs. ``fraud_orders`` adds suspicious orders on top.

Every figure that shapes the traffic is a named constant below, so a reader
can see (and a reviewer can challenge) what "realistic" was taken to mean.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Item:
    sku: str
    price: float


def store_defaults() -> tuple[dict[str, str], str]:
    """The store's own address and anonymous customer name, as the store channel's mapping fills them in."""
    address = {"street": "Rosenthaler Str. 1", "city": "Berlin", "postal_code": "10119", "country": "DE"}
    name = "Store customer"
    try:
        from ruamel.yaml import YAML

        raw = YAML(typ="safe", pure=True).load((ROOT / "definitions" / "channels" / "store.yaml").read_text("utf-8"))
        mapping = raw["mapping"]
        address = {k: str(v["default"]) for k, v in mapping["shipping_address"].items() if "default" in v} or address
        name = mapping["customer"]["name"].get("default", name)
    except (OSError, KeyError, TypeError, AttributeError):
        pass
    return address, name


def catalog() -> list[Item]:
    """The SKUs `oms.seed` creates (intake refuses unknown SKUs)."""
    from oms.seed import SKUS

    return [Item(s.sku, float(s.price)) for s in SKUS]


# Seeded B2B accounts (oms.seed.CUSTOMERS): id -> credit limit.
SEEDED_ACCOUNTS = {"ACME": 20000.0, "GLOBEX": 5000.0}

# The shipped channels (definitions/channels/): `store` is the POS of one store.
CHANNEL_MIX = {"web": 0.55, "marketplace": 0.25, "store": 0.10, "phone": 0.10}
STORE_PICKUP_SHARE = 0.6      # store sales the customer takes away; the rest is shipped home
STORE_ANONYMOUS_SHARE = 0.6   # pickups without the customer's name
RETURNING_POOL = {"ordinary": 2000, "mixed": 5000}  # customers known from before the run
# Served by the shipped regions (definitions/regions/delivery.yaml) ...
SERVED_MIX = {"DE": 0.38, "FR": 0.20, "NL": 0.12, "US": 0.20, "BE": 0.04, "AT": 0.04, "GB": 0.02}
# ... and not.
UNSERVED = ("CH", "PL", "ES", "NO", "BR", "IT")

CITIES: dict[str, list[tuple[str, str, str | None]]] = {  # (city, postal code, region)
    "DE": [("Berlin", "10115", None), ("Berlin", "10243", None), ("München", "80331", None),
           ("Hamburg", "20095", None), ("Köln", "50667", None), ("Frankfurt am Main", "60311", None),
           ("Leipzig", "04109", None), ("Stuttgart", "70173", None), ("Dresden", "01067", None)],
    "FR": [("Paris", "75001", None), ("Paris", "75011", None), ("Lyon", "69001", None),
           ("Marseille", "13001", None), ("Toulouse", "31000", None), ("Lille", "59000", None)],
    "NL": [("Amsterdam", "1012 AB", None), ("Rotterdam", "3011 AA", None), ("Utrecht", "3511 AA", None),
           ("Den Haag", "2511 AA", None), ("Eindhoven", "5611 AA", None)],
    "US": [("New York", "10001", "NY"), ("Newark", "07102", "NJ"), ("Chicago", "60601", "IL"),
           ("Austin", "78701", "TX"), ("Seattle", "98101", "WA"), ("Boston", "02108", "MA")],
    "BE": [("Bruxelles", "1000", None), ("Antwerpen", "2000", None)],
    "AT": [("Wien", "1010", None), ("Graz", "8010", None)],
    "GB": [("London", "SW1A 1AA", None), ("Manchester", "M1 1AE", None)],
    "CH": [("Zürich", "8001", None)], "PL": [("Warszawa", "00-001", None)], "ES": [("Madrid", "28001", None)],
    "NO": [("Oslo", "0150", None)], "BR": [("São Paulo", "01000-000", "SP")], "IT": [("Milano", "20121", None)],
    "NG": [("Lagos", "100001", None)], "RU": [("Moskva", "101000", None)], "UA": [("Kyiv", "01001", None)],
}
HELIGOLAND = ("Helgoland", "27498", None)  # DE, excluded by the regions definition
STREETS = {
    "DE": ["Hauptstraße", "Bahnhofstraße", "Gartenweg", "Schillerstraße", "Lindenallee", "Goethestraße"],
    "AT": ["Hauptstraße", "Ringstraße", "Kirchengasse"],
    "FR": ["rue de la Paix", "avenue Victor Hugo", "rue du Moulin", "boulevard Voltaire"],
    "BE": ["rue Royale", "Meir", "avenue Louise"],
    "NL": ["Kerkstraat", "Dorpsstraat", "Molenweg", "Prinsengracht"],
    "US": ["Main St", "Oak Ave", "Maple Dr", "2nd St", "Park Ave"],
    "GB": ["High Street", "Station Road", "Church Lane"],
}
NUMBER_FIRST = {"FR", "BE", "US", "GB"}
FIRST = ["Anna", "Lukas", "Marie", "Paul", "Emma", "Noah", "Léa", "Hugo", "Sophie", "Daan", "Julia", "Liam",
         "Olivia", "James", "Mia", "Finn", "Chloé", "Lars", "Eva", "Tom", "Sara", "Jan", "Nina", "Max"]
LAST = ["Müller", "Schmidt", "Schneider", "Martin", "Bernard", "Dubois", "de Jong", "Jansen", "Smith",
        "Johnson", "Brown", "Fischer", "Weber", "Laurent", "Visser", "Bakker", "Garcia", "Wagner", "Becker"]
PHONE_PREFIX = {"DE": "+49 ", "FR": "+33 ", "NL": "+31 ", "US": "+1 ", "BE": "+32 ", "AT": "+43 ", "GB": "+44 "}

# Totals: log-normal around a median, with a long tail (sigma).
CONSUMER_MEDIAN, CONSUMER_SIGMA = 80.0, 1.0
ORDINARY_MEDIAN, ORDINARY_SIGMA = 65.0, 0.85
B2B_MEDIAN, B2B_SIGMA = 900.0, 1.1
BIG_TICKET_SHARE = 0.02  # a laptop, chair or monitor bought on its own

MIXED_ACCOUNTS = 3000  # B2B accounts with a credit limit in the mixed profile
WELCOME10 = ("WELCOME10", 50.0, 0.10)  # (code, minimum spend, discount) as in definitions/promotions/coupons.yaml


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
    kind: str           # "ordinary" or "fraud"
    pattern: str        # ordinary: channel/segment; fraud: ip_velocity, high_value_new_address, unserved_country
    customer_key: str
    notes: dict[str, Any] = field(default_factory=dict)


class TrafficGenerator:
    """Orders from a seeded random generator; ``profile`` is ``mixed`` or ``ordinary``.

    ``channel_ips``: what ``client_ip`` carries. ``as-mapped`` (default) follows
    the shipped channel definitions: web orders and marketplace orders carry the
    buyer's IP (the marketplace mapping reads ``buyer.ipAddress``), store orders
    none (the store mapping has no client_ip), phone orders none. ``device``
    adds the IP of the device that placed the order for store (the till) and
    phone (the call centre's NAT address).
    """

    def __init__(self, seed: int, profile: str = "ordinary", run_tag: str = "", channel_ips: str = "as-mapped") -> None:
        if profile not in ("mixed", "ordinary"):
            raise ValueError(f"unknown profile {profile!r}")
        if channel_ips not in ("as-mapped", "device"):
            raise ValueError(f"unknown channel_ips {channel_ips!r}")
        self.rng = random.Random(seed)
        self.profile = profile
        self.tag = run_tag
        self.channel_ips = channel_ips
        self.items = catalog()
        self.by_sku = {i.sku: i for i in self.items}
        self.returning: list[Customer] = []
        self._serial = 0
        rng = self.rng
        self.store_address, self.store_customer = store_defaults()
        # The store's two tills and the call centre's two NAT addresses.
        self.store_ips = [self._ipv4() for _ in range(2)]
        self.call_centre_ips = [self._ipv4() for _ in range(2)]
        # Mobile networks put many shoppers behind one address (carrier-grade NAT).
        self.cgnat_ips = [self._ipv4() for _ in range(40)]
        # mixed only: a few addresses that place many orders (bots, resellers, shared proxies)
        self.hot_ips = [self._ipv4() for _ in range(2)]
        if profile == "mixed":
            # B2B accounts order a few times a month each, so the open invoices of most stay within their limit.
            self.accounts = {f"B2B{n:04d}": float(rng.choice([5000, 10000, 20000, 50000])) for n in range(MIXED_ACCOUNTS)}
            self.accounts.update(SEEDED_ACCOUNTS)
        else:
            self.accounts = dict(SEEDED_ACCOUNTS)
        self.account_ids = list(self.accounts)
        self.account_people: dict[str, list[Customer]] = {}
        self.returning = [self._new_customer(self._pick(rng, SERVED_MIX)) for _ in range(RETURNING_POOL[profile])]

    # ---- small pieces ----------------------------------------------------------

    def _ipv4(self) -> str:
        rng = self.rng
        first = rng.choice([31, 46, 62, 77, 80, 84, 85, 87, 88, 89, 91, 93, 94, 95, 109, 151, 176, 178, 185, 212, 213, 217])
        return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"

    def _home_ip(self) -> str:
        rng = self.rng
        if rng.random() < 0.3:
            return f"2001:db8:{rng.randrange(1 << 16):x}:{rng.randrange(1 << 16):x}::{rng.randrange(1, 1 << 16):x}"
        return self._ipv4()

    def _next_id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}{self.tag}{self._serial:07d}"

    @staticmethod
    def _pick(rng: random.Random, mix: dict[str, float]) -> str:
        return rng.choices(list(mix), weights=list(mix.values()))[0]

    def _address(self, country: str, name: str, heligoland: bool = False, fresh: bool = False) -> dict[str, str]:
        """A street address; ``fresh`` ones (house numbers from 300) never match an ordinary customer's."""
        rng = self.rng
        city, postal, region = HELIGOLAND if heligoland else rng.choice(CITIES[country])
        street_name = rng.choice(STREETS.get(country, ["Main Street"]))
        number = rng.randrange(300, 1000) if fresh else rng.randrange(1, 250)
        street = f"{number} {street_name}" if country in NUMBER_FIRST else f"{street_name} {number}"
        address = {"name": name, "street": street, "city": city, "postal_code": postal, "country": country}
        if region:
            address["region"] = region
        return address

    def _phone(self, country: str) -> str:
        rng = self.rng
        return PHONE_PREFIX.get(country, "+41 ") + f"{rng.randrange(100, 999)} {rng.randrange(1000000, 9999999)}"

    def _new_customer(self, country: str, heligoland: bool = False, fresh: bool = False) -> Customer:
        rng = self.rng
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        key = self._next_id("C")
        email = f"{first}.{last}.{key[-5:]}@example.com".lower().replace(" ", "").replace("ü", "ue").replace("é", "e")
        ip = rng.choice(self.cgnat_ips) if rng.random() < 0.15 else self._home_ip()
        return Customer(
            key=key, name=name, email=email, phone=self._phone(country) if rng.random() < 0.6 else None,
            country=country, address=self._address(country, name, heligoland, fresh), ip=ip,
            account=key if rng.random() < 0.5 else None,  # logged-in shoppers have a customer number
        )

    def _account_person(self, account: str) -> Customer:
        """A buyer of a B2B account: each account has a few buyers and sites."""
        rng = self.rng
        people = self.account_people.setdefault(account, [])
        if len(people) < 3 and (not people or rng.random() < 0.3):
            country = "DE" if account in SEEDED_ACCOUNTS or rng.random() < 0.6 else self._pick(rng, SERVED_MIX)
            person = self._new_customer(country)
            person.type, person.account, person.tax_id = "b2b", account, f"{country}{rng.randrange(10**8, 10**9)}"
            person.phone = self._phone(country)
            person.address["name"] = f"{account} site {len(people) + 1}, attn. {person.name}"
            person.ip = people[0].ip if people else self._ipv4()  # one office network
            people.append(person)
            return person
        return rng.choice(people)

    def _target_total(self, b2b: bool) -> float:
        rng = self.rng
        if b2b:
            return rng.lognormvariate(math.log(B2B_MEDIAN), B2B_SIGMA)
        if self.profile == "mixed":
            return rng.lognormvariate(math.log(CONSUMER_MEDIAN), CONSUMER_SIGMA)
        return rng.lognormvariate(math.log(ORDINARY_MEDIAN), ORDINARY_SIGMA)

    def _lines(self, target: float, b2b: bool) -> list[dict[str, Any]]:
        """Catalog lines whose total comes close to ``target``."""
        rng = self.rng
        lines: list[dict[str, Any]] = []
        remaining = target
        max_lines = 6 if b2b else 4
        max_qty = 40 if b2b else 3
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

    def _big_ticket(self) -> list[dict[str, Any]]:
        item = self.by_sku[self.rng.choice(["LAPTOP-14", "CHAIR-OFFICE", "MONITOR-27", "HEADPHONES-NC"])]
        return [{"sku": item.sku, "qty": 1, "price": item.price}]

    @staticmethod
    def total(lines: list[dict[str, Any]]) -> float:
        return round(sum(float(l["qty"]) * float(l["price"]) for l in lines), 2)

    # ---- one order ---------------------------------------------------------------

    def order(self) -> Generated:
        """The next order of this profile."""
        rng = self.rng
        mixed = self.profile == "mixed"
        channel = self._pick(rng, CHANNEL_MIX)
        notes: dict[str, Any] = {}
        b2b_share = 0.08 if mixed else 0.03
        segment = channel
        if rng.random() < b2b_share and channel in ("web", "phone"):
            # A buyer of a B2B account; on web some business customers have no account and pay by card.
            if rng.random() < (0.15 if mixed else 0.35):
                customer = self._new_customer(self._pick(rng, SERVED_MIX))
                customer.type, customer.account = "b2b", None
                customer.tax_id = f"{customer.country}{rng.randrange(10**8, 10**9)}"
                segment = "b2b-no-account"
            else:
                account = rng.choice(self.account_ids) if mixed else rng.choices(
                    list(SEEDED_ACCOUNTS), weights=[2, 1])[0]
                customer = self._account_person(account)
                segment = "b2b-account"
                notes["credit_limit"] = self.accounts[account]
        elif rng.random() < (0.2 if mixed else 0.25):
            customer = rng.choice(self.returning)  # same person, same address, same home IP
            segment = f"{channel}-returning"
        else:
            if channel == "store":
                country = "DE" if rng.random() < 0.9 else self._pick(rng, SERVED_MIX)
            elif mixed and rng.random() < 0.03:
                country = rng.choice(UNSERVED)
            else:
                country = self._pick(rng, SERVED_MIX)
            customer = self._new_customer(country, heligoland=mixed and country == "DE" and rng.random() < 0.003)
        b2b = customer.type == "b2b"
        pickup = channel == "store" and rng.random() < STORE_PICKUP_SHARE
        if channel == "store":
            segment = "store-pickup" if pickup else "store-ship"

        if not b2b and rng.random() < BIG_TICKET_SHARE:
            lines = self._big_ticket()
            if rng.random() < 0.3:
                lines[0]["qty"] = 2
        else:
            lines = self._lines(self._target_total(b2b), b2b)
        if channel == "marketplace":  # marketplace price lists differ a little from the shop's
            for line in lines:
                line["price"] = round(line["price"] * rng.choice([0.95, 0.97, 1.0, 1.0, 1.03]), 2)

        payment = self._payment(channel, b2b, customer)
        payload: dict[str, Any] = {
            "channel": channel,
            "external_id": self._next_id(f"{channel[:3].upper()}-"),
            "customer": self._customer_block(customer, channel),
            "shipping_address": dict(customer.address),
            "lines": lines,
            "payment": payment,
        }
        if pickup:
            # As the store channel's mapping does: the store's address, and no name for walk-in customers.
            payload["delivery_method"] = "pickup"
            payload["shipping_address"] = dict(self.store_address)
            if rng.random() < STORE_ANONYMOUS_SHARE:
                payload["customer"] = {"name": self.store_customer}
        elif channel == "store":
            payload["delivery_method"] = "ship"
        ip = self._client_ip(channel, customer)
        if mixed and rng.random() < 0.01:
            ip = rng.choice(self.hot_ips)
            notes["hot_ip"] = True
        if ip:
            payload["client_ip"] = ip
        coupon = self._coupon(channel, lines)
        if coupon:
            payload["coupon"] = coupon
            notes["coupon"] = coupon
        if mixed and rng.random() < 0.01:
            part = rng.choice(["street", "postal_code", "city"])
            payload["shipping_address"] = {k: v for k, v in payload["shipping_address"].items() if k != part}
            notes["missing"] = part
        return Generated(payload, "ordinary", segment, customer.key, notes)

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
        rng = self.rng
        if channel == "web":
            return customer.ip
        if channel == "marketplace":  # the buyer's, when the marketplace passes it on
            return customer.ip if rng.random() < 0.7 else None
        if self.channel_ips == "as-mapped":
            return None
        if channel == "store":
            return rng.choice(self.store_ips)
        return rng.choice(self.call_centre_ips)  # phone

    def _coupon(self, channel: str, lines: list[dict[str, Any]]) -> str | None:
        """Coupons come through the web shop; mixed traffic also has expired and unknown ones."""
        rng = self.rng
        if channel != "web":
            return None
        roll = rng.random()
        if self.profile == "mixed":
            if roll < 0.03:
                return "SUMMER25"  # expired at the end of August
            if roll < 0.06:
                return rng.choice(["FREESHIP", "BLACKFRIDAY", "WELCOME5", "SAVE20"])
        if roll < 0.14:
            code, min_spend, discount = WELCOME10
            if self.total(lines) < min_spend:
                return None  # the shop does not accept it below the minimum spend
            # The shop sends what the customer pays: unit prices after the discount.
            for line in lines:
                line["price"] = round(line["price"] * (1 - discount), 2)
            return code if rng.random() < 0.8 else code.lower()
        return None

    # ---- suspicious orders ---------------------------------------------------------

    FRAUD_PATTERNS = ("ip_velocity", "high_value_new_address", "unserved_country")

    def fraud_orders(self, count: int) -> list[Generated]:
        """``count`` suspicious orders, the patterns in turn; velocity comes in bursts from one IP."""
        rng = self.rng
        out: list[Generated] = []
        per = {p: count // 3 + (1 if i < count % 3 else 0) for i, p in enumerate(self.FRAUD_PATTERNS)}
        # Bursts of 6 orders from one address, different names, cards and delivery addresses.
        remaining = per["ip_velocity"]
        while remaining > 0:
            burst = min(6, remaining)
            ip = self._ipv4()
            for _ in range(burst):
                victim = self._new_customer(self._pick(rng, SERVED_MIX), fresh=True)
                lines = [{"sku": "HEADPHONES-NC", "qty": rng.randint(1, 3), "price": 249.0}]
                out.append(self._fraud(victim, lines, ip, "ip_velocity"))
            remaining -= burst
        for _ in range(per["high_value_new_address"]):
            victim = self._new_customer(self._pick(rng, SERVED_MIX), fresh=True)
            lines = [{"sku": "LAPTOP-14", "qty": rng.randint(4, 7), "price": 1299.0}]
            out.append(self._fraud(victim, lines, self._home_ip(), "high_value_new_address"))
        for _ in range(per["unserved_country"]):
            victim = self._new_customer(rng.choice(["NG", "RU", "UA", "BR"]), fresh=True)
            lines = [{"sku": rng.choice(["LAPTOP-14", "HEADPHONES-NC", "MONITOR-27"]), "qty": rng.randint(1, 2),
                      "price": 0.0}]
            lines[0]["price"] = self.by_sku[lines[0]["sku"]].price
            out.append(self._fraud(victim, lines, self._home_ip(), "unserved_country"))
        return out

    def _fraud(self, customer: Customer, lines: list[dict[str, Any]], ip: str, pattern: str) -> Generated:
        payload = {
            "channel": "web",
            "external_id": self._next_id("WEB-"),
            "customer": {"name": customer.name, "email": customer.email},
            "shipping_address": dict(customer.address),
            "lines": lines,
            "payment": {"method": "card", "status": "paid"},
            "client_ip": ip,
        }
        return Generated(payload, "fraud", pattern, customer.key)
