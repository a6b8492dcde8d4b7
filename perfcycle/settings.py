"""The one configuration object, read from PERFCYCLE_* environment variables (and .env)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Deployment-wide settings; the year's business rules live in the policy file instead."""

    model_config = SettingsConfigDict(env_prefix="PERFCYCLE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///perfcycle.db",
        description="SQLAlchemy URL of the domain database (SQLite file by default, PostgreSQL in production).",
    )
    policy_dir: Path = Field(
        default=PROJECT_ROOT / "perfcycle" / "policies",
        description="Folder holding one policy file per year, named <year>.yaml.",
    )
    templates_dir: Path = Field(default=PROJECT_ROOT / "report_templates")
    output_dir: Path = Field(default=Path("out"), description="Where generated documents are written.")
    district: str = Field(default="烈山区", description="The district named in documents.")
    timezone: str = "Asia/Shanghai"


@lru_cache
def get_settings() -> Settings:
    """Settings are read once per process; tests clear the cache after changing the environment."""
    return Settings()
