"""The daily reminders: each department and approver is told what it owes, once per step."""

from __future__ import annotations

from typing import Any

from prefect import flow

from models import now
from tasks.reminders import send_reminders


def _today() -> str:
    """The bureau's date (Asia/Shanghai), whatever the worker's clock zone."""
    return now().date().isoformat()


def _run_name() -> str:
    from prefect.runtime import flow_run

    return f"{flow_run.parameters.get('today') or _today()} reminders"


@flow(name="reminders", flow_run_name=_run_name)
def reminders(today: str | None = None) -> dict[str, Any]:
    """Send the reminders, escalations and approver reminders `today` (YYYY-MM-DD; default: today) implies."""
    return send_reminders(today or _today())
