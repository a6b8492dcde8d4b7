"""The annual cycle deployed on a real Prefect server: it waits at each gate group and people drive it to the end.

`prefect server start` (SQLite) on 127.0.0.1, `prefect deploy --all` from the project, one process worker.
The run is triggered without auto-approval; it suspends with one form for every department's targets,
which shows the figures it decides on and requires a decision. The coordinator returns one department's
targets from the command line (the run goes on with the others in one form), then answers the form through
the API the UI uses (with the form's JSON schema): the others approved as a whole, one returned without its
comment (refused, the form asks again for that one with the reason), then an approver the policy does not
know (refused, the reason shown), then the coordinator. The run ends 等待报送 for the returned department;
it resubmits; the rest is approved from the command line until the run completes with every gate decided
by a person.
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
from models import Approval, Cycle, Department, StageState
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

    def paused(self, run_id: str, after: str = "") -> dict[str, Any]:
        """The run once it is suspended at a form other than `after` (a pause key), or completed."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            run = self.wait_for(run_id, "PAUSED", "COMPLETED")
            if run["state"]["type"] == "COMPLETED" or run["state"]["state_details"]["pause_key"] != after:
                return run
            time.sleep(1)
        raise AssertionError(f"run {run_id} is still at the form {after}")

    def form(self, run: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
        """The pause key, the JSON schema and the description (Markdown) of the form the run waits on."""
        details = run["state"]["state_details"]
        keyset = details["run_input_keyset"]
        assert run["state"]["type"] == "PAUSED" and keyset, run["state"]
        read = [
            httpx.get(f"{self.api}/flow_runs/{run['id']}/input/{keyset[part]}").raise_for_status().json()
            for part in ("schema", "description")
        ]
        return details["pause_key"], read[0], read[1]

    def waiting_gates(self, run_id: str) -> list[Approval]:
        """The open gates the suspended run waits on: its form's group."""
        return [g for g in self.open_gates() if g.flow_run_id == run_id]

    def logged(self, run_id: str, start: str) -> str:
        """The run's log line that starts so (its logs reach the server shortly after it suspends)."""
        query = {"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC"}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            lines = [log["message"] for log in self.post("/logs/filter", json=query).raise_for_status().json()]
            found = [line for line in lines if line.startswith(start)]
            if found:
                return found[-1]
            time.sleep(1)
        raise AssertionError(f"no log line of run {run_id} starts with {start}")

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

    # One form for every department's targets, with the run recorded on each gate and the figures shown.
    key, schema, description = bureau.form(bureau.paused(run_id))
    targets = bureau.waiting_gates(run_id)
    assert len(targets) == 54 and {g.gate for g in targets} == {"targets"}
    assert key.startswith(f"gate-{YEAR}-targets-1-")
    assert "2024年度绩效目标第1级审批（54 个部门）" in description and "个项目（目标完整" in description
    assert "| 区教育局 |" in description and COORDINATOR in description
    assert set(schema["properties"]) == {"approver", "decision", "comment", "subjects", "overrides"}
    assert "decision" in schema["required"] and "default" not in schema["properties"]["decision"]
    rows = schema["properties"]["subjects"]["default"]
    assert [r["gate_id"] for r in rows] == [g.id for g in targets]
    assert "Resume" in bureau.logged(run_id, "等待审批：2024年度绩效目标第1级审批（54 个部门）：")
    unchosen = {"approver": COORDINATOR, "subjects": rows}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(unchosen, schema)
    refused = bureau.post(f"/flow_runs/{run_id}/resume", json={"run_input": unchosen}).json()
    assert refused["status"] == "REJECT" and bureau.run(run_id)["state"]["type"] == "PAUSED"

    # The coordinator returns one department's targets from the command line; the run asks for the others.
    returned = next(g for g in targets if g.subject == RETURNED)
    result = bureau.perfcycle(
        "return", str(returned.id), "--by", COORDINATOR, "--comment", "满意度指标不够具体，请修改后重报"
    )
    assert "Prefect 中等待的年度周期运行已继续" in result.stdout
    run = bureau.paused(run_id, after=key)
    key, schema, description = bureau.form(run)
    others = bureau.waiting_gates(run_id)
    assert len(others) == 53 and returned.id not in {g.id for g in others}
    assert "（53 个部门）" in description
    assert bureau.gate(returned.id).decided_by == COORDINATOR  # once, from the command line

    # In the form: approve as a whole, but return one without saying why: that row is refused, the rest stand.
    wrong = next(g for g in others if g.subject == "103")
    rows = schema["properties"]["subjects"]["default"]
    answer = {
        "approver": COORDINATOR,
        "decision": "通过",
        "comment": "",
        "subjects": [{**r, "decision": "退回修改", "comment": ""} if r["gate_id"] == wrong.id else r for r in rows],
    }
    jsonschema.validate(answer, schema)
    bureau.post(f"/flow_runs/{run_id}/resume", json={"run_input": answer}).raise_for_status()
    run = bureau.paused(run_id, after=key)
    key, schema, description = bureau.form(run)
    assert [g.id for g in bureau.waiting_gates(run_id)] == [wrong.id]
    assert "上次提交的决定未被接受" in description and "退回修改必须写明意见" in description

    # Then someone the policy does not know: refused and recorded, and the form shows why.
    stranger = {"approver": "王五", "decision": "通过", "comment": "同意"}
    jsonschema.validate(stranger, schema)
    bureau.post(f"/flow_runs/{run_id}/resume", json={"run_input": stranger}).raise_for_status()
    run = bureau.paused(run_id, after=key)
    key, schema, description = bureau.form(run)
    assert [g.id for g in bureau.waiting_gates(run_id)] == [wrong.id]
    assert "王五 不在" in description
    with Session(bureau.engine) as session:
        reasons = session.exec(select(DecisionRefusal).where(DecisionRefusal.approval_id == wrong.id)).all()
        assert [(r.actor, "不在" in r.reason) for r in reasons] == [(COORDINATOR, False), ("王五", True)]

    bureau.post(
        f"/flow_runs/{run_id}/resume", json={"run_input": {"approver": COORDINATOR, "decision": "通过"}}
    ).raise_for_status()

    # The cycle cannot go on without the returned department: the run ends 等待报送, naming it.
    ended = bureau.paused(run_id, after=key)
    assert ended["state"]["type"] == "COMPLETED" and ended["state"]["name"] == "等待报送"
    with Session(bureau.engine) as session:
        name = session.exec(select(Department.name).where(Department.code == RETURNED)).one()
    assert f"{name}（退回修改，" in ended["state"]["message"] and "perfcycle submit" in ended["state"]["message"]
    assert bureau.gate(returned.id).status == "returned" and not bureau.open_gates()
    with Session(bureau.engine) as session:
        stage = session.exec(select(StageState).where(StageState.stage == "target_setting")).one()
        assert stage.status == "waiting"
        decided = session.exec(select(Approval).where(Approval.gate == "targets", Approval.status == "approved")).all()
        assert len(decided) == 53 and {a.decided_by for a in decided} == {COORDINATOR}

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

    # Every later gate group from the command line, each resuming the suspended run, up to the end.
    key = ""
    decided_groups: list[str] = []
    while True:
        run = bureau.paused(second_id, after=key)
        if run["state"]["type"] == "COMPLETED":
            break
        key = run["state"]["state_details"]["pause_key"]
        gates = bureau.waiting_gates(second_id)
        approver = LEADER if gates[0].level == 2 else COORDINATOR
        result = bureau.perfcycle("approve", *(str(g.id) for g in gates), "--by", approver, "--comment", "同意")
        assert "Prefect 中等待的年度周期运行已继续" in result.stdout
        decided_groups.append(f"{gates[0].gate}:{gates[0].level}:{len(gates)}")
    assert decided_groups == [
        "targets:1:1",
        "ex_ante_conclusions:1:1",
        "sample:1:1",
        "key_evaluation_selection:1:1",
        "key_evaluation_reports:1:1",
        "budget_table:1:1",
        "budget_table:2:1",
        "annual_report:2:1",
    ]
    assert run["state"]["name"] == "Completed"

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
