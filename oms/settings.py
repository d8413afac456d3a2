"""One settings object, read once; every knob has an OMS_* environment variable."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = ""  # empty: SQLite file in data_dir
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    task_queue: str = "oms-orders"
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    secret_key: str = "dev-only-secret-change-me-in-production-0123456789"
    token_minutes: int = 12 * 60
    dev_mode: bool = True
    dev_password: str = "oms-dev"
    definitions_dir: Path = Path(__file__).resolve().parent.parent / "definitions"
    worker_threads: int = 32
    # Customer notifications (activities/notifications.py): e-mail over SMTP ...
    smtp_host: str = ""  # empty: no e-mail is sent (the timeline says so)
    smtp_port: int = 25
    smtp_from: str = "OMS <orders@localhost>"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout: float = 10
    # ... and as signed webhooks (X-OMS-Signature: sha256=<HMAC of the body>).
    notify_webhook_url: str = ""
    notify_webhook_secret: str = ""
    # Shared secret of the carrier tracking webhook POST /api/carriers/{name}/events;
    # dev mode without one: dev-secret-carrier-<name>.
    carrier_webhook_secret: str = ""
    # CPU priority of `oms worker` (os.nice increment); `oms up` sets 10 so intake comes first.
    worker_nice: int = 0
    # host:port where a worker serves the Temporal SDK's metrics (/metrics); empty: not served.
    worker_metrics_address: str = ""
    log_level: str = "INFO"
    log_format: str = "auto"  # json | text | auto (JSON unless stderr is a terminal)
    # Accepted orders waiting for their workflow start before intake answers 503.
    intake_backlog: int = 20000
    # Orders older than this without a confirmed workflow start are started again.
    intake_sweep_seconds: float = 30.0

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'oms.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
