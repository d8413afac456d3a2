"""A throw-away database for the designer benchmarks: tables, dev users, shipped definitions.

Environment variables are set before any ``oms`` import reads the settings,
so the in-process web app (FastAPI's TestClient, no Temporal needed for
these routes) uses the same database.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def prepare_database(url: str | None = None) -> str:
    """Point the settings at ``url`` (default: a new SQLite file) and make it ready."""
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="oms-bench-designer-"))
        url = f"sqlite:///{folder / 'oms.db'}"
        os.environ["OMS_DATA_DIR"] = str(folder)
    os.environ["OMS_DATABASE_URL"] = url
    os.environ.setdefault("OMS_DEV_MODE", "true")
    os.environ.setdefault("OMS_LOG_LEVEL", "WARNING")
    from oms.bootstrap import prepare

    prepare(seed=False)
    return url


def api_client():
    """The web app in-process, with a bearer token for the dev user ``analyst``."""
    from fastapi.testclient import TestClient
    from sqlmodel import Session

    from oms.auth import issue_token
    from oms.db import get_engine
    from oms.models import User
    from web.app import create_app

    with Session(get_engine()) as session:
        token = issue_token(session.get(User, "analyst"))
    client = TestClient(create_app())  # no `with`: the lifespan (Temporal client) is not started
    client.headers["Authorization"] = f"Bearer {token}"
    return client
