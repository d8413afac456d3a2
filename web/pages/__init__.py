"""HTML pages for people: the start page, sign-in, inbox, orders, entry, stock, waves, returns, the dashboard.

``router`` holds every page route; ``STATIC_DIR`` is the folder the app
serves under /static (hand-written CSS, nothing from the internet).
"""

from pathlib import Path

from fastapi import APIRouter

from web.pages import (
    dashboard,
    entry,
    fulfilment,
    home,
    inbox,
    orders,
    people,
    return_request,
    returns,
    signin,
    stock,
    waves,
)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)
# entry before orders: /orders/new is a page of its own, not the order "new".
# return_request before returns: /returns/new is a page of its own, not the return "new".
for _module in (
    home,
    signin,
    inbox,
    entry,
    orders,
    stock,
    fulfilment,
    dashboard,
    waves,
    return_request,
    returns,
    people,
):
    router.include_router(_module.router)
