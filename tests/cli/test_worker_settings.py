"""Worker settings the Temporal SDK would refuse at start-up are refused when read, naming the variable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from oms.settings import Settings


@pytest.mark.parametrize(("variable", "value"), [("OMS_WORKER_POLLERS", "1"), ("OMS_WORKER_WORKFLOW_TASKS", "1")])
def test_a_worker_setting_below_what_a_caching_worker_needs_is_refused(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert refused.value.errors()[0]["loc"] == (variable.removeprefix("OMS_").lower(),)


def test_the_limited_worker_the_readme_suggests_for_one_machine_is_accepted(monkeypatch):
    for variable in ("THREADS", "WORKFLOW_TASKS", "POLLERS", "LOCAL_ACTIVITIES"):
        monkeypatch.setenv(f"OMS_WORKER_{variable}", "2")
    settings = Settings()
    assert (settings.worker_threads, settings.worker_workflow_tasks, settings.worker_pollers) == (2, 2, 2)
    assert settings.worker_local_activities == 2
