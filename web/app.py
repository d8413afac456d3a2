"""The FastAPI application: the JSON API, the pages, the designer, health and metrics."""

from __future__ import annotations

import gc
import hmac
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Header, HTTPException, Response
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

import designer
from designer import api as definitions
from designer import migration_pages, migrations_api
from designer import pages as designer_pages
from oms import metrics
from oms.db import get_engine
from oms.settings import get_settings
from oms.temporal.client import connect
from services.orders.channel_pull import sync_schedules_quietly
from services.orders.outbox import WorkflowStarter
from services.stock.sync_starts import start_syncs_quietly
from web import errors, pages
from web.api import (
    analytics,
    auth,
    channel_pulls,
    channels,
    fulfilment,
    inventory,
    orders,
    people,
    returns,
    stock_sync,
    tasks,
)
from web.api.schemas.health import Health
from web.i18n import LanguageMiddleware
from web.limits import BodyLimit
from web.pages.rendering import install_error_pages


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.temporal = await connect()
    # Pull connectors: one Temporal schedule per channel with a `pull:` section, in line with its definition.
    await sync_schedules_quietly(app.state.temporal)
    # Stock sync: one StockSync workflow per channel with an enabled `stock_sync:` section.
    await start_syncs_quietly(app.state.temporal)
    async with WorkflowStarter(app.state.temporal) as starter:
        app.state.starter = starter
        metrics.WAITING_STARTS.set_function(lambda: starter.waiting)
        # What start-up loaded (modules, compiled definitions, the ORM) lives as long as the
        # process: kept out of the garbage collector's scans, which then stay short under load.
        gc.collect()
        gc.freeze()
        yield


def create_app() -> FastAPI:
    app = FastAPI(title="OMS", description="Order management whose pipeline is data.", lifespan=lifespan)
    errors.install(app)
    install_error_pages(app)  # a page path nothing serves: the styled 404, not JSON
    app.add_middleware(BodyLimit)  # every body capped at OMS_MAX_REQUEST_BYTES
    app.add_middleware(LanguageMiddleware)  # English or Chinese pages (web/i18n.py); the API stays English
    for module in (auth, orders, channels, tasks, definitions, inventory, fulfilment, analytics, returns, people):
        app.include_router(module.router)
    app.include_router(migrations_api.router)
    app.include_router(channel_pulls.router)
    app.include_router(stock_sync.router)
    app.include_router(pages.router)
    app.include_router(designer_pages.router)
    app.include_router(migration_pages.router)
    app.mount("/static/editor", StaticFiles(directory=designer.STATIC_DIR / "editor"), name="editor")
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")

    @app.get("/healthz", tags=["health"])
    async def healthz() -> Health:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        await app.state.temporal.service_client.check_health()
        return Health(status="ok")

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=PlainTextResponse,
        responses={401: {"description": "OMS_METRICS_TOKEN is set and the bearer token is not it"}},
    )
    def prometheus_metrics(authorization: Annotated[str | None, Header()] = None) -> Response:
        """Prometheus text format: intake, orders by status, open tasks by age, ...

        With ``OMS_METRICS_TOKEN`` set, only a scraper sending ``Authorization: Bearer <token>`` gets them.
        """
        expected = get_settings().metrics_token
        if expected and not hmac.compare_digest((authorization or "").encode(), f"Bearer {expected}".encode()):
            raise HTTPException(401, "metrics need 'Authorization: Bearer <OMS_METRICS_TOKEN>'")
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return app
