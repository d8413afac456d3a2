"""What the benchmarks share: options, the embedded stack, databases, a CPU meter, percentiles, the report.

Benchmarks run from the repository root as modules: `.venv/bin/python -m bench.<name>`.
"""

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from oms.temporal.dev_server import free_port
from oms.temporal.stack import EmbeddedStack, interrupt_on_signals

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PASSWORD = "oms-dev"  # the dev users' password on a benchmark's own stack
PG_ADMIN_URL = os.environ.get("OMS_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def run(main: Callable[[], int | None]) -> None:
    """Run a benchmark: Ctrl-C and SIGTERM take the clean-up path (every process and database it made), exit 130."""
    try:
        with interrupt_on_signals():
            code = main()
    except (KeyboardInterrupt, asyncio.CancelledError):  # asyncio.run ends a cancelled run with CancelledError
        print("\ninterrupted: everything this run started is stopped", file=sys.stderr)
        code = 130
    sys.exit(code or 0)


def arguments(doc: str, **defaults: Any) -> argparse.Namespace:
    """``--name`` options typed like their defaults: a bool is a ``--x/--no-x`` switch, a tuple the choices."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in defaults.items():
        flag, shown = "--" + name.replace("_", "-"), f"default: {default[0] if isinstance(default, tuple) else default}"
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        elif isinstance(default, tuple):
            parser.add_argument(flag, choices=default, default=default[0], help=shown)
        else:
            parser.add_argument(flag, type=type(default), default=default, help=shown)
    return parser.parse_args()


def oms_settings(database_url: str, data_dir: Path, **more: object) -> dict[str, str]:
    """The OMS_* variables of a benchmark's database; dev mode: the dev users sign in with PASSWORD."""
    values = {"database_url": database_url, "data_dir": data_dir, "dev_mode": "true", "dev_password": PASSWORD}
    return {f"OMS_{k.upper()}": str(v) for k, v in (values | {"log_level": "WARNING"} | more).items()}


class BenchStack(EmbeddedStack):
    """Dev server, `oms web`, dev users and demo data, `oms worker`: free ports, SQLite in a temporary folder."""

    def __init__(self, database_url: str | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="oms-bench-"))
        self.db_file, self.web_port = self.folder / "oms.db", free_port()
        self.temporal_address, self.base_url = f"127.0.0.1:{free_port()}", f"http://127.0.0.1:{self.web_port}"
        queue, url = f"oms-bench-{uuid.uuid4().hex[:6]}", database_url or f"sqlite:///{self.db_file}"
        more = {"temporal_address": self.temporal_address, "task_queue": queue, "web_port": self.web_port}
        more |= {"web_host": "127.0.0.1", "worker_nice": 10}  # the worker's priority as `oms up` gives it
        super().__init__(os.environ | oms_settings(url, self.folder, **more), log_dir=self.folder, cwd=ROOT)

    def __enter__(self) -> "BenchStack":
        super().__enter__()
        try:
            print(f"starting the embedded stack in {self.folder}: web on {self.base_url}", flush=True)
            self.start_temporal(self.folder / "temporal.db", int(self.temporal_address.rsplit(":", 1)[1]))
            self.start_app("127.0.0.1", self.web_port, seed=True, timeout=90)
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            super().__exit__(*exc_info)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def read(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        """Rows of the stack's read model: its SQLite file opened read-only (cheap enough to poll during a run),
        or its PostgreSQL database."""
        if (url := self.env["OMS_DATABASE_URL"]).startswith("sqlite"):
            with sqlite3.connect(f"file:{self.db_file}?mode=ro", uri=True, timeout=30) as lite:
                return lite.execute(sql, params).fetchall()
        with psycopg.connect(url.replace("+psycopg", "")) as db:
            return db.execute(sql.replace("?", "%s"), params).fetchall()


def configure(database_url: str, data_dir: Path, **more: object) -> None:
    """Point this process's OMS settings at a database (and other OMS_* values) before oms reads them."""
    from oms.settings import get_settings

    os.environ.update(oms_settings(database_url, data_dir, **more))
    get_settings.cache_clear()


@contextmanager
def temporary_database(kind: str) -> Iterator[str]:
    """A fresh application database, removed afterwards: a SQLite file, or a PostgreSQL database."""
    folder, name = Path(tempfile.mkdtemp(prefix="oms-bench-db-")), f"oms_bench_{uuid.uuid4().hex[:10]}"
    server = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    if kind == "postgresql":
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"sqlite:///{folder / 'oms.db'}" if kind == "sqlite" else f"{server}/{name}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if kind == "postgresql":
            from oms.db import get_engine

            get_engine().dispose()  # no pooled connection may keep the database from being dropped
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def app_database(kind: str = "sqlite") -> Iterator[str]:
    """A temporary database this process's OMS settings point at (see ``configure``)."""
    with temporary_database(kind) as url, tempfile.TemporaryDirectory(prefix="oms-bench-") as folder:
        configure(url, Path(folder))
        yield url


async def gather_limited(concurrency: int, coroutines: Iterable[Coroutine]) -> list:
    """Await every coroutine, at most ``concurrency`` at a time; the results in order."""
    slots = asyncio.Semaphore(concurrency)

    async def one(coroutine: Coroutine) -> Any:
        try:
            async with slots:
                return await coroutine
        finally:
            coroutine.close()  # one never started when the run is cancelled: no "never awaited" warning

    return await asyncio.gather(*(one(c) for c in coroutines))


def prepaid_order(n: int, tag: str, sku: str, price: float, qty: int) -> dict:
    """A prepaid web order; a street and an IP of its own keep the velocity rules out of it."""
    address = {"street": f"Hauptstr. {n}", "city": "Berlin", "postal_code": "10115", "country": "DE"}
    customer = {"name": "Bench Buyer", "email": f"buyer{n}@example.com"}
    order = {"channel": "web", "external_id": f"{tag}-{n}", "customer": customer, "shipping_address": address}
    lines, payment = [{"sku": sku, "qty": qty, "price": price}], {"method": "card", "status": "paid"}
    return order | {"lines": lines, "payment": payment, "client_ip": f"2001:db8::{n // 65536:x}:{n % 65536:x}"}


def rss_mib(pid: int) -> int:
    return int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0]) // 1024


async def login(client: Any, username: str = "channel", password: str = PASSWORD) -> dict[str, str]:
    """The Authorization header of a dev user."""
    response = await client.post("/api/auth/token", data={"username": username, "password": password})
    if response.status_code != 200:
        raise RuntimeError(f"login as `{username}` failed: {response.status_code} {response.text[:200]}")
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def api_client(username: str = "analyst") -> Any:
    """The web app in-process (no Temporal: its lifespan is not started), signed in as a dev user."""
    from fastapi.testclient import TestClient

    from web.app import create_app

    client = TestClient(create_app())
    response = client.post("/api/auth/token", data={"username": username, "password": PASSWORD})
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; NaN when there are no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(1, min(len(ordered), int(-(-pct * len(ordered) // 100)))) - 1]


def spread(values: list[float], scale: float = 1.0) -> dict[str, float | None]:
    """p50, p95, p99, max and mean of ``values`` times ``scale`` (1000: seconds to milliseconds)."""
    if not values:
        return dict.fromkeys(("p50", "p95", "p99", "max", "mean"))
    figures = {f"p{q}": percentile(values, q) for q in (50, 95, 99)} | {"max": max(values)}
    return {k: round(v * scale, 1) for k, v in (figures | {"mean": sum(values) / len(values)}).items()}


def _cpu_s(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    except (OSError, IndexError, ValueError):
        return None


def _machine_busy_s() -> float:
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


class CpuMeter:
    """CPU seconds of named processes, of this one ("this process") and of the whole machine ("machine").
    Other jobs on a 2-core machine move every figure: "others" is how busy they kept it (the machine minus the rest)."""

    def __init__(self, pids: dict[str, int] | None = None) -> None:
        self.pids = dict(pids or {})

    def read(self) -> dict[str, float | None]:
        sample = {name: _cpu_s(pid) for name, pid in self.pids.items()}
        return sample | {"this process": time.process_time(), "machine": _machine_busy_s(), "wall": time.perf_counter()}

    def used(self, before: dict, after: dict) -> dict[str, float]:
        """CPU seconds between two readings, and the wall-clock seconds ("wall")."""
        out = {name: after[name] - before[name] for name in before if None not in (before[name], after.get(name))}
        out["others"] = out["machine"] - sum(v for k, v in out.items() if k not in ("machine", "wall"))
        return out

    def cores(self, before: dict, after: dict) -> dict[str, float]:
        """Cores busy between two readings (1.0 = one core all the time)."""
        used = self.used(before, after)
        return {name: round(v / used["wall"], 3) for name, v in used.items() if name != "wall"}


def _shown(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,}" if isinstance(value, int) else f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, dict):
        return "  ".join(f"{k} {_shown(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(map(_shown, value))
    return str(value)


def report(title: str, figures: dict[str, Any], verdicts: Iterable[tuple[str, bool]] = (), **details: Any) -> int:
    """Print the figures (one line each; a dict of dicts one line per entry) and the verdicts, write all as JSON
    (to ``details["output"]`` or bench/results/<first word of the title>.json); exit code 1 if a verdict is missed."""
    line, verdicts = "-" * 100, list(verdicts)
    print(f"\n{line}\n{title}\n{line}")
    for name, value in figures.items():
        rows = value.items() if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()) else None
        for label, shown in [(f"{name}: {k}", _shown(v)) for k, v in rows] if rows else [(name, _shown(value))]:
            print(f"{label:<48} {shown}")
    for text, ok in verdicts:
        print(f"{'MET   ' if ok else 'MISSED'}  {text}")
    path = Path(details.pop("output", RESULTS / f"{title.split(':')[0].split()[0]}.json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    host = {"cpus": os.cpu_count(), "load_average_at_end": os.getloadavg(), "time": time.strftime("%FT%T%z")}
    everything = {"title": title, **figures, "verdicts": verdicts, **details, "host": host}
    path.write_text(json.dumps(everything, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    print(f"{line}\nresults written to {path}")
    return 0 if all(ok for _, ok in verdicts) else 1
