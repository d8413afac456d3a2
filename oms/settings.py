"""One settings object, read once; every knob has an OMS_* environment variable."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-only-secret-change-me-in-production-0123456789"
MIN_SECRET_KEY = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = ""  # empty: SQLite file in data_dir
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    # mTLS to the Temporal frontend: PEM files; a CA alone verifies the server, cert + key also sign us in.
    temporal_tls_ca: Path | None = None
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    task_queue: str = "oms-orders"
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    # Where people reach the pages (links in staff e-mails); empty: http://web_host:web_port.
    public_url: str = ""
    # Shown beside amounts of orders whose document names no currency.
    currency: str = "EUR"
    # Signs tokens, cookies and CSRF tokens: outside dev mode, at least MIN_SECRET_KEY random characters.
    secret_key: str = DEV_SECRET_KEY
    token_minutes: int = 12 * 60
    # The embedded dev stack only (`oms up` turns it on): dev users, demo data, predictable webhook secrets.
    dev_mode: bool = False
    dev_password: str = "oms-dev"
    definitions_dir: Path = Path(__file__).resolve().parent.parent / "definitions"
    worker_threads: int = 32
    # Worker tuning (bench/README.md, "lifecycle": the figures behind each default).
    # Workflows kept in memory between tasks; an evicted one replays its history when it next moves.
    worker_max_cached_workflows: int = 1000
    # Workflow tasks and local activities run at once (0: the SDK's default), and task pollers. A worker that
    # caches workflows needs at least 2 workflow tasks and 2 pollers (the SDK refuses to start otherwise).
    worker_workflow_tasks: int = Field(default=0, ge=0)
    worker_local_activities: int = Field(default=0, ge=0)
    worker_pollers: int = Field(default=5, ge=2)
    # Run workflow code in Temporal's sandbox (per-run module isolation and checks of non-deterministic
    # calls). Off: about 10 % less worker CPU; determinism is then guarded by the replay tests only.
    worker_sandbox: bool = True
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
    # Each carrier's tracking webhook (POST /api/carriers/{name}/events) is signed with its own secret,
    # OMS_CARRIER_SECRET_<NAME> (read from the environment, not a field here); dev mode without one:
    # dev-secret-carrier-<name>.
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
    # ---- the exposed surface (README "Security notes") ----
    # Outbound webhooks (notifications, channel status pushes) refuse loopback, private, link-local
    # and metadata addresses unless a comma-separated entry here names the host, the IP or its network
    # (e.g. "127.0.0.1,10.0.0.0/8,hooks.internal").
    outbound_allowlist: str = ""
    # Base URLs the flows' http steps may name as `endpoint:` (JSON: {"fraud": "https://risk.internal/api"}).
    # The operator's, per installation: their hosts are trusted like the allowlist's, plain http included.
    http_endpoints: dict[str, str] = {}
    # Largest body a signed webhook (channel orders, carrier tracking) may send; refused before the
    # signature is checked. Any other request: max_request_bytes.
    webhook_max_bytes: int = 256 * 1024
    max_request_bytes: int = 2 * 1024 * 1024
    # Signed webhooks carry X-OMS-Timestamp (Unix seconds), signed with the body; older or newer than
    # this by more is a replay and refused.
    webhook_tolerance_seconds: int = 300
    # Sign-in attempts that fail, per account and per client address, within sign_in_window_seconds.
    sign_in_attempts_per_account: int = 10
    sign_in_attempts_per_address: int = 30
    sign_in_window_seconds: int = 300
    # Behind a TLS-terminating proxy: trust its X-Forwarded-For/-Proto from these addresses
    # (comma-separated, "*" for any); cookies are then Secure when the client used https.
    forwarded_allow_ips: str = "127.0.0.1"
    # Always mark cookies Secure (a deployment served only over https).
    secure_cookies: bool = False
    # When set, GET /metrics needs "Authorization: Bearer <this token>".
    metrics_token: str = ""

    @field_validator("worker_workflow_tasks")
    @classmethod
    def _two_workflow_tasks(cls, value: int) -> int:
        if value == 1:
            raise ValueError("0 (the SDK's default) or at least 2: a worker that caches workflows needs two")
        return value

    def insecure(self) -> str | None:
        """Why this configuration must not serve outside dev mode, or None."""
        if self.dev_mode:
            return None
        if self.secret_key == DEV_SECRET_KEY:
            return "OMS_SECRET_KEY is the built-in development key"
        if len(self.secret_key) < MIN_SECRET_KEY:
            return f"OMS_SECRET_KEY is shorter than {MIN_SECRET_KEY} characters"
        return None

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'oms.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
