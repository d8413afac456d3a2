"""Logging for every process: JSON lines when stderr is not a terminal, with the order on each line about one.

Lines about an order carry ``order_id`` and ``workflow_id``: intake sets them
for the request it handles, the worker's interceptor (``oms.worker``) for each
activity, and Temporal's own workflow and activity loggers add the workflow's
details, from which the workflow id is taken.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

_ORDER: ContextVar[tuple[str | None, str | None]] = ContextVar("oms_log_order", default=(None, None))

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


@contextmanager
def about_order(order_id: str | None, workflow_id: str | None = None) -> Iterator[None]:
    """Every line logged inside (this task or thread) names the order and its workflow."""
    token = _ORDER.set((order_id, workflow_id))
    try:
        yield
    finally:
        _ORDER.reset(token)


class OrderContext(logging.Filter):
    """Adds ``order_id`` and ``workflow_id`` to records about an order (None otherwise)."""

    def filter(self, record: logging.LogRecord) -> bool:
        order_id, workflow_id = _ORDER.get()
        temporal = getattr(record, "temporal_activity", None) or getattr(record, "temporal_workflow", None)
        if workflow_id is None and isinstance(temporal, dict):
            workflow_id = temporal.get("workflow_id")
        if getattr(record, "order_id", None) is None:
            record.order_id = order_id
        if getattr(record, "workflow_id", None) is None:
            record.workflow_id = workflow_id
        return True


class _Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        about = [f"{key}={value}" for key in ("order_id", "workflow_id") if (value := getattr(record, key, None))]
        return f"{line} [{' '.join(about)}]" if about else line


def configure(level: str = "INFO", fmt: str = "auto") -> None:
    """Route every logger (the SDK's and uvicorn's too) through one stderr handler.

    ``fmt``: ``json``, ``text``, or ``auto`` (JSON unless stderr is a terminal).
    """
    json_lines = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(OrderContext())
    if json_lines:
        handler.setFormatter(
            JsonFormatter(
                JSON_FIELDS,
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(_Text(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Alembic narrates every start at INFO; oms.migrate says what changed.
    logging.getLogger("alembic").setLevel(logging.WARNING)
