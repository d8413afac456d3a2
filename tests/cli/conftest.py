"""`oms up` as a user runs it: a real process tree on free ports, seen through HTTP and /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from oms.temporal.dev_server import free_port

ROOT = Path(__file__).resolve().parents[2]
DEV_PASSWORD = "oms-dev"
T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float, what: str, every: float = 0.2) -> T:
    """Poll ``condition`` until it returns something truthy (returned); fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g}s: {what}")
        time.sleep(every)
    return value


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True)
class Proc:
    """A process as /proc shows it."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    cmdline: str

    @property
    def role(self) -> str:
        """``temporal``, ``worker``, ``web`` or ``up`` for the processes of the stack; else ``other``."""
        if "temporal" in self.cmdline and "start-dev" in self.cmdline:
            return "temporal"
        for command in ("worker", "web", "up"):
            if f"oms.cli {command}" in self.cmdline:
                return command
        return "other"


def processes() -> list[Proc]:
    """Every live process (zombies left out: they hold nothing and their parent reaps them)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            # pid (comm) state ppid pgrp session ...: comm may hold spaces and parentheses.
            state, ppid, pgid, sid = stat[stat.rindex(")") + 2 :].split()[:4]
            if state != "Z":
                found.append(Proc(int(entry.name), int(ppid), int(pgid), int(sid), state, cmdline))
    return found


def descendants(pid: int) -> list[Proc]:
    everything = processes()
    tree, frontier = [], {pid}
    while frontier:
        children = [p for p in everything if p.ppid in frontier]
        tree += children
        frontier = {p.pid for p in children}
    return tree


class OmsUp:
    """`oms up` in its own session, on free ports and a fresh data folder; its output in ``log``."""

    def __init__(self, folder: Path, **settings: str) -> None:
        self.web_port, self.grpc_port, self.ui_port = free_port(), free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.web_port}"
        self.log = folder / "up.log"
        self.env = {
            **os.environ,
            "OMS_DATA_DIR": str(folder / "data"),
            "OMS_WEB_PORT": str(self.web_port),
            "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{self.grpc_port}",
            "OMS_TEMPORAL_UI_URL": f"http://127.0.0.1:{self.ui_port}",
            "OMS_DATABASE_URL": "",
            "OMS_TASK_QUEUE": f"oms-up-test-{folder.name}",
            "OMS_DEV_PASSWORD": DEV_PASSWORD,
            **settings,
        }
        self.process: subprocess.Popen | None = None
        self.seen: dict[int, Proc] = {}  # every process of the stack observed while it ran

    @property
    def ports(self) -> tuple[int, int, int]:
        return self.web_port, self.grpc_port, self.ui_port

    def start(self) -> OmsUp:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "oms.cli", "up"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_healthy(self, timeout: float = 120) -> None:
        def healthy() -> bool:
            assert self.process is not None and self.process.poll() is None, f"oms up exited:\n{self.output()[-3000:]}"
            try:
                return httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout, "oms up serves /healthz", every=0.3)

    def children(self) -> dict[str, Proc]:
        """The stack's processes now, by role (``temporal``, ``worker``, ``web``); remembered in ``seen``."""
        tree = descendants(self.pid)
        self.seen.update({p.pid: p for p in tree})
        return {p.role: p for p in tree if p.role != "other"}

    def child(self, role: str, other_than: int | None = None, timeout: float = 60) -> Proc:
        """The running ``role`` process; with ``other_than``, once a new one has replaced that pid."""

        def current() -> Proc | None:
            found = self.children().get(role)
            return found if found is not None and found.pid != other_than else None

        return wait_until(current, timeout, f"a running `{role}` (other than pid {other_than})")

    def left_behind(self) -> list[Proc]:
        """Live processes of the stack: seen before, or in a session or process group it made."""
        assert self.process is not None
        groups = {p.pgid for p in self.seen.values()} | {p.sid for p in self.seen.values()} | {self.pid}
        return [
            p
            for p in processes()
            if p.pid in self.seen or p.pid == self.pid or p.pgid in groups or p.sid in groups
            if p.pid != os.getpid()
        ]

    def assert_nothing_left(self, timeout: float = 5) -> None:
        """No process of the stack lives on (a bound for the kernel to finish a SIGKILL)."""
        deadline = time.monotonic() + timeout
        while left := self.left_behind():
            assert time.monotonic() < deadline, f"left behind: {left}"
            time.sleep(0.1)

    def wait(self, timeout: float = 60) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def token(self, role: str) -> str:
        response = httpx.post(f"{self.base}/api/auth/token", data={"username": role, "password": DEV_PASSWORD})
        response.raise_for_status()
        return response.json()["access_token"]

    def client(self, role: str) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {self.token(role)}"}, timeout=30)

    def order(self, client: httpx.Client, order_id: str) -> dict[str, Any]:
        response = client.get(f"/api/orders/{order_id}")
        response.raise_for_status()
        return response.json()

    def clean_up(self) -> None:
        """After a failed test: SIGKILL whatever of this stack still runs (nothing, when it passed)."""
        if self.process is not None and self.process.poll() is None:
            self.children()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        for leftover in self.left_behind():
            with contextlib.suppress(ProcessLookupError):
                os.kill(leftover.pid, signal.SIGKILL)


@pytest.fixture
def oms_up(tmp_path) -> Iterator[Callable[..., OmsUp]]:
    """Start `oms up` with extra OMS_* settings and wait until it serves; SIGKILL what is left at the end."""
    started: list[OmsUp] = []

    def start(**settings: str) -> OmsUp:
        up = OmsUp(tmp_path / f"up{len(started)}", **settings)
        up.log.parent.mkdir(parents=True, exist_ok=True)
        started.append(up.start())
        up.wait_healthy()
        up.children()
        return up

    yield start
    for up in started:
        up.clean_up()
