"""Collection windows of the stages that wait for department forms (see `perfcycle.collecting`)."""

from __future__ import annotations

from typing import Any

from prefect import task

from models import session_scope
from perfcycle import collecting
from tasks.artifacts import publish_table
from tasks.common import get_cycle, run_logger


@task(name="open-collection-window")
def open_collection_window(cycle_id: int, stage: str, submissions: str | None) -> dict[str, Any]:
    """Open the stage's window with the calendar's deadline (once) and say which folder the stage imports."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        root = collecting.submissions_root(session, cycle_id, submissions)
        window = collecting.ensure_window(session, cycle, stage, folder=root or "")
        return {"folder": root, "due_on": window.due_on.isoformat(), "status": window.status}


@task(name="check-collection-window")
def check_collection_window(cycle_id: int, stage: str) -> dict[str, Any]:
    """After the import: who has arrived; close the window when nothing is owed any more (or the deadline passed).

    `waiting` is true while the window stays open; the department × form matrix is republished each time.
    """
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        window = collecting.ensure_window(session, cycle, stage)
        collecting.sync_returns(session, cycle, window)
        collecting.record_arrivals(session, cycle, window)
        collecting.close_if_due(session, cycle, window)
        summary = collecting.window_summary(session, window)
        matrix = collecting.status_matrix(session, cycle)
        title = collecting.window_title(cycle.year, window)
    owed = summary["pending"] + summary["returned"]
    if owed:
        run_logger().info("%s：截止 %s，尚未报送 %d 个部门：%s", title, summary["due_on"], len(owed), "、".join(owed))
    publish_table(
        f"{cycle.year}-submission-status",
        matrix,
        f"{cycle.year} 年度各部门报送情况（{title}：收到 {summary['received']}/{summary['departments']}，"
        f"逾期 {len(summary['late'])}，未报 {len(summary['missing'])}，待报 {len(owed)}）",
    )
    return {**summary, "waiting": summary["status"] == "open"}


def wait_for_forms(cycle_id: int, stage: str, summary: dict[str, Any]) -> Any:
    """A stage whose window is still open stops here as waiting (等待报送): the next run continues once forms
    are in."""
    from perfcycle.progress import report
    from tasks.cycle import finish_stage
    from tasks.waiting import end_waiting

    collection = summary["collection"]
    owed = collection["pending"] + collection["returned"]
    refused = [code for code in owed if code in set(collection.get("refused", ()))]
    finish_stage(cycle_id, stage, summary, "waiting")
    # The stop that follows names the departments; the progress line stays one line.
    note = f"，其中 {'、'.join(refused)} 的报送被拒收（已通知）" if refused else ""
    report(stage, "waiting", f"等待 {len(owed)} 个部门报送（截止 {collection['due_on']}）{note}")
    return end_waiting(cycle_id, stage, {"status": "waiting", "summary": summary})
