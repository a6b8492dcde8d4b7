"""The annual cycle deployed on a real Prefect server with a process worker, driven by people.

`prefect server start` (SQLite) on 127.0.0.1 and `prefect deploy --all` from the project, once for the
module; each test starts its own worker on its own domain database.

The first test runs a past year (every deadline passed, every form in the folder). The run is triggered
without auto-approval; it suspends with one form for every department's targets, which shows the figures
it decides on and requires a decision. The coordinator returns one department's targets from the command
line (the run goes on with the others in one form), then answers the form through the API the UI uses
(with the form's JSON schema): the others approved as a whole, one returned without its comment (refused,
the form asks again for that one with the reason), then an approver the policy does not know (refused, the
reason shown), then the coordinator. The run ends 等待报送 for the returned department; it resubmits; the
rest is approved from the command line (the budget table with an override) until the run completes with
every gate decided by a person.

The second test lives January of the year as it comes: the worker's date is fixed before the deadlines
(PERFCYCLE_TODAY, the same for every run it starts), so windows end when everyone is in or when the
coordinator closes them. Forms arrive in batches, one department's form is refused while the others
import, a gate group is decided through the Resume form by two people (a refused row with its reason shown
in the next form, which also holds the forms that came in meanwhile), a department is returned and
resubmits, the quarterly-monitoring deployment runs on its own with the cycle's folders, a red-light
department responds, the coordinator closes the targets window early, and the ex-ante stage reads the
panel's scores from the folder the cycle recorded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from openpyxl import load_workbook
from sqlmodel import Session, col, create_engine, select

from bench.server import PrefectServer, stop_worker
from models import Approval, BudgetRecommendation, Cycle, Department, Project, StageState, WarningNotice
from models.audit_log import AuditEntry, DecisionRefusal
from models.tables import CollectionWindow, WindowEntry, WindowReceipt
from perfcycle.demo import generate_demo
from perfcycle.money import FEN_PER_WAN
from perfcycle.settings import DEMO_POLICY_DIR

ROOT = Path(__file__).parents[2]
YEAR = 2024
COORDINATOR, COORDINATOR_2, LEADER = "周晓梅", "陈立军", "刘建国"
TODAY = "2024-01-20"
RETURNED = "102"
UI_ACTOR = (
    "Prefect 界面共用账号"  # who a decision answered in the Prefect UI is entered by (PERFCYCLE_PREFECT_UI_ACTOR)
)
EARLY = [str(code) for code in range(101, 131)]  # January's first batch, put in the folder
WRONG = "131"  # its form in the first batch cannot be imported; it submits a good one with the second
SECOND = [str(code) for code in range(132, 154)]  # the second batch, put in the folder while the run waits
NEVER = "154"  # never sends its targets: the coordinator closes the window early
WAIT = 240.0

pytestmark = pytest.mark.server


def prefect_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


def clean_env(server: PrefectServer) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PERFCYCLE_"))},
        **server.client_env(),
    }


@pytest.fixture(scope="module")
def server() -> Iterator[PrefectServer]:
    """The Prefect server with the project's deployments on the `perfcycle` process pool."""
    with PrefectServer(postgres=False) as prefect_server:
        env = clean_env(prefect_server)
        prefect_cli(env, "work-pool", "create", "perfcycle", "--type", "process")
        prefect_cli(env, "deploy", "--all")
        yield prefect_server


class Bureau:
    """A worker on the server and the domain database it works on, with the commands people type.

    `today` fixes the bureau's date (PERFCYCLE_TODAY) for the worker and every command alike."""

    def __init__(self, server: PrefectServer, tmp: Path, today: str | None = None) -> None:
        self.server, self.tmp = server, tmp
        self.db_url = f"sqlite:///{tmp / 'perfcycle.db'}"
        self.api = server.api_url
        self.env = {
            **clean_env(server),
            "PERFCYCLE_DATABASE_URL": self.db_url,
            "PERFCYCLE_POLICY_DIR": str(DEMO_POLICY_DIR),
            "PERFCYCLE_OUTBOX_DIR": str(tmp / "outbox"),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            **({"PERFCYCLE_TODAY": today} if today else {}),
        }
        self.engine = create_engine(self.db_url)
        self.worker: subprocess.Popen[bytes] | None = None

    def start_worker(self) -> None:
        self.log = (self.tmp / "worker.log").open("w")
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", "perfcycle"],
            env=self.env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        """Cancel the runs this test left unfinished (a suspended run would be the next test's), stop the worker."""
        try:
            unfinished = {"state": {"type": {"any_": ["SCHEDULED", "PENDING", "RUNNING", "PAUSED"]}}}
            for run in self.post("/flow_runs/filter", json={"flow_runs": unfinished}).json():
                self.post(f"/flow_runs/{run['id']}/set_state", json={"state": {"type": "CANCELLED"}, "force": True})
        finally:
            if self.worker is not None:
                stop_worker(self.worker)
                self.log.close()
            self.engine.dispose()

    def perfcycle(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "perfcycle", *args], env=self.env, capture_output=True, text=True, timeout=180
        )
        assert (result.returncode == 0) == ok, (result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
        return result

    def post(self, path: str, json: dict[str, Any]) -> httpx.Response:
        """POST to the API, again after a moment when the busy server answers 503 (its SQLite is locked)."""
        for _ in range(10):
            response = httpx.post(f"{self.api}{path}", json=json, timeout=30)
            if response.status_code != 503:
                return response
            time.sleep(1)
        return response.raise_for_status()

    def deployment(self, name: str) -> dict[str, Any]:
        deployments = self.post("/deployments/filter", json={}).raise_for_status().json()
        return dict(next(d for d in deployments if d["name"] == name))

    def start(self, deployment: str, **parameters: Any) -> str:
        """A run of the deployment, as `prefect deployment run` or the UI's *Run* starts it; its id."""
        found = self.deployment(deployment)
        created = self.post(f"/deployments/{found['id']}/create_flow_run", json={"parameters": parameters})
        return str(created.raise_for_status().json()["id"])

    def runs_of(self, deployment: str) -> list[dict[str, Any]]:
        query = {"deployments": {"id": {"any_": [self.deployment(deployment)["id"]]}}, "sort": "START_TIME_ASC"}
        return list(self.post("/flow_runs/filter", json=query).raise_for_status().json())

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

    def answer(self, run_id: str, answer: dict[str, Any]) -> None:
        """Submit the form the run waits on, as the UI's Resume does."""
        self.post(f"/flow_runs/{run_id}/resume", json={"run_input": answer}).raise_for_status()

    def waiting_gates(self, run_id: str) -> list[Approval]:
        """The open gates the suspended run waits on: its form's group."""
        return [g for g in self.open_gates() if g.flow_run_id == run_id]

    def logged(self, run_id: str, start: str) -> str:
        """The log line of the run or of one of its stages that starts so (logs reach the server shortly after
        the run suspends)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            stages = {"flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}}
            runs = [run_id, *(r["id"] for r in self.post("/flow_runs/filter", json=stages).raise_for_status().json())]
            query = {"logs": {"flow_run_id": {"any_": runs}}, "sort": "TIMESTAMP_ASC"}
            lines = [log["message"] for log in self.post("/logs/filter", json=query).raise_for_status().json()]
            found = [line for line in lines if line.startswith(start)]
            if found:
                return found[-1]
            time.sleep(1)
        raise AssertionError(f"no log line of run {run_id} starts with {start}")

    def open_gates(self) -> list[Approval]:
        with Session(self.engine) as session:
            return list(session.exec(select(Approval).where(Approval.status == "open").order_by(col(Approval.id))))

    def gate(self, gate_id: int) -> Approval:
        with Session(self.engine) as session:
            approval = session.get(Approval, gate_id)
            assert approval is not None
            return approval

    def entries(self, stage: str) -> dict[str, str]:
        """Each department's status in the stage's collection window."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(Department.code, WindowEntry.status)
                .join(WindowEntry, col(WindowEntry.department_id) == Department.id)
                .join(CollectionWindow, col(CollectionWindow.id) == WindowEntry.window_id)
                .where(CollectionWindow.stage == stage)
            ).all()
            return dict(rows)

    def name(self, code: str) -> str:
        with Session(self.engine) as session:
            return session.exec(select(Department.name).where(Department.code == code)).one()


@contextmanager
def working(server: PrefectServer, tmp: Path, today: str | None = None) -> Iterator[Bureau]:
    bureau = Bureau(server, tmp, today)
    bureau.start_worker()
    try:
        yield bureau
    finally:
        bureau.stop()


@pytest.fixture
def bureau(server: PrefectServer, tmp_path: Path) -> Iterator[Bureau]:
    """A past year's bureau: the worker on today's date, every deadline of the year passed."""
    with working(server, tmp_path) as past:
        yield past


@pytest.fixture
def january(server: PrefectServer, tmp_path: Path) -> Iterator[Bureau]:
    """The bureau on 2024-01-20, before the targets' deadline (01-31): the worker's date and the commands'."""
    with working(server, tmp_path, TODAY) as bureau:
        yield bureau


def overridable(bureau: Bureau) -> tuple[str, Decimal]:
    """A project of the budget table recommended more than 1 万元, and one 万元 less than recommended."""
    with Session(bureau.engine) as session:
        line = session.exec(
            select(Project.code, BudgetRecommendation.recommended_fen)
            .join(BudgetRecommendation, col(BudgetRecommendation.project_id) == Project.id)
            .where(BudgetRecommendation.recommended_fen > FEN_PER_WAN)
            .order_by(col(Project.code))
        ).first()
    assert line is not None
    return line[0], Decimal(line[1] - FEN_PER_WAN) / FEN_PER_WAN


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
        # Answered in the UI's form (one shared credential): entered by that account on the approver's behalf.
        assert len(decided) == 53 and {(a.decided_by, a.entered_by) for a in decided} == {(COORDINATOR, UI_ACTOR)}

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
    overridden, amount = "", Decimal(0)
    decided_groups: list[str] = []
    while True:
        run = bureau.paused(second_id, after=key)
        if run["state"]["type"] == "COMPLETED":
            break
        key = run["state"]["state_details"]["pause_key"]
        gates = bureau.waiting_gates(second_id)
        approver = LEADER if gates[0].level == 2 else COORDINATOR
        overrides: list[str] = []
        if gates[0].gate == "budget_table" and gates[0].level == 1:  # one project at one 万元 less, with a reason
            overridden, amount = overridable(bureau)
            overrides = ["--override", f"{overridden}={amount:.2f}:据实调整"]
        ids = (str(g.id) for g in gates)
        result = bureau.perfcycle("approve", *ids, "--by", approver, "--comment", "同意", *overrides)
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
        standing = session.exec(
            select(BudgetRecommendation.override_fen, BudgetRecommendation.override_reason)
            .join(Project, col(Project.id) == BudgetRecommendation.project_id)
            .where(Project.code == overridden)
        ).one()
        assert standing == (int(amount * FEN_PER_WAN), "据实调整")
    assert bureau.perfcycle("audit", "verify").returncode == 0
    assert any((bureau.tmp / "out").rglob("*.docx"))
    shutil.rmtree(bureau.tmp / "district", ignore_errors=True)


def broken(workbook: Path, out: Path) -> Path:
    """The department's 绩效目标申报表 with a weight that is not a number: it cannot be imported."""
    book = load_workbook(workbook)
    sheet = book["绩效指标"]
    header = [cell.value for cell in sheet[1]]
    sheet.cell(row=2, column=header.index("权重") + 1).value = "很高"
    book.save(out)
    return out


def test_january_on_the_server_forms_in_batches_one_form_for_several_people_and_a_window_closed_early(
    january: Bureau,
) -> None:
    b = january
    b.perfcycle("db", "upgrade")
    files = generate_demo(b.tmp / "district", YEAR)
    folder = b.tmp / "填报"

    def put(form: str, codes: list[str] | None = None, quarter: str = "") -> None:
        source, target = files.submissions / form / quarter, folder / form / quarter
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(source.glob("*.xlsx")):
            if codes is None or path.stem in codes:
                shutil.copyfile(path, target / path.name)

    # ---- The first batch is in the folder, one department's form among it broken; the cycle starts.
    put("targets", EARLY)
    broken(files.submissions / "targets" / f"{WRONG}.xlsx", folder / "targets" / f"{WRONG}.xlsx")
    run_id = b.start(
        "annual-cycle", year=YEAR, data=str(files.base), submissions=str(folder), out_dir=str(b.tmp / "out")
    )
    key, schema, description = b.form(b.paused(run_id))
    assert sorted(g.subject for g in b.waiting_gates(run_id)) == EARLY
    assert f"{YEAR}年度绩效目标第1级审批（30 个部门）" in description
    entries = b.entries("target_setting")
    assert {entries[code] for code in EARLY} == {"received"}
    assert entries[WRONG] == entries[NEVER] == "pending", "a refused form leaves only its department owing"
    refused = b.logged(run_id, f"{WRONG}.xlsx")
    assert "工作表「绩效指标」" in refused and "第 2 行" in refused and "列「权重」" in refused
    assert "已通知该部门" in refused
    told = [path.read_text(encoding="utf-8") for path in (b.tmp / "outbox").rglob("*.txt")]
    assert any(f"{WRONG}.xlsx" in text and "权重" in text for text in told), "the department is told why"
    with Session(b.engine) as session:
        receipts = session.exec(
            select(WindowReceipt.status)
            .join(Department, col(Department.id) == WindowReceipt.department_id)
            .where(Department.code == WRONG)
        ).all()
        assert receipts == ["refused"]
    status = b.perfcycle("status", "--year", str(YEAR)).stdout
    assert b.name(WRONG) in status and b.name(NEVER) in status and f"{YEAR}-01-31" in status

    # ---- The second batch comes while the run waits at the form; the refused department submits a good form.
    put("targets", SECOND)
    said = b.perfcycle(
        "submit", str(files.submissions / "targets" / f"{WRONG}.xlsx"),
        "--year", str(YEAR), "--stage", "targets", "--department", WRONG,
    ).stdout  # fmt: skip
    assert "按时报送" in said and "年度周期运行在 Prefect 中等待其他审批" in said

    # ---- The form for the first 30: approved as a whole, one returned with a reason, one returned without.
    gate_of = {g.subject: g.id for g in b.waiting_gates(run_id)}
    rows = schema["properties"]["subjects"]["default"]
    own = {
        gate_of[RETURNED]: {"decision": "退回修改", "comment": "缺少满意度指标"},
        gate_of["103"]: {"decision": "退回修改", "comment": ""},
    }
    answer = {"approver": COORDINATOR, "decision": "通过", "comment": "", "subjects": [
        {**row, **own.get(row["gate_id"], {})} for row in rows
    ]}  # fmt: skip
    jsonschema.validate(answer, schema)
    b.answer(run_id, answer)
    key, schema, description = b.form(b.paused(run_id, after=key))
    group = sorted(g.subject for g in b.waiting_gates(run_id))
    assert group == sorted(["103", WRONG, *SECOND]), "the refused row and the second batch, in one form"
    assert f"（{len(group)} 个部门）" in description
    assert "上次提交的决定未被接受" in description and "退回修改必须写明意见" in description
    entries = b.entries("target_setting")
    assert entries[RETURNED] == "returned" and entries[WRONG] == "received" and entries[NEVER] == "pending"
    assert {entries[code] for code in SECOND} == {"received"}

    # ---- The other coordinator approves the group; the run ends waiting for the returned and the missing one.
    b.answer(run_id, {"approver": COORDINATOR_2, "decision": "通过", "comment": "同意"})
    ended = b.paused(run_id, after=key)
    assert ended["state"]["type"] == "COMPLETED" and ended["state"]["name"] == "等待报送"
    message = ended["state"]["message"]
    assert f"{b.name(RETURNED)}（退回修改，" in message and b.name(NEVER) in message
    assert "perfcycle close-window" in message
    with Session(b.engine) as session:
        decided = session.exec(select(Approval.decided_by).where(Approval.status == "approved")).all()
    assert {name: decided.count(name) for name in set(decided)} == {COORDINATOR: 28, COORDINATOR_2: len(group)}

    # ---- The returned department resubmits: the deployment runs again with the cycle's folders.
    corrected = revise(files.submissions / "targets" / f"{RETURNED}.xlsx", b.tmp / f"{RETURNED}-修订.xlsx")
    said = b.perfcycle(
        "submit", str(corrected), "--year", str(YEAR), "--stage", "targets", "--department", RETURNED
    ).stdout
    assert "第 2 版，替换第 1 版（退回修改）" in said and "已在 Prefect 中重新启动年度周期部署" in said
    again = b.runs_of("annual-cycle")[-1]
    assert again["id"] != run_id and again["parameters"]["submissions"] == str(folder)
    key, schema, description = b.form(b.paused(again["id"]))
    assert [g.subject for g in b.waiting_gates(again["id"])] == [RETURNED]

    # ---- The quarterly-monitoring deployment runs on its own, with its defaults: it reads the cycle's folder.
    put("monitoring", quarter="Q2")
    monitoring = b.start("quarterly-monitoring", quarter="Q2")
    b.wait_for(monitoring, "COMPLETED")
    assert set(b.entries("monitoring_Q2").values()) == {"received"}
    with Session(b.engine) as session:
        red = session.exec(
            select(Department.code)
            .join(WarningNotice, col(WarningNotice.department_id) == Department.id)
            .where(WarningNotice.quarter == "Q2", WarningNotice.level == "red")
            .order_by(col(Department.code))
        ).first()
    assert red is not None, "the demo district has red departments in Q2"

    # ---- A red department responds; the cycle, waiting at a gate, hears of it.
    said = b.perfcycle(
        "respond", "--year", str(YEAR), "--quarter", "Q2", "--department", red,
        "--cause", "项目招标延迟", "--measures", "加快采购进度",
    ).stdout  # fmt: skip
    assert f"已记录{b.name(red)}（{red}）" in said and "年度周期运行在 Prefect 中等待其他审批" in said
    status = b.perfcycle("status", "--year", str(YEAR)).stdout
    assert "二季度红灯" in status

    # ---- The coordinator closes the targets window early: the one that never sent is 未提交.
    said = b.perfcycle("close-window", "--year", str(YEAR), "--stage", "targets", "--by", COORDINATOR).stdout
    assert "收到 53/54" in said and "未提交 1" in said
    assert b.entries("target_setting")[NEVER] == "missing"

    # ---- The resubmission approved from the command line: the run goes on and the ex-ante stage reads the
    # panel's scores from the folder the cycle recorded.
    put("panel_scores")
    (resubmitted,) = b.waiting_gates(again["id"])
    said = b.perfcycle("approve", str(resubmitted.id), "--by", COORDINATOR, "--comment", "同意").stdout
    assert "Prefect 中等待的年度周期运行已继续" in said
    key, schema, description = b.form(b.paused(again["id"], after=key))
    assert key.startswith(f"gate-{YEAR}-ex-ante-conclusions-1-")
    assert "4 家单位 10 个项目" in description

    with Session(b.engine) as session:
        stages = {s.stage: s.status for s in session.exec(select(StageState))}
    assert stages["target_setting"] == stages["monitoring_Q2"] == "done" and "running" not in stages.values()
    assert "校验通过" in b.perfcycle("audit", "verify").stdout
