"""The one configuration object, read from PERFCYCLE_* environment variables (and .env)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_POLICY_DIR = PROJECT_ROOT / "perfcycle" / "policies"
"""The demo district's (烈山区) policy files: `perfcycle demo` runs with them, a district with its own."""


class Settings(BaseSettings):
    """Deployment-wide settings; the year's business rules live in the policy file instead."""

    model_config = SettingsConfigDict(env_prefix="PERFCYCLE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///perfcycle.db",
        description="SQLAlchemy URL of the domain database (SQLite file by default, PostgreSQL in production).",
    )
    database_wait_seconds: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="How long a command waits while another process writes to the database, before it stops and "
        "says who holds it (stage runs on a worker wait as long as another stage's transaction may take).",
    )
    policy_dir: Path = Field(
        default=Path("policies"),
        description="Folder holding the district's policy file per year, named <year>.yaml (`perfcycle init`).",
    )
    templates_dir: Path = Field(default=PROJECT_ROOT / "report_templates")
    output_dir: Path = Field(default=Path("out"), description="Where generated documents are written.")
    documents_url: str = Field(
        default="",
        description="Address at which the output folder is served (e.g. `perfcycle ui --documents out/`, "
        "http://host:4201): artifacts link each document there; unset, they state its path as text.",
    )
    render_workers: int | None = Field(
        default=None, ge=1, description="Processes that render a stage's documents (default: one per core)."
    )
    document_shares: int = Field(
        default=1,
        ge=1,
        le=64,
        description="On a Prefect server: split each stage's documents into this many render-documents runs, "
        "taken by any worker of the pool (the output folder must be shared by the workers).",
    )
    document_shares_from: int = Field(
        default=200,
        ge=1,
        description="Fewest documents a stage must have to split them in shares; fewer are written by the stage "
        "itself (starting a run on a worker costs seconds).",
    )
    submissions_dir: Path | None = Field(
        default=None,
        description="Where `perfcycle submit` files department forms when no stage has recorded a folder yet.",
    )
    timezone: str = "Asia/Shanghai"
    today: date | None = Field(
        default=None,
        description="The bureau's date when it is not the calendar's: a rehearsal, or a year walked day by day "
        "(deadlines, receipts, reminders and decisions are dated by it). Unset in production.",
    )

    # The workbench (`perfcycle web`): who signs in, for how long, and how guessing passwords is slowed down.
    web_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The workbench's address as people open it: one-time links to set a password point there.",
    )
    web_session_hours: float = Field(default=8, gt=0, le=72, description="A sign-in lasts at most this long.")
    web_idle_minutes: float = Field(default=30, gt=0, le=24 * 60, description="…and ends after this long unused.")
    web_link_hours: float = Field(default=48, gt=0, le=24 * 14, description="How long a one-time link stays valid.")
    web_lockout_failures: int = Field(default=5, ge=1, le=100, description="Wrong passwords in a row that lock.")
    web_lockout_minutes: float = Field(default=15, gt=0, le=24 * 60, description="How long a lockout lasts.")
    web_address_failures: int = Field(
        default=20, ge=1, le=10_000, description="Failed sign-ins from one address within the lockout time, then wait."
    )
    prefect_ui_url: str = Field(
        default="",
        description="The Prefect UI's address as people open it (e.g. http://10.0.0.5:4200): the workbench links "
        "each run there; unset, Prefect's PREFECT_UI_URL (or the one its PREFECT_API_URL implies) is used, and "
        "without either the run is named as text.",
    )
    prefect_ui_actor: str = Field(
        default="Prefect 界面共用账号",
        max_length=60,
        description="Who a decision answered in the Prefect UI's form is recorded as entered by (everyone opens "
        "the UI under one shared credential), on behalf of the approver the form names.",
    )
    web_secure_cookies: bool = Field(
        default=False, description="Mark cookies Secure although the request came over HTTP (behind a TLS proxy)."
    )

    # Notifications (reminders, escalations, approvers waited for): the outbox keeps everything on this machine.
    notifier: Literal["outbox", "apprise"] = Field(
        default="outbox", description="outbox: files under outbox_dir; apprise: e-mail (SMTP) and webhooks."
    )
    outbox_dir: Path = Field(default=Path("outbox"), description="Where the outbox notifier writes each message.")
    smtp_host: str = ""
    smtp_port: int | None = Field(default=None, description="Default: 587 for starttls, 465 for ssl, 25 for none.")
    smtp_secure: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_user: str = ""
    smtp_password: SecretStr | None = None
    smtp_password_block: str = Field(default="", description="Prefect Secret block with the SMTP password (wins).")
    smtp_from: str = Field(default="", description="Sender address of e-mails, e.g. jxk@czj.example.gov.cn.")
    notify_attempts: int = Field(default=3, ge=1, le=10, description="Tries per message before it counts as failed.")
    notify_backoff_seconds: float = Field(default=2.0, ge=0, description="Wait before the 2nd try; doubles after.")


@lru_cache
def get_settings() -> Settings:
    """Settings are read once per process; tests clear the cache after changing the environment."""
    return Settings()
