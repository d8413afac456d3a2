"""What the outbound HTTP integrations' definitions share: a secret header, a bounded duration, Retry-After.

Pull connectors (engine/channel_pulls.py), stock sync (engine/stock_sync.py),
carrier and payment adapters (engine/http_adapters.py) and the flows' ``http``
step (engine/http_steps.py) each authorise their requests with a header whose
value is read, when the request is sent, from an ``OMS_..._SECRET...``
environment variable: the definition names the variable, never the secret
(the schemas check the variable's and the header's names). Each bounds some
durations of its section (a timeout, a poll interval, a debounce); each reads
a 429's Retry-After the same way.

Pure: services/http_client.py reads the secrets and sends the requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.durations import parse_duration
from engine.errors import DefinitionError, join_path


@dataclass(frozen=True)
class SecretHeader:
    """A header whose value is ``prefix`` + the secret in the environment variable ``secret_env``."""

    header: str
    secret_env: str
    prefix: str = ""

    # The http step's request calls them so (workflows/flow.py copies them into the activity's HttpSecret).
    @property
    def name(self) -> str:
        return self.header

    @property
    def env(self) -> str:
        return self.secret_env


def parse_auth(raw: Mapping[str, Any] | None) -> SecretHeader | None:
    """An ``auth: {header, secret_env, prefix}`` section that passed validation, or None without one."""
    if not raw:
        return None
    return secret_header(str(raw["header"]), raw)


def secret_header(header: str, raw: Mapping[str, Any]) -> SecretHeader:
    """The header ``header`` given as ``{secret_env, prefix}`` (an http step's header, an auth section)."""
    return SecretHeader(header, str(raw["secret_env"]), str(raw.get("prefix", "")))


def check_duration(
    section: Mapping[str, Any],
    key: str,
    where: str,
    fits: Callable[[float], bool],
    message: str,
    unparsable: bool = True,
) -> Iterator[DefinitionError]:
    """``section[key]`` as a duration that ``fits``, else ``message`` at ``where.key``.

    A text that is not a duration says why, unless ``unparsable`` is False (another check says so).
    """
    if key not in section:
        return
    try:
        seconds = parse_duration(section[key])
    except ValueError as exc:
        if unparsable:
            yield DefinitionError(join_path(where, key), str(exc))
        return
    if not fits(seconds):
        yield DefinitionError(join_path(where, key), message)


def retry_after_seconds(value: str | None, default: float = 1.0, ceiling: float = 300.0) -> float:
    """A Retry-After header's delay in seconds (the delta-seconds form; a date counts as ``default``)."""
    try:
        seconds = float((value or "").strip())
    except ValueError:
        return default
    return min(max(seconds, 0.0), ceiling)
