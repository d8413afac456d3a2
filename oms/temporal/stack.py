"""The embedded stack's processes, started, supervised and stopped in one place.

`oms up`, the test fixtures and the benchmarks start the Temporal dev server
and the `oms` processes through `EmbeddedStack`. Used as a context manager it
stops everything it started when the block ends: normally, on an exception,
or on Ctrl-C or SIGTERM. Every child runs in its own session (process group):
a signal meant for the stack reaches the stack alone, which stops its children
in order, and stopping a child stops whatever it started.

With a `RestartPolicy` (`oms up`) the stack is a supervisor: `supervise()`
restarts a child that ended on its own, after a backoff, and gives up when one
crashes too often; the children then also die with the supervisor, even when it
is killed with SIGKILL. Without one (test fixtures, benchmarks) a child that
ends stays ended: the fixture that killed it on purpose starts it again.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from oms.temporal.dev_server import spawn_dev_server, wait_for_port

log = logging.getLogger(__name__)

STOP_TIMEOUT = 15.0  # seconds a child has to stop before it is killed
TEMPORAL = "temporal"  # the child every other one needs: stopped last
PREPARE_DEV_DATA = "from oms.bootstrap import prepare\nprepare(seed=True)"
PR_SET_PDEATHSIG = 1  # linux/prctl.h

SignalHandler = Callable[[int, FrameType | None], object] | int


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _signal_handlers(handler_for: Mapping[int, SignalHandler]) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; its own handlers stay in charge
        return
    previous = {signum: signal.signal(signum, handler) for signum, handler in handler_for.items()}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if handler is not None:
                signal.signal(signum, handler)


def interrupt_on_signals() -> AbstractContextManager[None]:
    """Within the block, Ctrl-C and SIGTERM raise KeyboardInterrupt, so clean-up code runs.

    SIGINT is set explicitly: a job started in the background inherits it ignored.
    """
    return _signal_handlers({signal.SIGINT: signal.default_int_handler, signal.SIGTERM: _interrupt})


def signals_ignored() -> AbstractContextManager[None]:
    """Within the block, Ctrl-C and SIGTERM are ignored: a second Ctrl-C cannot cut a clean-up short."""
    return _signal_handlers({signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: signal.SIG_IGN})


def prepare_dev_data(env: Mapping[str, str], cwd: Path | None = None) -> None:
    """What `oms up` adds to its database, in the one ``env`` names: dev users and demo data (idempotent)."""
    subprocess.run([sys.executable, "-c", PREPARE_DEV_DATA], cwd=cwd, env=dict(env), check=True)


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A pre-exec hook that has the kernel send SIGTERM to the child when this process dies (Linux only).

    Resolved here, in the parent: between fork and exec the child only makes the call.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the call: nobody would send the signal
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


@dataclass(frozen=True)
class RestartPolicy:
    """How a supervising stack treats a child that ended on its own.

    It is restarted after ``first_delay`` seconds, doubling with each further
    crash within ``window`` seconds up to ``max_delay``; the crash after
    ``max_crashes`` within ``window`` stops the whole stack.
    """

    max_crashes: int = 5
    window: float = 60.0
    first_delay: float = 0.5
    max_delay: float = 10.0

    def delay(self, recent_crashes: int) -> float:
        return min(self.max_delay, self.first_delay * 2 ** max(recent_crashes - 1, 0))


class GaveUp(RuntimeError):
    """A child crashed more often than the restart policy allows; the stack stops."""


@dataclass
class Child:
    """A process of the stack, in its own session: signalled as a group.

    ``launch`` starts it (again); ``ready`` returns once a new process serves
    (or raises if it ends first); ``crashes`` are the times it ended on its own.
    """

    name: str
    process: subprocess.Popen
    launch: Callable[[], subprocess.Popen]
    stop_signal: int = signal.SIGTERM
    log: Path | None = None
    ready: Callable[[subprocess.Popen], None] | None = None
    crashes: deque[float] = field(default_factory=deque)

    def send(self, signum: int) -> None:
        if self.process.poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def wait(self, timeout: float) -> None:
        """Wait until it has ended (SIGKILL when ``timeout`` passes first); then kill what is left of its group."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.sweep()

    def sweep(self) -> None:
        """SIGKILL anything the ended process left in its process group."""
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    @property
    def where(self) -> str:
        return f"; see {self.log}" if self.log else ""


class EmbeddedStack:
    """The processes of one embedded stack: a Temporal dev server and `oms` commands.

    ``env`` is the environment of the `oms` children (default: this process's).
    With ``log_dir`` each child writes its output to ``<log_dir>/<name>.log``,
    else it shares this process's terminal. With ``handle_signals`` (default)
    the `with` block turns Ctrl-C and SIGTERM into KeyboardInterrupt, so that
    leaving it stops every child. With ``restart`` the stack can `supervise()`
    its children (see `RestartPolicy`), and they die with it.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
        cwd: Path | None = None,
        handle_signals: bool = True,
        restart: RestartPolicy | None = None,
    ) -> None:
        self.env = dict(os.environ if env is None else env)
        self.log_dir = log_dir
        self.cwd = cwd
        self.handle_signals = handle_signals
        self.restart = restart
        self.children: dict[str, Child] = {}
        self._exit = ExitStack()
        self._holding = False
        self._held_signal: int | None = None
        self._pre_exec = _die_with_parent_hook() if restart is not None else None

    def __enter__(self) -> EmbeddedStack:
        if self.handle_signals:
            handlers: dict[int, SignalHandler] = {signal.SIGINT: self._on_signal, signal.SIGTERM: self._on_signal}
            self._exit.enter_context(_signal_handlers(handlers))
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.stop_all()
        finally:
            self._exit.close()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._holding:
            self._held_signal = signum  # raised once the child being started is on record
            return
        raise KeyboardInterrupt

    @contextmanager
    def _signals_held(self) -> Iterator[None]:
        """No KeyboardInterrupt between forking a child and recording it: no child escapes the stop."""
        self._holding, self._held_signal = True, None
        try:
            yield
        finally:
            self._holding = False
        if self._held_signal is not None:
            raise KeyboardInterrupt

    def _add(
        self,
        name: str,
        launch: Callable[[], subprocess.Popen],
        stop_signal: int,
        log: Path | None,
        ready: Callable[[subprocess.Popen], None] | None = None,
    ) -> Child:
        if name in self.children and self.children[name].process.poll() is None:
            raise RuntimeError(f"`{name}` is running already")
        with self._signals_held():
            self.children[name] = Child(name, launch(), launch, stop_signal, log, ready)
        return self.children[name]

    def start_temporal(
        self,
        db_file: Path,
        port: int,
        ui_port: int | None = None,
        ip: str = "127.0.0.1",
        log_file: Path | None = None,
        timeout: float = 60,
    ) -> Child:
        """The Temporal dev server on a SQLite file (WAL pragmas, see dev_server); returns once it listens."""
        if log_file is None and self.log_dir is not None:
            log_file = self.log_dir / "temporal.log"

        def launch() -> subprocess.Popen:
            return spawn_dev_server(db_file, port, ui_port, log_file, ip, preexec_fn=self._pre_exec)

        def ready(process: subprocess.Popen) -> None:
            wait_for_port(ip, port, timeout, process=process)

        child = self._add(TEMPORAL, launch, signal.SIGTERM, log_file, ready)
        ready(child.process)
        return child

    def start(
        self, command: str, ready: Callable[[subprocess.Popen], None] | None = None, module: str = "oms.cli"
    ) -> Child:
        """`python -m oms.cli <command>` (worker, web) with the stack's environment, in its own session
        (``module``: `python -m <module>` instead, under the name ``command``).

        It is stopped with SIGINT, the signal both commands shut down gracefully on.
        ``ready`` (see `Child`) is used when the supervisor restarts it.
        """
        log = self.log_dir / f"{command}.log" if self.log_dir is not None else None

        def launch() -> subprocess.Popen:
            with open(log, "ab") if log is not None else nullcontext() as out:  # the child keeps its own copy
                return subprocess.Popen(
                    [sys.executable, "-m", module, *([command] if module == "oms.cli" else [])],
                    cwd=self.cwd,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT if out else None,
                    start_new_session=True,
                    preexec_fn=self._pre_exec,
                )

        return self._add(command, launch, signal.SIGINT, log, ready)

    def start_app(self, web_host: str, web_port: int, seed: bool = False, timeout: float = 60) -> None:
        """`oms web`, until it listens (it migrates the database and publishes the shipped
        definitions); then, if ``seed``, the dev users and demo data; then `oms worker`."""
        web = self.start("web", ready=lambda process: wait_for_port(web_host, web_port, timeout, process=process))
        assert web.ready is not None
        web.ready(web.process)
        if seed:
            prepare_dev_data(self.env, self.cwd)
        self.start("worker")

    def wait_for_port(self, name: str, host: str, port: int, timeout: float = 60) -> None:
        """Return once ``host:port`` accepts connections; fail if child ``name`` ends first."""
        wait_for_port(host, port, timeout, process=self.children[name].process)

    def ended(self) -> list[Child]:
        return [child for child in self.children.values() if child.process.poll() is not None]

    def check(self) -> None:
        """Raise if a child has ended, naming its log."""
        for child in self.ended():
            raise RuntimeError(f"`{child.name}` exited with code {child.process.returncode}{child.where}")

    def wait_any(self, poll: float = 0.5) -> list[Child]:
        """Block until a child ends; returns the ended ones."""
        while not (ended := self.ended()):
            time.sleep(poll)
        return ended

    def supervise(self, poll: float = 0.2) -> None:
        """Restart each child that ends, as the restart policy says, until a signal stops the stack.

        Raises KeyboardInterrupt on Ctrl-C or SIGTERM (with ``handle_signals``), and `GaveUp`
        when a child crashes more often than allowed; leaving the `with` block then stops the rest.
        """
        if self.restart is None:
            raise RuntimeError("supervise() needs a RestartPolicy")
        while True:
            for child in self.ended():
                self._restart(child, self.restart)
            time.sleep(poll)

    def _restart(self, child: Child, policy: RestartPolicy) -> None:
        now, code = time.monotonic(), child.process.returncode
        child.sweep()
        child.crashes.append(now)
        while child.crashes[0] < now - policy.window:
            child.crashes.popleft()
        crashes = len(child.crashes)
        if crashes > policy.max_crashes:
            raise GaveUp(
                f"`{child.name}` crashed {crashes} times within {policy.window:g}s (last exit code {code})"
                f"{child.where}; giving up"
            )
        delay = policy.delay(crashes)
        log.warning(
            "`%s` exited with code %s%s; restarting it in %gs (crash %d of %d allowed within %gs)",
            child.name,
            code,
            child.where,
            delay,
            crashes,
            policy.max_crashes,
            policy.window,
        )
        time.sleep(delay)
        with self._signals_held():
            child.process = child.launch()
        log.warning("`%s` restarted (pid %d)", child.name, child.process.pid)
        if child.ready is not None:
            try:
                child.ready(child.process)
            except RuntimeError as exc:  # it ended again, or does not listen: the next round sees to it
                log.warning("`%s` did not come back: %s", child.name, exc)

    def stop(self, name: str, timeout: float = STOP_TIMEOUT) -> None:
        """Stop one child (its stop signal, SIGKILL after ``timeout``) and forget it."""
        child = self.children.pop(name)
        child.send(child.stop_signal)
        child.wait(timeout)

    def kill(self, name: str) -> None:
        """SIGKILL one child, as a crash would end it, and forget it."""
        child = self.children.pop(name)
        child.send(signal.SIGKILL)
        child.process.wait(timeout=10)
        child.sweep()

    def stop_all(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop every child: the `oms` processes at once, then the dev server they need to shut down cleanly.

        Each gets its stop signal, SIGKILL after ``timeout``; Ctrl-C and SIGTERM cannot cut this short.
        """
        with signals_ignored():
            children = list(reversed(self.children.values()))
            for wave in ([c for c in children if c.name != TEMPORAL], [c for c in children if c.name == TEMPORAL]):
                for child in wave:
                    child.send(child.stop_signal)
                for child in wave:
                    child.wait(timeout)
                    self.children.pop(child.name, None)
