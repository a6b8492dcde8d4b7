"""prefect.yaml names real flows, a process work pool and the bureau's timezone."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml
from prefect.flows import Flow

ROOT = Path(__file__).parents[1]


def test_every_deployment_points_at_a_flow() -> None:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    assert config["deployments"]
    for deployment in config["deployments"]:
        path, name = deployment["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert isinstance(getattr(module, name), Flow), deployment["name"]
        assert deployment["work_pool"]["name"] == "perfcycle"
        for schedule in deployment.get("schedules", []):
            assert schedule["timezone"] == "Asia/Shanghai"


def test_the_cycle_each_stage_quarterly_monitoring_and_daily_reminders_are_deployed() -> None:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    deployments = {d["name"]: d for d in config["deployments"]}
    entrypoints = {d["entrypoint"].split(":")[0] for d in deployments.values()}
    flows = {f"flows/{p.name}" for p in (ROOT / "flows").glob("*.py") if p.name != "__init__.py"}
    assert flows <= entrypoints
    quarters = [(s["cron"], s["parameters"]["quarter"]) for s in deployments["quarterly-monitoring"]["schedules"]]
    assert quarters == [("0 9 10 4 *", "Q1"), ("0 9 10 7 *", "Q2"), ("0 9 10 10 *", "Q3"), ("0 9 10 1 *", "Q4")]
    assert [s["cron"] for s in deployments["reminders"]["schedules"]] == ["0 9 * * *"]
    for deployment in deployments.values():
        module = importlib.import_module(deployment["entrypoint"].split(":")[0].removesuffix(".py").replace("/", "."))
        flow = getattr(module, deployment["entrypoint"].split(":")[1])
        assert set(deployment.get("parameters", {})) <= set(flow.parameters.properties), deployment["name"]
