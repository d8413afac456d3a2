"""The `oms` command."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from oms.users_cli import users

app = typer.Typer(
    help="Order management whose pipeline is data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(users, name="users")


def _refuse_insecure(command: str) -> None:
    """Outside dev mode, no serving with the built-in or a short secret key."""
    from oms.settings import MIN_SECRET_KEY, get_settings

    problem = get_settings().insecure()
    if problem:
        typer.echo(
            f"oms {command}: refusing to start: {problem}. Set OMS_SECRET_KEY to at least {MIN_SECRET_KEY} random "
            f"characters (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`); "
            f"OMS_DEV_MODE=true is for the embedded dev stack only.",
            err=True,
        )
        raise typer.Exit(2)


def _logging() -> None:
    from oms.logs import configure
    from oms.settings import get_settings

    configure(get_settings().log_level, get_settings().log_format)


@app.command()
def validate(paths: Annotated[list[Path], typer.Argument(help="definition files or folders")]) -> None:
    """Validate definitions: one line per error, `file:json-path: message`; exit 1 if any."""
    from services.definitions.publishing import definition_files, validate_files

    missing = [p for p in paths if not p.exists()]
    for path in missing:
        typer.echo(f"{path}: no such file or folder", err=True)
    files = definition_files([p for p in paths if p.exists()])
    problems = validate_files(files)
    for file, error in problems:
        typer.echo(f"{file}:{error.path}: {error.message}")
    if problems or missing:
        raise typer.Exit(1)
    typer.echo(f"{len(files)} definition(s) valid")


@app.command()
def worker() -> None:
    """Run a worker: order workflows and activities (scale these horizontally)."""
    _logging()
    _refuse_insecure("worker")
    from oms.settings import get_settings
    from oms.worker import run_worker

    if get_settings().worker_nice:
        # On one machine, taking orders comes first; the work behind them is durable and catches up.
        os.nice(get_settings().worker_nice)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker())


@app.command()
def web(
    host: Annotated[str | None, typer.Option(help="default OMS_WEB_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default OMS_WEB_PORT")] = None,
) -> None:
    """Run the web app and API."""
    _logging()
    _refuse_insecure("web")
    import uvicorn

    from oms.bootstrap import prepare
    from oms.settings import get_settings

    settings = get_settings()
    prepare(seed=False)
    # Logging stays as oms.logs set it up; requests are counted in /metrics, not logged one by one.
    # Behind a TLS proxy: the client's address and scheme from X-Forwarded-For/-Proto, trusted only
    # from OMS_FORWARDED_ALLOW_IPS (sign-in throttling per address, Secure cookies).
    uvicorn.run(
        "web.app:create_app",
        factory=True,
        host=host or settings.web_host,
        port=port or settings.web_port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


# `oms up` runs everything on one machine: the worker yields the CPU to intake.
EMBEDDED_WORKER_NICE = 10


@app.command()
def up(
    max_crashes: Annotated[
        int,
        typer.Option(
            envvar="OMS_UP_MAX_CRASHES",
            min=0,
            help="restarts allowed per process within --crash-window; one crash more stops everything",
        ),
    ] = 5,
    crash_window: Annotated[
        float, typer.Option(envvar="OMS_UP_CRASH_WINDOW", min=1, help="seconds over which crashes are counted")
    ] = 60.0,
) -> None:
    """The embedded stack: Temporal dev server, worker and web app; restarts a crashed one; Ctrl-C stops all."""
    # The embedded stack is the dev stack: dev users, demo data (its children inherit the setting).
    os.environ.setdefault("OMS_DEV_MODE", "true")
    _logging()
    from oms.bootstrap import prepare
    from oms.settings import get_settings
    from oms.temporal.dev_server import wait_for_port
    from oms.temporal.stack import EmbeddedStack, RestartPolicy

    settings = get_settings()
    data = settings.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    host, _, port = settings.temporal_address.rpartition(":")
    ui_port = int(settings.temporal_ui_url.rsplit(":", 1)[-1].split("/")[0])
    env = {**os.environ, "OMS_DATA_DIR": str(data)}
    env.setdefault("OMS_WORKER_NICE", str(EMBEDDED_WORKER_NICE))
    policy = RestartPolicy(max_crashes=max_crashes, window=crash_window)

    def web_listens(process: subprocess.Popen) -> None:
        wait_for_port(settings.web_host, settings.web_port, timeout=60, process=process)

    # Leaving the block stops every process, also on Ctrl-C, SIGTERM and giving up.
    with EmbeddedStack(env, restart=policy) as stack:
        try:
            typer.echo(f"starting Temporal dev server ({data / 'temporal.db'}) ...")
            stack.start_temporal(data / "temporal.db", int(port), ui_port, ip=host, log_file=data / "temporal.log")
            report = prepare(seed=True)
            if report["published"]:
                typer.echo("published: " + ", ".join(report["published"]))
            if report["seeded"]:
                typer.echo("seeded demo warehouses, SKUs, stock and customers")
            stack.start("worker")
            web = stack.start("web", ready=web_listens)
            web_listens(web.process)
            base = f"http://{settings.web_host}:{settings.web_port}"
            typer.echo(
                f"\nOMS is up.\n"
                f"  web app      {base}\n"
                f"  API docs     {base}/docs\n"
                f"  Temporal UI  {settings.temporal_ui_url}\n"
                f"  dev logins   admin, analyst, operator, channel / password {settings.dev_password!r}"
                f" (OMS_DEV_PASSWORD)\n"
                f"  data         {data}\n"
                f"Press Ctrl-C to stop."
            )
            stack.supervise()
        except KeyboardInterrupt:
            typer.echo("\nstopping ...")
        except RuntimeError as exc:  # GaveUp, or a process that did not start
            typer.echo(f"oms up: {exc}; stopping everything", err=True)
            raise typer.Exit(1) from None


@app.command()
def migrate() -> None:
    """Bring the database schema to this version (`oms web` and `oms up` do it on start)."""
    _logging()
    from oms import migrate as migrations

    before, after = migrations.upgrade()
    typer.echo(f"database schema at {after}" + (f" (was {before or 'empty'})" if before != after else " (unchanged)"))


@app.command("rebuild-analytics")
def rebuild_analytics() -> None:
    """Recompute the dashboard's day counters from every order's timeline (after importing old data)."""
    _logging()
    from oms.db import session_scope
    from services import analytics

    with session_scope() as session:
        counters = analytics.rebuild(session)
    typer.echo(f"{counters} day counters rebuilt from the orders' timelines")


@app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="orders: CSV (.csv) or JSON Lines (.jsonl, .ndjson)", exists=True, dir_okay=False, readable=True
        ),
    ],
    channel: Annotated[
        str,
        typer.Option(
            "--channel", help="the channel the orders come from; its mapping reads native JSON Lines payloads"
        ),
    ],
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="orders submitted at once")] = 16,
) -> None:
    """Import orders from a file, with the same checks as POST /api/orders.

    CSV: one row per order line, grouped into orders by external_id; columns
    external_id, sku, qty, price and the order's fields in dotted form
    (customer.name, shipping_address.country, payment.status, ...).
    JSON Lines: one order per line (the channel's native payload, or the
    canonical order), or one order line per line like the CSV rows.

    Prints `created N, already present N, rejected N`; rejected rows go to
    <stem>.rejected.csv or .jsonl beside FILE, each with its reason (a `reason`
    column or key is ignored on import, so a corrected rejected file can be
    imported as it is). Importing a file again creates nothing new.

    Exit 0 when the import ran, even with rejections; 1 when the database or
    Temporal failed (run it again to import the rest); 2 on a usage error;
    130 when interrupted.
    """
    logging.basicConfig(
        level=os.environ.get("OMS_LOG_LEVEL", "WARNING"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from tqdm import tqdm

    from services.orders import importer

    def fail(code: int, message: str) -> typer.Exit:
        typer.echo(f"oms import: {message}", err=True)
        return typer.Exit(code)

    try:
        importer.file_format(file)
        orders = importer.read_orders(file, importer.load_channel(channel))
    except importer.ImportRefused as exc:
        raise fail(2, str(exc)) from None
    except importer.ImportUnavailable as exc:
        raise fail(1, f"{exc}; nothing was imported") from None

    async def run() -> importer.Summary:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # The first Ctrl-C lets the orders in flight finish; a second one is the default abrupt stop.
        loop.add_signal_handler(signal.SIGINT, lambda: (stop.set(), loop.remove_signal_handler(signal.SIGINT)))
        # disable=None: no bar when stderr is not a terminal.
        with tqdm(
            total=len(orders.candidates),
            unit="order",
            desc=file.name,
            file=sys.stderr,
            disable=None,
            dynamic_ncols=True,
        ) as bar:

            def on_done(_: importer.Outcome, summary: importer.Summary) -> None:
                bar.set_postfix(
                    created=summary.created, present=summary.present, rejected=summary.rejected, refresh=False
                )
                bar.update(1)

            try:
                return await importer.import_orders(orders, concurrency, on_done, stop)
            finally:
                loop.remove_signal_handler(signal.SIGINT)

    try:
        summary = asyncio.run(run())
    except importer.ImportUnavailable as exc:
        raise fail(1, f"{exc}; nothing was imported") from None
    typer.echo(summary.line)
    try:
        rejected_file = importer.write_rejected(orders)
    except OSError as exc:
        raise fail(1, f"could not write the rejected rows beside {file}: {exc}") from None
    if rejected_file is not None:
        typer.echo(f"rejected rows with reasons: {rejected_file}")
    submitted = summary.created + summary.present + summary.rejected
    rate = submitted / max(summary.seconds, 1e-9)
    typer.echo(f"{submitted} orders in {summary.seconds:.1f} s ({rate:.1f} orders/s)", err=True)
    left = summary.failed + summary.not_submitted
    if summary.failure is not None:
        nothing = " nothing was imported;" if summary.created + summary.present == 0 else ""
        raise fail(
            1,
            f"stopped by an infrastructure failure: {summary.failure};{nothing} {left} order(s) not "
            f"imported (nothing stored for them): run the same command again to import them",
        )
    if summary.interrupted:
        raise fail(130, f"interrupted: {left} order(s) not imported: run the same command again to import them")


@app.command("migrate-orders")
def migrate_orders(
    flow: Annotated[str, typer.Option("--flow", help="the flow whose waiting orders and returns move")],
    source: Annotated[int, typer.Option("--from", min=1, help="the version they run now")],
    target: Annotated[int, typer.Option("--to", min=1, help="the version they move to")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show the plan per instance; move nothing")] = False,
    where: Annotated[list[str] | None, typer.Option("--where", help="filter, e.g. status=awaiting_payment")] = None,
    by: Annotated[str, typer.Option("--by", help="who moves them (on each timeline)")] = "",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=10000)] = 100,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="moves in flight at once")] = 16,
    durable: Annotated[
        bool, typer.Option("--durable", help="run it as a workflow (resumable; pause it in the designer) and follow it")
    ] = False,
) -> None:
    """Move the orders and returns waiting on one flow version to another (the Update ``migrate``).

    Each instance moves only while it waits at a step the target maps (same id and type, or its
    ``migrate:`` section); the others stay and finish on their version. Prints `movable N, blocked N`
    with the plan (--dry-run), else `moved N, already moved N, stayed N, failed N`. Running it again
    moves nothing twice. Exit 1 when an instance could not be asked (Temporal unreachable); 2 on a
    usage error (unknown version, bad filter).

    With --durable the migration is a workflow (FlowMigration): it survives a worker restart, can be
    paused and resumed from the designer, and this command only starts it and follows its progress
    (Ctrl-C stops following, not the migration). Exit 1 when it ends failed.
    """
    logging.basicConfig(
        level=os.environ.get("OMS_LOG_LEVEL", "WARNING"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    import getpass
    import json

    from tqdm import tqdm

    from services.definitions import migration
    from services.errors import DomainError

    def fail(code: int, message: str) -> typer.Exit:
        typer.echo(f"oms migrate-orders: {message}", err=True)
        return typer.Exit(code)

    try:
        filters = migration.parse_where(where or [])
        if dry_run:
            plan = migration.preview(flow, source, target, filters)
    except DomainError as exc:
        raise fail(2, exc.message) from None
    if dry_run:
        for planned in plan.rows:
            what = "stays"
            if planned.movable:
                what = f"moves to {planned.target}" + (f" (times out {planned.deadline})" if planned.deadline else "")
            why = f": {planned.reason}" if planned.reason else ""
            typer.echo(f"{planned.kind} {planned.id} {planned.status} at {planned.step or '-'} {what}{why}")
        counts = plan.counts()
        typer.echo(json.dumps({k: counts[k] for k in ("moves", "stays")}, sort_keys=True), err=True)
        typer.echo(f"movable {plan.movable}, blocked {plan.blocked}")
        return

    if durable:
        _migrate_durably(
            flow, source, target, filters, by or f"{getpass.getuser()} (oms migrate-orders)", batch_size, concurrency
        )
        return

    async def run() -> migration.Summary:
        from oms.temporal.client import connect

        client = await connect()
        with tqdm(unit="instance", desc=f"{flow} v{source}->v{target}", file=sys.stderr, disable=None) as bar:

            def on_selected(total: int) -> None:
                bar.reset(total=total)

            def on_done(_: migration.Moved, summary: migration.Summary) -> None:
                bar.set_postfix(moved=summary.moved, stayed=summary.stayed, failed=summary.failed, refresh=False)
                bar.update(1)

            return await migration.migrate(
                client,
                flow,
                source,
                target,
                by=by or f"{getpass.getuser()} (oms migrate-orders)",
                migration_id=f"{flow}-v{source}-v{target}",
                where=filters,
                batch_size=batch_size,
                concurrency=concurrency,
                on_done=on_done,
                on_selected=on_selected,
            )

    try:
        summary = asyncio.run(run())
    except DomainError as exc:
        raise fail(2, exc.message) from None
    except RuntimeError as exc:  # the Temporal client could not connect
        raise fail(1, f"{exc}; nothing was moved") from None
    for row in summary.rows:
        if row.outcome in ("stayed", "failed"):
            typer.echo(f"{row.kind} {row.id} {row.outcome} at {row.step or '-'}: {row.reason}", err=True)
    typer.echo(summary.line)
    if summary.failed:
        raise fail(1, f"{summary.failed} instance(s) could not be asked: run the same command again")


def _migrate_durably(
    flow: str, source: int, target: int, filters: dict[str, list[str]], by: str, batch_size: int, concurrency: int
) -> None:
    """Start the FlowMigration workflow and follow its progress until it finishes."""
    from tqdm import tqdm

    from services.definitions import migration_runs
    from services.errors import DomainError
    from workflows.contracts import MigrationProgress

    async def run() -> tuple[str, MigrationProgress]:
        from oms.temporal.client import connect

        client = await connect()
        row = await migration_runs.start(client, flow, source, target, by, filters, batch_size, concurrency)
        typer.echo(
            f"migration {row.id} started ({row.plan['movable']} movable, {row.plan['blocked']} blocked)", err=True
        )
        with tqdm(total=row.plan["instances"], unit="instance", desc=row.id, file=sys.stderr, disable=None) as bar:
            while True:
                _, progress = await migration_runs.progress(client, flow, row.id)
                done = progress.moved + progress.already + progress.stayed
                bar.update(done - bar.n)
                bar.set_postfix(status=progress.status, moved=progress.moved, refresh=False)
                if progress.status in migration_runs.FINISHED:
                    return row.id, await migration_runs.outcome(client, row.id)
                await asyncio.sleep(0.5)

    try:
        migration_id, progress = asyncio.run(run())
    except DomainError as exc:
        typer.echo(f"oms migrate-orders: {exc.message}", err=True)
        raise typer.Exit(1 if exc.code == "temporal_unavailable" else 2) from None
    except RuntimeError as exc:  # the Temporal client could not connect
        typer.echo(f"oms migrate-orders: {exc}; nothing was moved", err=True)
        raise typer.Exit(1) from None
    for stay in progress.stays:
        typer.echo(f"{stay['kind']} {stay['id']} stayed at {stay['step'] or '-'}: {stay['reason']}", err=True)
    typer.echo(
        f"moved {progress.moved}, already moved {progress.already}, stayed {progress.stayed}, failed {progress.failed}"
    )
    typer.echo(f"migration {migration_id} {progress.status}", err=True)
    if progress.status != "completed":
        raise typer.Exit(1)


def main() -> None:
    """Run the command, then leave without the interpreter's teardown.

    The Temporal client's native runtime keeps threads that can call into Python while the
    interpreter finalizes, which aborts a finished command (temporalio/sdk-python#300). Every
    command has done its work and closed its resources by the time ``app`` returns, so the exit
    code is settled: flush and leave.
    """
    try:
        app()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if code is not None and not isinstance(code, int):
        typer.echo(str(code), err=True)
        code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    main()
