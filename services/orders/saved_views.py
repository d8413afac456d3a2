"""Saved searches of the order list: the shipped presets and each person's own views."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from oms.models import SavedView
from services.errors import Conflict, Invalid, NotFound
from services.orders.search import OrderQuery, parse_query


@dataclass(frozen=True)
class View:
    key: str  # "preset:unpaid" or the saved row's id
    name: str
    query: str  # URL parameters of the list
    own: bool  # the person's own (deletable), not a preset


PRESETS = (
    View("preset:unpaid", "Unpaid older than 2 days", "status=awaiting_payment&older_than_days=2", False),
    View("preset:shipping", "Shipping problems", "status=shipping_problem,delivery_exception", False),
    View("preset:held", "Held orders", "status=on_hold,held", False),
)


def views_of(session: Session, username: str) -> list[View]:
    """The presets, then the person's own views by name."""
    rows = session.exec(select(SavedView).where(SavedView.username == username).order_by(col(SavedView.name))).all()
    return [*PRESETS, *(View(str(r.id), r.name, r.query, True) for r in rows)]


def save_view(session: Session, username: str, name: str, query: OrderQuery) -> SavedView:
    """Store ``query``'s filters under ``name`` for ``username``; Conflict if the name is taken."""
    name = " ".join(name.split())
    if not name or len(name) > 80:
        raise Invalid("bad_view_name", "a view needs a name of 1 to 80 characters", field="name")
    if any(p.name.lower() == name.lower() for p in PRESETS):
        raise Conflict("view_exists", f"{name!r} is a shipped view; choose another name", field="name")
    text = urlencode(query.filters())
    parse_query(dict(parse_qsl(text)))  # what is stored can always be read back
    row = SavedView(username=username, name=name, query=text)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("view_exists", f"you have a view named {name!r} already", field="name") from None
    session.refresh(row)
    return row


def delete_view(session: Session, username: str, view_id: int) -> str:
    """Remove one of the person's own views; its name."""
    row = session.get(SavedView, view_id)
    if row is None or row.username != username:
        raise NotFound("view_not_found", f"you have no saved view {view_id}")
    session.delete(row)
    session.commit()
    return row.name
