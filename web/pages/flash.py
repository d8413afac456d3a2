"""Notices that survive one redirect: a signed, compressed cookie read by the next page.

A cookie keeps the web app stateless (any number of web processes) and needs
no table. It is signed so that nobody can make the app show a notice it did
not write, and trimmed to stay under browsers' 4 KB cookie limit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import zlib
from dataclasses import asdict, dataclass, field

from fastapi import Request
from fastapi.responses import Response

from oms.settings import get_settings
from web.i18n import ngettext

FLASH_COOKIE = "oms_flash"
MAX_COOKIE = 3500


@dataclass
class Result:
    """One task of a bulk action: which order, whether it went through, and why not."""

    order_id: str
    task_id: str
    ok: bool
    detail: str


@dataclass
class Flash:
    notices: list[tuple[str, str]] = field(default_factory=list)  # (level: ok | error, text)
    results: list[Result] = field(default_factory=list)

    def ok(self, text: str) -> Flash:
        self.notices.append(("ok", text))
        return self

    def error(self, text: str) -> Flash:
        self.notices.append(("error", text))
        return self


def _sign(payload: bytes) -> str:
    return hmac.new(get_settings().secret_key.encode(), b"flash:" + payload, hashlib.sha256).hexdigest()


def _encode(flash: Flash) -> str:
    raw = json.dumps({"n": flash.notices, "r": [asdict(r) for r in flash.results]}, separators=(",", ":"))
    payload = base64.urlsafe_b64encode(zlib.compress(raw.encode(), 9))
    return f"{payload.decode()}.{_sign(payload)}"


def store(response: Response, flash: Flash) -> None:
    """Attach ``flash`` to a redirect; long result lists are cut, with a notice saying so."""
    value, dropped = _encode(flash), 0
    while len(value) > MAX_COOKIE and flash.results:
        flash.results.pop()
        dropped += 1
        more = ngettext("%(num)d more result is not shown", "%(num)d more results are not shown", dropped)
        value = _encode(Flash([*flash.notices, ("error", more)], flash.results))
    response.set_cookie(FLASH_COOKIE, value, max_age=120, httponly=True, samesite="lax", path="/")


def take(request: Request) -> Flash | None:
    """The notices the previous request left, if they are genuine (the caller clears the cookie)."""
    value = request.cookies.get(FLASH_COOKIE)
    if not value or "." not in value:
        return None
    payload, signature = value.rsplit(".", 1)
    if not hmac.compare_digest(_sign(payload.encode()), signature):
        return None
    try:
        data = json.loads(zlib.decompress(base64.urlsafe_b64decode(payload.encode())))
        return Flash([(level, text) for level, text in data["n"]], [Result(**r) for r in data["r"]])
    except (ValueError, KeyError, TypeError, zlib.error):
        return None


def clear(response: Response) -> None:
    response.delete_cookie(FLASH_COOKIE, path="/")
