"""Payment providers: who captures, refunds and voids an order's payment, by its method.

```yaml
kind: payments
name: default
default: simulated               # the provider of a method not in `methods`
methods: {card: stripe}          # the order's payment.method -> provider
providers:
  - {name: simulated, adapter: simulated}
  - name: stripe
    adapter: {type: http, base_url: https://api.stripe.com, refund: {...}, void: {...}}
```

A provider's ``adapter`` is ``simulated`` (built in: references such as
``REFUND-<order id>``) or an ``http`` section (engine/http_adapters.py).
Intake pins the ``payments`` definition with the order, so an order is refunded
by the providers that were live when it arrived.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from engine.errors import DefinitionError, join_path
from engine.expressions import suggest
from engine.http_adapters import PAYMENT_SPECS, HttpAdapter, check_adapter, parse_adapter

# Adapters built into the platform, by name (services/orders/payments.py); any other is an `http` section.
ADAPTERS = ("simulated",)
DEFAULT_PAYMENTS = "default"


@dataclass(frozen=True)
class Provider:
    name: str
    adapter: str  # simulated, or http (then `http` says how its API is called)
    title: str
    http: HttpAdapter | None = None


@dataclass(frozen=True)
class Payments:
    name: str
    default: str
    methods: Mapping[str, str]
    providers: Mapping[str, Provider]

    def provider_for(self, method: str | None) -> Provider:
        """The provider of a payment made with ``method`` (the default one for a method not listed)."""
        return self.providers[self.methods.get(method or "", self.default)]


def _provider(raw: dict, index: int) -> Provider:
    adapter, http = parse_adapter(raw["adapter"], join_path("$.providers", index, "adapter"), PAYMENT_SPECS)
    return Provider(raw["name"], adapter, raw.get("title", raw["name"]), http)


def parse_payments(raw: dict) -> Payments:
    """Build the typed payment providers from a definition that passed validation."""
    return Payments(
        name=raw["name"],
        default=raw["default"],
        methods={str(k): str(v) for k, v in (raw.get("methods") or {}).items()},
        providers={p["name"]: _provider(p, index) for index, p in enumerate(raw["providers"])},
    )


def check_payments(raw: dict) -> Iterator[DefinitionError]:
    """Semantic checks: provider names unique and known where named, adapters complete."""
    names: list[str] = []
    for index, provider in enumerate(raw["providers"]):
        path = join_path("$.providers", index)
        if provider["name"] in names:
            yield DefinitionError(join_path(path, "name"), f"duplicate provider {provider['name']!r}")
        names.append(provider["name"])
        yield from check_adapter(
            provider["adapter"], join_path(path, "adapter"), PAYMENT_SPECS, ("refund", "void"), ADAPTERS
        )
    if raw["default"] not in names:
        yield DefinitionError("$.default", f"unknown provider {raw['default']!r}{suggest(raw['default'], names)}")
    for method, name in (raw.get("methods") or {}).items():
        if name not in names:
            yield DefinitionError(
                join_path("$.methods", str(method)), f"unknown provider {name!r}{suggest(str(name), names)}"
            )
