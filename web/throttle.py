"""Sign-in throttling: failed attempts counted per account and per client address.

Built on ``limits`` (moving windows in process memory, expired entries
dropped): ``OMS_SIGN_IN_ATTEMPTS_PER_ACCOUNT`` (10) failures for one username
or ``OMS_SIGN_IN_ATTEMPTS_PER_ADDRESS`` (30) from one address within
``OMS_SIGN_IN_WINDOW_SECONDS`` (300) and further attempts are answered 429
with ``Retry-After`` without checking the password. A success clears the
account's count. Each web process counts for itself: behind a load balancer of
N processes an attacker gets at most N times the budget.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

from fastapi import HTTPException, Request
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from oms.settings import get_settings


class SignInThrottle:
    def __init__(self, per_account: int, per_address: int, window_seconds: int):
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._account: RateLimitItem = RateLimitItemPerSecond(per_account, window_seconds)
        self._address: RateLimitItem = RateLimitItemPerSecond(per_address, window_seconds)

    def _keys(self, username: str, address: str) -> tuple[tuple[RateLimitItem, str, str], ...]:
        return ((self._account, "account", username.strip().lower()), (self._address, "address", address))

    def retry_after(self, username: str, address: str) -> int | None:
        """Seconds until another attempt is allowed, or None when one is allowed now."""
        waits = [
            self._limiter.get_window_stats(item, kind, key).reset_time - time.time()
            for item, kind, key in self._keys(username, address)
            if not self._limiter.test(item, kind, key)
        ]
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, username: str, address: str) -> None:
        for item, kind, key in self._keys(username, address):
            self._limiter.hit(item, kind, key)

    def succeeded(self, username: str) -> None:
        self._limiter.clear(self._account, "account", username.strip().lower())


@lru_cache(maxsize=1)
def throttle() -> SignInThrottle:
    settings = get_settings()
    return SignInThrottle(
        settings.sign_in_attempts_per_account, settings.sign_in_attempts_per_address, settings.sign_in_window_seconds
    )


def client_address(request: Request) -> str:
    """The caller's address (the client's, behind a proxy trusted by OMS_FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else "unknown"


def refuse_if_throttled(username: str, request: Request) -> None:
    """429 with Retry-After when this account or address has failed too often lately."""
    wait = throttle().retry_after(username, client_address(request))
    if wait is not None:
        raise HTTPException(
            429,
            f"too many failed sign-ins; try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )
