"""A stack that tests may damage: its own database and web app, no worker."""

from __future__ import annotations

import os
import uuid

import pytest

from oms.temporal.dev_server import free_port
from oms.temporal.stack import prepare_dev_data
from tests.conftest import PASSWORD, Stack, _database


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def scratch_stack(request, temporal_address, tmp_path_factory) -> Stack:
    """A web app on a fresh database (dev users, demo data) for tests that send arbitrary requests
    (the fuzzer, the role matrix): whatever they change, no other test sees it. Orders taken are
    stored but no worker runs them."""
    kind = request.param
    folder = tmp_path_factory.mktemp(f"scratch-{kind}")
    url, drop = _database(kind, folder)
    port = free_port()
    env = {
        **os.environ,
        "OMS_DATABASE_URL": url,
        "OMS_DATA_DIR": str(folder),
        "OMS_TEMPORAL_ADDRESS": temporal_address,
        "OMS_TASK_QUEUE": f"oms-scratch-{kind}-{uuid.uuid4().hex[:6]}",
        "OMS_WEB_HOST": "127.0.0.1",
        "OMS_WEB_PORT": str(port),
        "OMS_DEV_MODE": "true",
        "OMS_DEV_PASSWORD": PASSWORD,
        "OMS_LOG_LEVEL": "WARNING",
        "OMS_OUTBOUND_ALLOWLIST": "",
        # The fuzzer signs in with made-up names: no address should be throttled here.
        "OMS_SIGN_IN_ATTEMPTS_PER_ADDRESS": "1000000",
    }
    stack = Stack(f"scratch-{kind}", f"http://127.0.0.1:{port}", env, folder)
    stack.start("web")
    stack.embedded.wait_for_port("web", "127.0.0.1", port, 60)
    prepare_dev_data(env, stack.embedded.cwd)
    yield stack
    stack.stop()
    drop()
