"""Codes as words on the pages: statuses, audit actions, timeline types, and amounts with their currency.

The templates use the ``words`` and ``amount`` filters (registered in web/pages/rendering.py);
a code with no entry reads as itself with spaces ("out_of_stock" -> "Out of stock"). The words are
said in the page's language (web/i18n.py); the codes themselves stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from services import error_words, timeline_words
from services.errors import DomainError
from services.money import currency_of, money_text
from services.rule_reasons import TRANSLATIONS
from web import i18n
from web.i18n import N_, gettext

WORDS = {
    # orders
    "received": N_("Received"),
    "audited": N_("Checked by the audit rules"),
    "on_hold": N_("Held for review"),
    "held": N_("Held by hand"),
    "reserved": N_("Stock reserved"),
    "awaiting_payment": N_("Waiting for payment"),
    "paid": N_("Paid"),
    "backordered": N_("Waiting for stock"),
    "handed_over": N_("Handed over in store"),
    "shipped": N_("Shipped"),
    "out_for_delivery": N_("Out for delivery"),
    "delivery_exception": N_("Delivery problem"),
    "shipping_problem": N_("Cannot be shipped"),
    "delivered": N_("Delivered"),
    "completed": N_("Completed"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
    "out_of_stock": N_("Out of stock"),
    "lost_in_transit": N_("Lost in transit"),
    "failed": N_("Failed: needs a person"),
    # returns
    "requested": N_("Return requested"),
    "in_review": N_("Return in review"),
    "approved": N_("Approved"),
    "label_issued": N_("Return label sent"),
    "awaiting_parcel": N_("Waiting for the return parcel"),
    "inspecting": N_("Quality check"),
    "inspected": N_("Checked"),
    "refunded": N_("Refunded"),
    "exchanged": N_("Exchanged"),
    "expired": N_("Expired"),
    # tasks
    "open": N_("Open"),
    "decided": N_("Decided"),
    # audit actions and decisions
    "approve": N_("Approved"),
    "review": N_("Held for review"),
    "reject": N_("Rejected"),
    "tag": N_("Tagged"),
    # timeline lines
    "waiting": N_("Waiting"),
    "event": N_("Event received"),
    "timed_out": N_("Timed out"),
    "notification": N_("Customer notified"),
    "note": N_("Internal note"),
    "status": N_("Status"),
    # events a person sends
    "cancel_requested": N_("Cancellation asked"),
    "address_changed": N_("New address"),
    "payment_received": N_("Payment recorded"),
    "hold_requested": N_("Hold asked"),
    "release_requested": N_("Release asked"),
}


# Codes shown as themselves in English (people type and search for them) and translated in other
# languages: stock movements, decisions, return kinds and quality-check results, wave states.
TERMS = {
    # stock movements (services/stock/ledger.py)
    "receipt": N_("receipt"),
    "return": N_("return"),
    "adjust": N_("adjust"),
    "transfer": N_("transfer"),
    "reserve": N_("reserve"),
    "release": N_("release"),
    "ship": N_("ship"),
    # decisions on tasks
    "approve": N_("approve"),
    "reject": N_("reject"),
    "inspected": N_("inspected"),
    "retry": N_("retry"),
    "cancel": N_("cancel"),
    "handled": N_("handled"),
    "escalate": N_("escalate"),
    "picked": N_("picked"),
    "packed": N_("packed"),
    "confirm": N_("confirm"),
    # returns
    "refund": N_("refund"),
    "exchange": N_("exchange"),
    "resellable": N_("resellable"),
    "damaged": N_("damaged"),
    "missing": N_("missing"),
    # waves and parcels
    "open": N_("open"),
    "picking": N_("picking"),
    "done": N_("done"),
}


def term(code: Any) -> str:
    """A code as it is named (English: the code itself), in the page's language."""
    text = str(code or "")
    return gettext(TERMS[text]) if text in TERMS else text


def said(reason: Any) -> str:
    """A reason a service gives with its wording and values (services.phrases.Phrase), in the page's language."""
    wording = getattr(reason, "wording", "")
    if not wording:
        return str(reason or "")
    text = gettext(wording)
    values = dict(getattr(reason, "values", ()))
    return text % values if values else text


def words(code: Any) -> str:
    """A status or code for people."""
    text = str(code or "")
    return gettext(WORDS[text]) if text in WORDS else text.replace("_", " ").capitalize()


def amount(value: float | int | None, document: dict[str, Any] | str | None = None) -> str:
    """``1,234.50 EUR``: the currency given, or the order document's, or the shop's."""
    currency = (
        document
        if isinstance(document, str) and document
        else currency_of(document if isinstance(document, dict) else None)
    )
    return money_text(value, currency)


# ---- sentences: timeline lines, errors and rules' reasons in the page's language ----------------------


LIST_SEPARATOR = N_(", ")


def _joined(codes: str) -> str:
    """``payment_received, cancel_requested`` (or ``... or ...``) as words, in the page's language."""
    return gettext(LIST_SEPARATOR).join(words(code) for code in re.split(r", | or ", codes) if code)


# Values that are codes: said as words where a sentence is translated (English keeps the code as written).
CODE_VALUES: dict[str, Callable[[str], str]] = {
    "status": words,
    "action": words,
    "decision": term,
    "event": words,
    "events": _joined,
    # What an action does or what a task is on ("cancelled", "order"): the catalogue has the page's own words.
    "what": gettext,
}


def _english(key: str, values: Mapping[str, Any] | None) -> str:
    """A nested wording filled in English: how the line's own English said it."""
    filled = {name: _english(v["key"], v.get("values")) if _nested(v) else v for name, v in (values or {}).items()}
    try:
        return key % filled if filled else key
    except (KeyError, TypeError, ValueError):
        return key


def _nested(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("key"), str)


def sentence(key: str | None, values: Mapping[str, Any] | None, english: str) -> str:
    """A stored wording (services/phrases.py) filled with its values in the page's language; ``english`` in
    English, for no wording, or when a translation does not fit its values."""
    if not key or i18n.language() == i18n.DEFAULT:
        return english
    shown: dict[str, str] = {}
    for name, value in (values or {}).items():
        if _nested(value):
            shown[name] = sentence(value["key"], value.get("values"), _english(value["key"], value.get("values")))
        else:
            shown[name] = CODE_VALUES[name](str(value)) if name in CODE_VALUES else str(value)
    try:
        return gettext(key) % shown if shown else gettext(key)
    except (KeyError, TypeError, ValueError):
        return english


def problem(error: DomainError) -> str:
    """A service's error in the page's language (services/error_words.py); its English when it has no wording."""
    found = error_words.said(error)
    if found is None:
        return error.message
    return sentence(found.wording, dict(found.values), error.message)


def said_as(type_: str, english: str) -> str:
    """What a service wrote for a timeline line of ``type_`` (and tells the person who acted), in the page's
    language."""
    found = timeline_words.recognised(type_, english)
    return sentence(found["key"], found["values"], english) if found else english


def reason(fired: Mapping[str, Any]) -> str:
    """A fired rule's reason in the page's language when the rule gives it in that language (engine/reasons.py)."""
    translations = fired.get(TRANSLATIONS) or {}
    return str(translations.get(i18n.language()) or fired.get("reason") or "")


def held_because(text: str, audit: Mapping[str, Any] | None) -> str:
    """The reasons the audit held the order for (a task's reason, an audit line's), in the page's language:
    ``text`` when it is not the English reasons of ``audit``."""
    deciding = [f for f in (audit or {}).get("fired") or [] if f.get("action") != "tag"]
    if not deciding or text != "; ".join(str(f.get("reason")) for f in deciding):
        return text
    return "; ".join(reason(f) for f in deciding)


HELD_BECAUSE = {"audited": ("reasons",), "task_opened": ("reason",)}


def line(entry: Mapping[str, Any], audit: Mapping[str, Any] | None = None) -> str:
    """A timeline line's message in the page's language (its stored wording); old lines keep their text."""
    values = dict(entry.get("message_values") or {})
    # The audit's reasons, quoted by its own line and by the task it opened, in the reader's language.
    for name in HELD_BECAUSE.get(str(entry.get("type")), ()):
        if isinstance(values.get(name), str):
            values[name] = held_because(values[name], audit)
    return sentence(entry.get("message_key"), values, str(entry.get("message") or ""))


FILTERS = {
    "words": words,
    "term": term,
    "said": said,
    "amount": amount,
    "line": line,
    "reason": reason,
    "held_because": held_because,
}
