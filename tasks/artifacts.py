"""Stage summaries as Prefect artifacts, so run history in the UI shows what each stage decided."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.context import get_run_context


def _in_run() -> bool:
    try:
        get_run_context()
    except Exception:
        return False
    return True


def publish_table(key: str, rows: Sequence[dict[str, Any]], description: str) -> None:
    """A table artifact (lights, the sample, the cut list); silently skipped outside a Prefect run."""
    if _in_run():
        create_table_artifact(key=key, table=[dict(r) for r in rows], description=description)


def publish_markdown(key: str, markdown: str, description: str) -> None:
    if _in_run():
        create_markdown_artifact(key=key, markdown=markdown, description=description)
