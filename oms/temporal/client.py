"""The Temporal client of the settings: one way to connect, for the web app, the worker and the CLI."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.runtime import Runtime

from oms.settings import get_settings


async def connect(runtime: Runtime | None = None) -> Client:
    settings = get_settings()
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace, runtime=runtime)
