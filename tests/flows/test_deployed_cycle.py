"""The annual cycle deployed on a real Prefect server: it waits at each gate and people drive it to the end.

`prefect server start` (SQLite) on 127.0.0.1, `prefect deploy --all` from the project, one process worker.
The run is triggered without auto-approval; it suspends at the targets gate; the coordinator returns one
department's targets and approves the others from the command line; the department resubmits; a form is
answered once through the API the UI uses (with the form's JSON schema), once with an approver the policy
does not know (refused, recorded, the run asks again); the rest is approved from the command line until
the run completes with every gate decided by a person.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from openpyxl import load_workbook
from sqlmodel import Session, create_engine, select

from bench.server import PrefectServer, stop_worker
from models import Approval, Cycle, StageState
from models.audit import AuditEntry, DecisionRefusal
from perfcycle.demo import generate_demo
from perfcycle.settings import DEMO_POLICY_DIR

ROOT = Path(__file__).parents[2]
YEAR = 2024
COORDINATOR, LEADER = "周晓梅", "刘建国"
RETURNED = "102"
WAIT = 240.0

pytestmark = pytest.mark.server


class Bureau:
    """The server, the worker and the domain database of the test, with the commands people type."""

    def __init__(self, server: PrefectServer, tmp: Path) -> None:
        self.server, self.tmp = server, tmp
        self.db_url = f"sqlite:///{tmp / 'perfcycle.db'}"
        self.api = server.api_url
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PERFCYCLE_"))},
            **server.client_env(),
            "PERFCYCLE_DATABASE_URL": self.db_url,
            "PERFCYCLE_POLICY_DIR": str(DEMO_POLICY_DIR),
            "PERFCYCLE_OUTBOX_DIR": str(tmp / "outbox"),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        self.engine = create_engine(self.db_url)

    def prefect(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "prefect", "--no-prompt", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        )

    def perfcycle(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "perfcycle", *args], env=self.env, capture_output=True, text=True, timeout=180
        )
        assert (result.returncode == 0) == ok, (result.stdout, result.stderr)
        return result

    def post(self, path: str, json: dict[str, Any]) -> httpx.Response:
        """POST to the API, again after a moment when the busy server answers 503 (its SQLite is locked)."""
        for _ in range(10):
            response = httpx.post(f"{self.api}{path}", json=json, timeout=30)
            if response.status_code != 503:
                return response
            time.sleep(1)
        return response.raise_for_status()

    def run(self, run_id: str) -> dict[str, Any]:
        return dict(httpx.get(f"{self.api}/flow_runs/{run_id}").raise_for_status().json())

    def wait_for(self, run_id: str, *states: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if run["state"]["type"] in states:
                return run
            if run["state"]["type"] in ("FAILED", "CRASHED", "CANCELLED"):
                log = (self.tmp / "worker.log").read_text(encoding="utf-8", errors="replace")
                raise AssertionError(f"run {run_id} ended {run['state']['type']}:\n{log[-4000:]}")
            time.sleep(1)
        raise AssertionError(f"run {run_id} did not reach {states}: {self.run(run_id)['state']}")

    def paused_at(self, run_id: str) -> int:
        """The gate the suspended run waits on (its pause key is gate-<id>-…)."""
        run = self.wait_for(run_id, "PAUSED")
        key = run["state"]["state_details"]["pause_key"]
        assert key.startswith("gate-"), key
        return int(key.split("-")[1])

    def open_gates(self) -> list[Approval]:
        with Session(self.engine) as session:
            return list(session.exec(select(Approval).where(Approval.status == "open").order_by(Approval.id)))

    def gate(self, gate_id: int) -> Approval:
        with Session(self.engine) as session:
            approval = session.get(Approval, gate_id)
            assert approval is not None
            return approval


@pytest.fixture(scope="module")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bureau]:
    tmp = tmp_path_factory.mktemp("bureau")
    with PrefectServer(postgres=False) as server:
        bureau = Bureau(server, tmp)
        bureau.prefect("work-pool", "create", "perfcycle", "--type", "process")
        bureau.prefect("deploy", "--all")
        log = (tmp / "worker.log").open("w")
        worker = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", "perfcycle"],
            env=bureau.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield bureau
        finally:
            stop_worker(worker)
            log.close()
            bureau.engine.dispose()


def revise(workbook: Path, out: Path) -> Path:
    """The department's corrected 绩效目标申报表: its satisfaction targets raised to 95%."""
    book = load_workbook(workbook)
    sheet = book.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    level1, value = header.index("一级指标") + 1, header.index("目标值") + 1
    changed = 0
    for row in range(2, sheet.max_row + 1):
        if sheet.cell(row=row, column=level1).value == "满意度":
            sheet.cell(row=row, column=value).value = "95"
            changed += 1
    assert changed
    book.save(out)
    return out


def test_a_deployed_cycle_waits_at_each_gate_and_people_drive_it_to_the_end(bureau: Bureau) -> None:
    bureau.perfcycle("db", "upgrade")
    files = generate_demo(bureau.tmp / "district", YEAR)
    deployments = bureau.post("/deployments/filter", json={}).raise_for_status().json()
    names = {d["name"] for d in deployments}
    assert {"annual-cycle", "quarterly-monitoring", "reminders", "target-setting", "reporting"} <= names
    cycle_deployment = next(d for d in deployments if d["name"] == "annual-cycle")
    created = bureau.post(
        f"/deployments/{cycle_deployment['id']}/create_flow_run",
        json={
            "parameters": {
                "year": YEAR,
                "data": str(files.base),
                "submissions": str(files.submissions),
                "out_dir": str(bureau.tmp / "out"),
                "auto_approve": False,
            }
        },
    ).raise_for_status()
    run_id = created.json()["id"]

    # It waits at the targets gate of the first department, with the run recorded on the gate.
    first = bureau.paused_at(run_id)
    targets = [g for g in bureau.open_gates() if g.gate == "targets"]
    assert len(targets) == 54 and first == targets[0].id
    assert bureau.gate(first).flow_run_id == run_id

    # The coordinator returns one department's targets and approves the other 53 at once.
    returned = next(g for g in targets if g.subject == RETURNED)
    bureau.perfcycle("return", str(returned.id), "--by", COORDINATOR, "--comment", "满意度指标不够具体，请修改后重报")
    others = [str(g.id) for g in targets if g.id not in (returned.id, first)] + [str(first)]
    result = bureau.perfcycle("approve", *others, "--by", COORDINATOR, "--comment", "同意")
    assert "Prefect 中等待的年度周期运行已继续" in result.stdout

    # The cycle cannot go on without that department: the run ends, saying what it waits for.
    ended = bureau.wait_for(run_id, "COMPLETED")
    assert bureau.gate(returned.id).status == "returned"
    with Session(bureau.engine) as session:
        stage = session.exec(select(StageState).where(StageState.stage == "target_setting")).one()
        assert stage.status == "waiting"
    assert ended["state"]["type"] == "COMPLETED"

    # The department resubmits; the cycle's deployment runs again with the same data and folders.
    original = next(Path(files.submissions).glob(f"targets/*{RETURNED}*.xlsx"))
    corrected = revise(original, bureau.tmp / f"{RETURNED}-修订.xlsx")
    result = bureau.perfcycle(
        "submit", "--year", str(YEAR), "--stage", "targets", "--department", RETURNED, str(corrected)
    )
    assert "已在 Prefect 中重新启动年度周期部署" in result.stdout
    runs = (
        bureau.post(
            "/flow_runs/filter",
            json={"deployments": {"id": {"any_": [cycle_deployment["id"]]}}},
        )
        .raise_for_status()
        .json()
    )
    assert len(runs) == 2
    second = next(r for r in runs if r["id"] != run_id)
    second_id = second["id"]
    assert second["parameters"]["submissions"] == str(files.submissions)

    # The reopened gate: answered through the API the UI uses, first by someone the policy does not know.
    reopened = bureau.paused_at(second_id)
    assert reopened == returned.id and bureau.gate(reopened).status == "open"
    keyset = bureau.run(second_id)["state"]["state_details"]["run_input_keyset"]
    schema = httpx.get(f"{bureau.api}/flow_runs/{second_id}/input/{keyset['schema']}").raise_for_status().json()
    description = httpx.get(f"{bureau.api}/flow_runs/{second_id}/input/{keyset['description']}").json()
    assert f"perfcycle approve {returned.id}" in description and COORDINATOR in description
    assert set(schema["properties"]) == {"decision", "approver", "comment", "overrides"}
    bad = {"decision": "maybe", "approver": COORDINATOR}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    refused = bureau.post(f"/flow_runs/{second_id}/resume", json={"run_input": bad}).json()
    assert refused["status"] == "REJECT" and bureau.run(second_id)["state"]["type"] == "PAUSED"

    stranger = {"decision": "approve", "approver": "王五", "comment": "同意"}
    jsonschema.validate(stranger, schema)
    bureau.post(f"/flow_runs/{second_id}/resume", json={"run_input": stranger}).raise_for_status()
    time.sleep(1)
    assert bureau.paused_at(second_id) == returned.id  # asked again
    with Session(bureau.engine) as session:
        refusal = session.exec(select(DecisionRefusal).where(DecisionRefusal.approval_id == returned.id)).one()
        assert refusal.actor == "王五" and "不在" in refusal.reason
    assert bureau.gate(returned.id).status == "open"

    answer = {"decision": "approve", "approver": COORDINATOR, "comment": "修改后的目标完整，同意"}
    jsonschema.validate(answer, schema)
    keyset = bureau.run(second_id)["state"]["state_details"]["run_input_keyset"]
    assert httpx.get(f"{bureau.api}/flow_runs/{second_id}/input/{keyset['schema']}").json() == schema
    bureau.post(f"/flow_runs/{second_id}/resume", json={"run_input": answer}).raise_for_status()

    # Every later gate from the command line, each resuming the suspended run, up to the end.
    decided: list[str] = []
    while True:
        run = bureau.wait_for(second_id, "PAUSED", "COMPLETED")
        if run["state"]["type"] == "COMPLETED":
            break
        gate = bureau.gate(bureau.paused_at(second_id))
        approver = LEADER if gate.level == 2 else COORDINATOR
        result = bureau.perfcycle("approve", str(gate.id), "--by", approver, "--comment", "同意")
        assert "Prefect 中等待的年度周期运行已继续" in result.stdout
        decided.append(f"{gate.gate}:{gate.level}")
        bureau.wait_for(second_id, "SCHEDULED", "PENDING", "RUNNING", "COMPLETED")
    assert decided == [
        "ex_ante_conclusions:1",
        "sample:1",
        "key_evaluation_selection:1",
        "key_evaluation_reports:1",
        "budget_table:1",
        "budget_table:2",
        "annual_report:2",
    ]

    with Session(bureau.engine) as session:
        cycle = session.exec(select(Cycle).where(Cycle.year == YEAR)).one()
        assert cycle.status == "done"
        gates = session.exec(select(Approval)).all()
        assert gates and all(g.status == "approved" for g in gates)
        assert {g.decided_by for g in gates} == {COORDINATOR, LEADER}
        actions = [
            e.action for e in session.exec(select(AuditEntry).where(AuditEntry.subject.contains(f"targets:{RETURNED}")))
        ]  # type: ignore[attr-defined]
        assert "approval.reopened" in actions and actions.count("approval.decided") == 2
    assert bureau.perfcycle("audit", "verify").returncode == 0
    assert any((bureau.tmp / "out").rglob("*.docx"))
    shutil.rmtree(bureau.tmp / "district", ignore_errors=True)
