"""Waves for warehouse staff: batch the orders ready to pick, print the pick list, confirm by scan."""

from __future__ import annotations

import re
from typing import Annotated

import anyio
from fastapi import APIRouter, Form, Request
from sqlmodel import Session, select

from oms.db import session_scope
from oms.models import Task, Warehouse
from services import scopes
from services.fulfilment.picking import (
    READY_TO_PICK,
    WaveRefused,
    create_wave,
    ready_to_pick,
    wave_view,
)
from services.orders import decisions
from web.deps import CurrentUser, SessionDep, TemporalDep
from web.i18n import gettext, ngettext
from web.pages import wording
from web.pages.flash import Flash
from web.pages.rendering import PageRoute, redirect, render
from web.pages.security import Acting, PageRefused, SignedIn

router = APIRouter(route_class=PageRoute, include_in_schema=False)

_SCAN = re.compile(r"^(?P<sku>[A-Za-z0-9][A-Za-z0-9._\-/]*)(?:\s*[x×*]?\s*(?P<qty>\d+))?$")


class ScanError(ValueError):
    pass


def parse_scans(text: str) -> list[dict]:
    """One scan a line, as a scanner types it: ``SKU`` (one piece) or ``SKU x3``."""
    scans = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        match = _SCAN.match(line)
        if not match:
            raise ScanError(
                f"line {number}: {line!r} is not a scan; write the SKU, or the SKU and a quantity (MUG-LOGO x2)"
            )
        qty = int(match["qty"] or 1)
        if qty < 1:
            raise ScanError(f"line {number}: the quantity must be at least 1")
        scans.append({"sku": match["sku"], "qty": qty})
    return scans


@router.get("/waves")
def waves_page(request: Request, session: SessionDep, user: SignedIn):
    warehouses = [
        w for w in session.exec(select(Warehouse).order_by(Warehouse.code)).all() if scopes.sees_warehouse(user, w.code)
    ]
    ready = {w.code: len(ready_to_pick(session, w.code, 1000, user.channels)) for w in warehouses}
    waves = scopes.visible_waves(session, user, limit=50)
    return render(
        request,
        "pages/waves.html",
        {
            "nav": "waves",
            "warehouses": warehouses,
            "ready": ready,
            "waves": [wave_view(session, w) for w in waves],
        },
    )


@router.post("/waves")
def new_wave(user: Acting, warehouse: Annotated[str, Form()] = "", max_orders: Annotated[str, Form()] = "50"):
    try:
        limit = int(max_orders)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 500:
        return redirect(
            "/waves", Flash().error(gettext("Orders per wave must be a whole number from 1 to 500; no wave was made."))
        )
    if not scopes.sees_warehouse(user, warehouse):
        mine = ", ".join(user.warehouses)
        raise PageRefused(
            403, gettext("You may make waves in %(mine)s only, not %(other)s.", mine=mine, other=warehouse)
        )
    with session_scope() as session:
        if session.get(Warehouse, warehouse) is None:
            not_one = gettext("Choose a warehouse; %(code)r is not one. No wave was made.", code=warehouse)
            return redirect("/waves", Flash().error(not_one))
        try:
            wave = create_wave(session, warehouse, limit, user.username, user.channels)
        except WaveRefused as exc:
            problem = wording.problem(exc)
            problem = f"{problem[:1].upper()}{problem[1:]}"
            return redirect("/waves", Flash().error(gettext("%(problem)s; no wave was made.", problem=problem)))
        wave_id, count = wave.id, len(wave.orders)
    made = ngettext("Wave %(id)s made with %(num)d order.", "Wave %(id)s made with %(num)d orders.", count, id=wave_id)
    return redirect(f"/waves/{wave_id}", Flash().ok(made))


def _open_tasks(session: Session, order_ids: list[str]) -> dict[str, Task]:
    if not order_ids:
        return {}
    rows = session.exec(select(Task).where(Task.order_id.in_(order_ids), Task.status == "open")).all()
    return {t.order_id: t for t in rows}


@router.get("/waves/{wave_id}")
def wave_page(wave_id: str, request: Request, session: SessionDep, user: SignedIn):
    try:
        wave = scopes.visible_wave(session, user, wave_id)
    except scopes.OutOfScope:
        raise PageRefused(404, gettext("There is no wave %(id)r.", id=wave_id)) from None
    view = wave_view(session, wave)
    return render(
        request,
        "pages/wave.html",
        {
            "nav": "waves",
            "wave": view,
            "tasks": _open_tasks(session, wave.orders),
            "ready": READY_TO_PICK,
        },
    )


def _task(task_id: str, wave_id: str, user: CurrentUser) -> Task | None:
    """The task, if the user sees it and its wave (None otherwise: as if it did not exist)."""
    with session_scope() as session:
        try:
            scopes.visible_wave(session, user, wave_id)
            return scopes.visible_task(session, user, task_id)
        except scopes.OutOfScope:
            return None


@router.post("/waves/{wave_id}/tasks/{task_id}/scan")
async def scan(
    wave_id: str,
    task_id: str,
    client: TemporalDep,
    user: Acting,
    decision: Annotated[str, Form()] = "",
    scans: Annotated[str, Form()] = "",
):
    back = f"/waves/{wave_id}"
    task = await anyio.to_thread.run_sync(_task, task_id, wave_id, user)
    on = gettext("order %(id)s", id=task.order_id) if task else gettext("task %(id)s", id=task_id)

    def nothing(problem: object) -> str:
        return gettext("Nothing was confirmed for %(on)s: %(problem)s.", on=on, problem=problem)

    if task is None:
        return redirect(back, Flash().error(nothing(gettext("no task %(id)r", id=task_id))))
    try:
        scanned = parse_scans(scans)
    except ScanError as exc:
        return redirect(back, Flash().error(nothing(exc)))
    try:
        await decisions.decide(
            client, task_id, decisions.Actor(user.username, user.roles), decision.strip(), "", scanned
        )
    except decisions.TaskRefused as exc:
        return redirect(back, Flash().error(nothing(wording.problem(exc))))
    items = ", ".join(f"{s['qty']} x {s['sku']}" for s in scanned)
    done = gettext("%(task)s of %(on)s confirmed: %(items)s.", task=task.title, on=on, items=items)
    return redirect(back, Flash().ok(done))
