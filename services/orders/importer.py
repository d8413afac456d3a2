"""Bulk import: orders from a CSV or JSON Lines file, through the same intake as the API.

A file holds orders in one of two shapes:

- one order per line (JSON Lines only): the channel's native payload, mapped
  by the channel's mapping exactly as its webhook does, or the canonical order
  for channels without a mapping;
- one order line per row, grouped into orders by ``external_id``: CSV whose
  columns are the canonical order's fields in dotted form (``customer.name``,
  ``shipping_address.country``, ...) plus ``sku``, ``qty`` and ``price``, or
  JSON Lines records without ``lines`` but with ``sku``/``qty``/``price``.

Every order goes through ``services.orders.intake.submit_order`` (form, unknown SKUs,
idempotency on (channel, external id)), so importing a file twice creates
nothing new. Rejected orders are written beside the file with the reason.
"""

from __future__ import annotations

import asyncio
import csv
import gc
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError

from engine.channels import Channel, MappingError
from engine.forms import FieldError
from oms.db import get_read_engine
from oms.models import DefinitionVersion
from oms.settings import get_settings
from oms.temporal import client as temporal_client
from services.errors import Invalid, Unavailable
from services.orders.channels import live_channel
from services.orders.intake import IntakeRejected, IntakeUnavailable, submit_order

log = logging.getLogger("services.orders.importer")

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
LINE_FIELDS = ("sku", "qty", "price")
REASON = "reason"
DEFAULT_CONCURRENCY = 16
# Failures of the database or Temporal: retrying the same file later imports the rest.
_INFRASTRUCTURE = (IntakeUnavailable, OperationalError, InterfaceError, PoolTimeout, RPCError, OSError)
_INTEGER = re.compile(r"[+-]?\d+")


class ImportRefused(Invalid):
    """The file or the channel cannot be imported at all (a usage error)."""

    def __init__(self, message: str):
        super().__init__("import_refused", message)


class ImportUnavailable(Unavailable):
    """The database or Temporal cannot be reached: nothing was imported."""

    def __init__(self, message: str):
        super().__init__("import_unavailable", message, retryable=True)


class Outcome(Enum):
    CREATED = "created"
    PRESENT = "already present"
    REJECTED = "rejected"
    FAILED = "failed"  # infrastructure; nothing stored, a rerun imports it


@dataclass(frozen=True)
class Record:
    """One line of the input: CSV cells, a JSON object, or the text of a line that is not one."""

    line: int
    original: Any


@dataclass
class Candidate:
    """One order to submit, with the records it came from; ``problem`` rejects it before intake."""

    records: list[Record]
    payload: dict | None = None
    problem: str | None = None
    reason: str | None = None  # why intake rejected it


@dataclass
class OrderFile:
    path: Path
    format: str
    header: list[str] | None  # CSV only, as written in the file
    candidates: list[Candidate]


@dataclass
class Summary:
    created: int = 0
    present: int = 0
    rejected: int = 0
    failed: int = 0
    not_submitted: int = 0
    failure: str | None = None
    interrupted: bool = False
    seconds: float = 0.0
    rejected_file: Path | None = None

    @property
    def line(self) -> str:
        return f"created {self.created}, already present {self.present}, rejected {self.rejected}"

    def count(self, outcome: Outcome) -> None:
        if outcome is Outcome.CREATED:
            self.created += 1
        elif outcome is Outcome.PRESENT:
            self.present += 1
        elif outcome is Outcome.REJECTED:
            self.rejected += 1
        else:
            self.failed += 1


def reason_for(errors: Iterable[FieldError]) -> str:
    """``lines[1].qty: Line 2: quantity must be at least 1``; several errors joined by ``; ``."""
    return "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors)


def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImportRefused(
            f"{path}: cannot import {path.suffix or 'a file without extension'!r} files; "
            f"use CSV (.csv) or JSON Lines (.jsonl, .ndjson)"
        )
    return fmt


def rejected_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.rejected.{'csv' if file_format(path) == 'csv' else 'jsonl'}")


def _database_name() -> str:
    return make_url(get_settings().db_url).render_as_string(hide_password=True)


def load_channel(name: str) -> Channel:
    """The live channel definition; ImportRefused when there is none."""
    try:
        with Session(get_read_engine()) as session:
            channel = live_channel(session, name)
            if channel is None:
                known = session.exec(
                    select(DefinitionVersion.name).where(DefinitionVersion.kind == "channel").distinct()
                ).all()
    except (OperationalError, InterfaceError, ProgrammingError, PoolTimeout) as exc:
        # A pool timeout is no DBAPIError: it has no driver error (``orig``) to tell.
        cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
        raise ImportUnavailable(f"cannot read the OMS database {_database_name()}: {cause}") from exc
    if channel is None:
        raise ImportRefused(f"unknown channel {name!r}; channels are: {', '.join(sorted(known))}")
    return channel


# -- reading ---------------------------------------------------------------------------------------


def read_orders(path: Path, channel: Channel) -> OrderFile:
    """Every order in the file, in the order of first appearance; raises ImportRefused."""
    fmt = file_format(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            if fmt == "csv":
                header, candidates = _read_csv(handle, channel, path)
            else:
                header, candidates = None, _read_jsonl(handle, channel)
    except UnicodeDecodeError as exc:
        raise ImportRefused(f"{path}: not UTF-8 text ({exc})") from exc
    return OrderFile(path, fmt, header, candidates)


class _Orders:
    """Collects orders: whole ones, and ones assembled from line records by external id."""

    def __init__(self, channel: Channel):
        self.channel = channel
        self.candidates: list[Candidate] = []
        self._first_line: dict[str, int] = {}  # external id -> first line of its order
        self._groups: dict[str, _Group] = {}

    def reject(self, record: Record, problem: str) -> None:
        self.candidates.append(Candidate([record], problem=problem))

    def whole(self, record: Record, payload: dict) -> None:
        external_id = payload.get("external_id")
        key = str(external_id) if external_id not in (None, "") else None
        if key is not None and key in self._first_line:
            self.reject(record, f"external_id: {key!r} is already the order on line {self._first_line[key]}")
            return
        if key is not None:
            self._first_line[key] = record.line
        self.candidates.append(Candidate([record], payload={**payload, "channel": self.channel.name}))

    def line(self, record: Record, flat: dict[str, Any], problem: str | None = None) -> None:
        external_id = flat.get("external_id")
        if external_id in (None, ""):
            self.reject(record, "external_id: missing; the rows of an order are grouped by external_id")
            return
        key = str(external_id)
        group = self._groups.get(key)
        if group is None:
            if key in self._first_line:
                self.reject(record, f"external_id: {key!r} is already the order on line {self._first_line[key]}")
                return
            self._first_line[key] = record.line
            group = self._groups[key] = _Group(Candidate([]))
            self.candidates.append(group.candidate)
        group.add(record, flat, problem)

    def finish(self) -> list[Candidate]:
        for group in self._groups.values():
            group.build(self.channel.name)
        return self.candidates


@dataclass
class _Group:
    candidate: Candidate
    fields: dict[str, tuple[Any, int]] = field(default_factory=dict)  # dotted name -> (value, line)
    lines: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, record: Record, flat: dict[str, Any], problem: str | None) -> None:
        self.candidate.records.append(record)
        if problem:
            self.problems.append(problem)
        line = {name: flat[name] for name in LINE_FIELDS if name in flat}
        if line:
            self.lines.append(line)
        for name, value in flat.items():
            if name in LINE_FIELDS or name == "channel":
                continue
            if name not in self.fields:
                self.fields[name] = (value, record.line)
            elif self.fields[name][0] != value:
                first, first_line = self.fields[name]
                self.problems.append(
                    f"{name}: {first!r} on line {first_line} but {value!r} on line {record.line}; "
                    f"the rows of one order must agree"
                )

    def build(self, channel: str) -> None:
        if self.problems:
            self.candidate.problem = "; ".join(self.problems)
            return
        try:
            order = _unflatten({name: value for name, (value, _) in self.fields.items()})
        except ValueError as exc:
            self.candidate.problem = str(exc)
            return
        self.candidate.payload = {**order, "channel": channel, "lines": self.lines}


def _unflatten(flat: dict[str, Any]) -> dict:
    """``{"customer.name": "Ann"}`` -> ``{"customer": {"name": "Ann"}}``."""
    out: dict[str, Any] = {}
    for name, value in flat.items():
        node = out
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{name}: {part} is a value and cannot have fields")
        if isinstance(node.get(leaf), dict):
            raise ValueError(f"{name}: cannot be a value and have fields")
        node[leaf] = value
    return out


def _flatten(record: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in record.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{key}."))
        else:
            out[key] = value
    return out


def _number(name: str, text: str) -> Any:
    """CSV cells are text: qty becomes an int, price a float where they parse; else the text
    stays, so that the form's own message names the problem."""
    if name == "qty":
        if _INTEGER.fullmatch(text):
            return int(text)
        try:
            value = float(text)
        except ValueError:
            return text
        return int(value) if value.is_integer() else text
    if name == "price":
        try:
            value = float(text)
        except ValueError:
            return text
        return value if math.isfinite(value) else text
    return text


def _read_csv(handle, channel: Channel, path: Path) -> tuple[list[str] | None, list[Candidate]]:
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None:
        return None, []
    names = [name.strip() for name in header]
    _check_columns(names, path)
    orders = _Orders(channel)
    for cells in reader:
        record = Record(reader.line_num, cells)
        if not any(cell.strip() for cell in cells):
            continue  # blank rows, as spreadsheets write them at the end
        extra = [cell for cell in cells[len(names) :] if cell.strip()]
        problem = (
            f"line {record.line} has {len(names) + len(extra)} cells but the header has {len(names)} columns "
            f"(extra: {', '.join(map(repr, extra))})"
            if extra
            else None
        )
        flat = {
            name: _number(name, cell.strip())
            for name, cell in zip(names, cells, strict=False)  # a row may have fewer or more cells than the header
            if cell.strip() and name != REASON  # as in _read_jsonl
        }
        orders.line(record, flat, problem)
    return header, orders.finish()


def _check_columns(names: list[str], path: Path) -> None:
    missing = [name for name in ("external_id", "sku") if name not in names]
    if missing:
        raise ImportRefused(
            f"{path}: no {' or '.join(missing)} column; a CSV file has one row per order line, with the "
            f"columns external_id, sku, qty, price and the order's fields in dotted form "
            f"(customer.name, shipping_address.country, ...); its columns are: {', '.join(names)}"
        )
    seen: set[str] = set()
    for name in names:
        if not name:
            raise ImportRefused(f"{path}: a column has no name")
        if name in seen:
            raise ImportRefused(f"{path}: the column {name!r} appears twice")
        seen.add(name)
    for name in names:
        for other in names:
            if other.startswith(name + "."):
                raise ImportRefused(f"{path}: the columns {name!r} and {other!r} cannot both be there")


def _read_jsonl(handle, channel: Channel) -> list[Candidate]:
    orders = _Orders(channel)
    for number, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            orders.reject(Record(number, text.rstrip("\r\n")), f"malformed JSON on line {number}: {exc}")
            continue
        record = Record(number, value)
        if not isinstance(value, dict):
            orders.reject(record, f"line {number} is not a JSON object")
            continue
        # The reason a rejected file gives is not part of the order when that file is re-imported.
        canonical = {name: v for name, v in value.items() if name != REASON}
        if "lines" not in value and any(name in value for name in LINE_FIELDS):
            orders.line(record, _flatten(canonical))
        else:
            try:
                orders.whole(record, channel.to_order(value if channel.mapping else canonical))
            except MappingError as exc:
                orders.reject(record, reason_for([FieldError(exc.field, exc.message)]))
    return orders.finish()


# -- submitting ------------------------------------------------------------------------------------


async def connect() -> Client:
    """The Temporal client of the settings; ImportUnavailable when the server cannot be reached."""
    # The SDK's core logs each retry of a failing call at WARN on stderr, across the
    # progress bar; the import reports the failure itself, once.
    quiet = LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
    Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=quiet)), error_if_already_set=False)
    try:
        return await temporal_client.connect()
    except Exception as exc:  # the SDK raises a bare RuntimeError when the server is unreachable
        problem = str(exc)
    # Drop the failed native client now, not at interpreter exit (see import_orders).
    gc.collect()
    settings = get_settings()
    raise ImportUnavailable(
        f"cannot reach Temporal at {settings.temporal_address} (namespace {settings.temporal_namespace}): {problem}"
    )


async def _submit_one(client: Client, candidate: Candidate) -> tuple[Outcome, str | None]:
    try:
        accepted = await submit_order(client, candidate.payload)
    except IntakeRejected as exc:
        return Outcome.REJECTED, reason_for(exc.errors)
    except _INFRASTRUCTURE as exc:
        return Outcome.FAILED, str(exc)
    except Exception as exc:  # one odd order must not stop the other thousands
        log.exception("order on line %s could not be imported", candidate.records[0].line)
        return Outcome.REJECTED, f"could not be imported: {type(exc).__name__}: {exc}"
    return (Outcome.CREATED if accepted.created else Outcome.PRESENT), None


async def submit_orders(
    client: Client,
    candidates: list[Candidate],
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[Outcome, Summary], None] = lambda outcome, summary: None,
    stop: asyncio.Event | None = None,
) -> Summary:
    """Submit every candidate, at most ``concurrency`` at once.

    The first infrastructure failure, or ``stop``, ends the submitting; orders
    in flight finish. Rejections are set on the candidates (``problem`` or
    ``reason``).
    """
    summary = Summary()
    started = time.monotonic()
    slots = asyncio.Semaphore(concurrency)
    stop = stop or asyncio.Event()
    in_flight: set[asyncio.Task] = set()

    def finish(outcome: Outcome, candidate: Candidate, detail: str | None) -> None:
        if outcome is Outcome.REJECTED:
            candidate.reason = detail
        elif outcome is Outcome.FAILED and summary.failure is None:
            summary.failure = detail
            stop.set()
        summary.count(outcome)
        on_done(outcome, summary)

    async def run(candidate: Candidate) -> None:
        try:
            outcome, detail = await _submit_one(client, candidate)
            finish(outcome, candidate, detail)
        finally:
            slots.release()

    for candidate in candidates:
        if candidate.problem is not None:
            finish(Outcome.REJECTED, candidate, candidate.problem)
            continue
        if not stop.is_set():
            await slots.acquire()
        if stop.is_set():
            summary.not_submitted += 1
            continue
        task = asyncio.create_task(run(candidate))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.gather(*in_flight)
    summary.interrupted = stop.is_set() and summary.failure is None
    summary.seconds = time.monotonic() - started
    return summary


async def import_orders(
    orders: OrderFile,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[Outcome, Summary], None] = lambda outcome, summary: None,
    stop: asyncio.Event | None = None,
) -> Summary:
    """Connect to Temporal and submit the file's orders; raises ImportUnavailable."""
    client = await connect()
    try:
        return await submit_orders(client, orders.candidates, concurrency, on_done, stop)
    finally:
        # The SDK's native client, when still alive at interpreter exit, can crash the
        # process (PyGILState_Release / SIGSEGV) and turn exit code 0 into 134 or 139.
        del client
        gc.collect()


# -- the rejected file -----------------------------------------------------------------------------


def write_rejected(orders: OrderFile) -> Path | None:
    """``<stem>.rejected.csv|jsonl`` beside the input: the rejected orders' records, each with
    its order's reason, in file order. None (and no file) when nothing was rejected."""
    rows = sorted(
        (
            (record, candidate.problem or candidate.reason)
            for candidate in orders.candidates
            if candidate.problem is not None or candidate.reason is not None
            for record in candidate.records
        ),
        key=lambda row: row[0].line,
    )
    if not rows:
        return None
    target = rejected_path(orders.path)
    with target.open("w", encoding="utf-8", newline="") as handle:
        if orders.format == "csv":
            _write_csv(handle, orders.header or [], rows)
        else:
            for record, reason in rows:
                original = record.original if isinstance(record.original, dict) else {"raw": record.original}
                handle.write(json.dumps({**original, REASON: reason}, ensure_ascii=False) + "\n")
    return target


def _write_csv(handle, header: list[str], rows: list[tuple[Record, str | None]]) -> None:
    names = [name.strip() for name in header]
    at = names.index(REASON) if REASON in names else None
    writer = csv.writer(handle)
    writer.writerow(header if at is not None else [*header, REASON])
    for record, reason in rows:
        cells = (list(record.original) + [""] * len(header))[: len(header)]
        if at is None:
            cells.append(reason)
        else:
            cells[at] = reason
        writer.writerow(cells)
