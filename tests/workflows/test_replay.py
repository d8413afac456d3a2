"""Every recorded history replays against the current workflow code.

The histories in ``histories/`` were recorded (``record.py``) from real orders
and returns on the dev server. A change to workflow code that would make a
waiting order fail on its next step (a different command, in a different
order) fails here. Such a change must go behind ``workflow.patched`` (see the
README, "Changing workflow code safely").
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from oms.worker import workflow_runner
from workflows.channel_pull import ChannelPull
from workflows.order_flow import OrderWorkflow
from workflows.return_flow import ReturnWorkflow
from workflows.stock_sync import StockSync

HISTORIES = Path(__file__).resolve().parent / "histories"
FILES = sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    body = json.loads(path.read_text(encoding="utf-8"))
    return WorkflowHistory.from_json(body["workflow_id"], body["history"])


def replay(path: Path, workflows: list[type]) -> Exception | None:
    """The replay failure of ``path`` against ``workflows``, or None when it replays."""
    replayer = Replayer(workflows=workflows, workflow_runner=workflow_runner())
    result = asyncio.run(replayer.replay_workflow(load(path), raise_on_replay_failure=False))
    return result.replay_failure


def test_the_library_covers_orders_and_returns():
    names = {path.stem for path in FILES}
    assert len(names) >= 20
    assert any(n.startswith("order_") for n in names) and any(n.startswith("return_") for n in names)


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_recorded_history_replays(path):
    failure = replay(path, [OrderWorkflow, ReturnWorkflow, ChannelPull, StockSync])
    assert failure is None, f"{path.name} no longer replays: {failure}"


def test_a_change_that_alters_commands_fails_replay_and_the_patched_change_passes():
    """The rule for changing workflow code, proven on the library (README: changing workflow code safely)."""
    from tests.workflows.variants import Patched, Unpatched

    # The deliberate change adds a timer before the first step; a run continued after a move
    # starts at the step it moved to, so it never reaches that timer.
    orders = [path for path in FILES if path.stem.startswith(("order_", "v2_order_")) and "moved_then" not in path.stem]
    assert orders
    for path in orders:
        failure = replay(path, [Unpatched, ReturnWorkflow])
        assert failure is not None and "nondeterminism" in str(failure).lower(), (path.name, failure)
        assert replay(path, [Patched, ReturnWorkflow]) is None, path.name
