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

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'oms.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
