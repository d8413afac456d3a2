"""Where the platform may send webhooks, and what a failed send may say about itself.

Webhook URLs come from settings and from channel definitions that analysts
edit, so a URL could point the worker at the cloud's metadata service, at the
database or at an admin port on the same machine. Every outbound webhook goes
through ``check_destination``: a host that resolves to a loopback, private,
link-local (metadata: 169.254.169.254), multicast, reserved or unspecified
address is refused unless ``OMS_OUTBOUND_ALLOWLIST`` names the host, the
address or a network holding it. Timeline lines and errors say what kind of
failure it was, never the raw network error (which can carry addresses,
banners and response text); the raw error goes to the log.
"""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import socket
from urllib.parse import urlsplit

import httpx

from oms.settings import get_settings

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class SendFailed(RuntimeError):
    """A message that could not be delivered; its text is safe to show on a timeline."""


class DestinationRefused(SendFailed):
    """A webhook URL that points at an internal address (or cannot be resolved)."""


def _allowlist() -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    hosts: set[str] = set()
    networks = []
    for entry in (e.strip() for e in get_settings().outbound_allowlist.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower().rstrip("."))
    return hosts, networks


def internal(address: Address) -> bool:
    """Loopback, private, link-local (cloud metadata), multicast, reserved or unspecified."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_destination(url: str, what: str = "the webhook") -> None:
    """Raise DestinationRefused unless every address ``url``'s host resolves to is public or allowlisted.

    ``what`` names the sender in the message (``the webhook host ... is an internal address``).
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        raise DestinationRefused(f"{what} URL is not an http(s) URL")
    hosts, networks = _allowlist()
    if host in hosts:
        return
    try:
        infos = socket.getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise DestinationRefused(f"{what} host {host!r} does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if internal(address) and not any(address in network for network in networks):
            raise DestinationRefused(
                f"{what} host {host!r} is an internal address; name it in OMS_OUTBOUND_ALLOWLIST to allow it"
            )


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 10) -> None:
    """POST to a checked destination without following redirects; any failure raises SendFailed."""
    check_destination(url)
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        log.warning("webhook to %s failed: %r", url, exc)
        raise SendFailed(f"the webhook receiver {describe(exc)}") from None
    if response.status_code >= 300:
        raise SendFailed(f"the webhook receiver answered {response.status_code}")


def describe(exc: BaseException) -> str:
    """What went wrong, in words that are safe on a timeline."""
    if isinstance(exc, DestinationRefused):
        return str(exc)
    if isinstance(exc, httpx.TimeoutException | socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, httpx.ConnectError | ConnectionError):
        return "could not be reached"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "refused the recipient"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "refused the sign-in"
    if isinstance(exc, smtplib.SMTPException):
        return "refused the message"
    if isinstance(exc, httpx.HTTPError):
        return "failed"
    if isinstance(exc, OSError):
        return "could not be reached"
    return "failed"
