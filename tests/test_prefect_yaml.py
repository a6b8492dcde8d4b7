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
