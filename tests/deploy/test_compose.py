"""The scaled deployment's compose file, checked without a Docker engine (none runs on these machines)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from oms.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PINNED = re.compile(r"^[\w./-]+:(\d+\.\d+(\.\d+)?[\w.-]*)$")


def test_the_services_of_the_scaled_deployment():
    assert set(SERVICES) == {"postgres", "temporal", "temporal-ui", "web", "worker"}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_image_is_pinned_to_a_version(name):
    image = SERVICES[name]["image"]
    assert PINNED.match(image), f"{name}: image {image!r} is not pinned to a version"
    assert not image.endswith(":latest")


def test_temporal_runs_on_the_same_postgresql():
    temporal = SERVICES["temporal"]
    assert temporal["image"].startswith("temporalio/")
    assert temporal["environment"]["POSTGRES_SEEDS"] == "postgres"
    assert temporal["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["temporal-ui"]["image"].startswith("temporalio/ui:")


@pytest.mark.parametrize("name", ["web", "worker"])
def test_app_environment_names_only_real_settings(name):
    fields = {f"OMS_{field.upper()}" for field in Settings.model_fields}
    environment = SERVICES[name]["environment"]
    unknown = sorted(key for key in environment if key.startswith("OMS_") and key not in fields)
    assert unknown == [], f"{name}: {unknown} are not settings of oms/settings.py"
    assert environment["OMS_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert environment["OMS_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert "${OMS_SECRET_KEY:?" in environment["OMS_SECRET_KEY"], "production needs its own secret"


def _published(service: dict) -> list[str]:
    return [str(p) for p in service.get("ports", [])]


def test_temporal_grpc_is_not_published_to_the_world():
    """Anyone reaching Temporal's gRPC port can start, signal and terminate workflows: no sign-in."""
    temporal = SERVICES["temporal"]
    assert _published(temporal) == []
    assert [str(p) for p in temporal["expose"]] == ["7233"]


def test_temporal_ui_is_bound_to_localhost_only():
    ports = _published(SERVICES["temporal-ui"])
    assert ports == ["127.0.0.1:8233:8080"]
    for name, service in SERVICES.items():
        for port in _published(service):
            assert name == "web" or port.startswith("127.0.0.1:"), f"{name} publishes {port} to every interface"


@pytest.mark.parametrize("name", ["web", "worker"])
def test_the_deployment_is_not_in_dev_mode(name):
    environment = SERVICES[name]["environment"]
    assert "OMS_DEV_MODE" not in environment and "OMS_DEV_PASSWORD" not in environment


def test_web_and_workers_share_one_configuration():
    web, worker = SERVICES["web"]["environment"], SERVICES["worker"]["environment"]
    for key in ("OMS_DATABASE_URL", "OMS_TEMPORAL_ADDRESS", "OMS_TEMPORAL_NAMESPACE", "OMS_TASK_QUEUE"):
        assert web[key] == worker[key], key


def test_workers_can_be_scaled():
    worker = SERVICES["worker"]
    assert "container_name" not in worker and "ports" not in worker, "a fixed name or host port stops --scale"
    assert worker["command"] == ["oms", "worker"]
    assert worker["depends_on"]["web"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", ["postgres", "temporal", "web", "worker"])
def test_health_checks(name):
    assert SERVICES[name]["healthcheck"]["test"], name


def test_the_app_image_is_built_from_the_dockerfile():
    assert SERVICES["web"]["build"] == "."
    assert SERVICES["web"]["image"] == SERVICES["worker"]["image"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11[\w.-]*$", dockerfile, re.M)
    for package in ("engine", "workflows", "activities", "designer", "oms", "definitions"):
        assert re.search(rf"^COPY {package} {package}$", dockerfile, re.M), package


def test_the_image_has_a_cjk_font_that_pages_and_printed_slips_name():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"apt-get install[^\n]*\bfonts-noto-cjk\b", dockerfile)
    for stylesheet in ("web/static/oms.css", "web/templates/print/document.html"):
        assert '"Noto Sans CJK SC"' in (ROOT / stylesheet).read_text(), stylesheet
