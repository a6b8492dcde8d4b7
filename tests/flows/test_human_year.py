"""A year lived by people: the demo district's 2024 cycle without --auto-approve, walked day by day.

Every step is a command a coordinator, a leader or a department types (`perfcycle run`, `submit`, `approve`,
`return`, `respond`, `close-window`, `status` …), each in its own process, on the embedded default (a SQLite
file and Prefect's ephemeral mode), with the bureau's date set by PERFCYCLE_TODAY. Departments send their
forms in batches (early, on the day, late, one never); one sends a wrong form; one is returned and
resubmits; decisions come from different people at both levels, one of them forbidden; a red-light
department responds; a window is closed early; the budget table is approved with an override; the year
closes. After every step the test checks what a person would look at: who owes what, what waits for whom,
what the records say. No command ever prints a traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document as Docx
from openpyxl import load_workbook
from sqlalchemy import Engine, create_engine
from sqlmodel import Session, col, select

from models import Approval, BudgetRecommendation, Cycle, Department, Project, StageState, WarningNotice
from models.audit_log import AuditEntry, DecisionRefusal
from models.tables import CollectionWindow, WindowEntry
from perfcycle.money import FEN_PER_WAN

ROOT = Path(__file__).parents[2]
YEAR = 2024
COORDINATOR, COORDINATOR_2, LEADER = "周晓梅", "陈立军", "刘建国"
EARLY = [f"{c}" for c in range(101, 131)]  # sent before the deadline, put in the folder
ON_THE_DAY = [f"{c}" for c in range(131, 150)]  # `perfcycle submit` on 01-31
WRONG = "150"  # sends another department's workbook first, then its own, late
LATE = ["151", "152", "153"]  # `perfcycle submit` after the deadline
NEVER = "154"  # never sends its targets
RETURNED = "102"  # its targets go back, it resubmits

pytestmark = pytest.mark.prefect


class Bureau:
    """The bureau's machine as the README's rehearsal sets it up (`perfcycle demo --prepare`): one folder with the
    policy, the base data, the departments' forms still to send (待报送/) and the submissions folder (填报/);
    every command runs in that folder, on its defaults (perfcycle.db, out/, outbox/)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.home = tmp / "演练"
        self.forms = self.home / "待报送"
        self.submissions = self.home / "填报"
        self.out = self.home / "out"
        self.db = self.home / "perfcycle.db"
        self.data = f"data/烈山区{YEAR}基础数据.xlsx"
        self.today = f"{YEAR}-01-05"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PERFCYCLE_"))},
            "PREFECT_HOME": str(tmp / "prefect-home"),
            "COLUMNS": "80",
        }
        self._engine: Engine | None = None

    # -- the commands people type --------------------------------------------------------------------

    def perfcycle(self, *args: str, ok: bool = True, cwd: Path | None = None) -> str:
        """Run one command on the bureau's date; its whole output (stdout then stderr), never a traceback."""
        env = {**self.env, "PERFCYCLE_TODAY": self.today}
        done = subprocess.run(
            [sys.executable, "-m", "perfcycle", *args],
            env=env,
            cwd=cwd or self.home,
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = done.stdout + done.stderr
        assert "Traceback" not in output, output[-4000:]
        assert (done.returncode == 0) == ok, f"exit {done.returncode} for {args}:\n{output[-4000:]}"
        return output

    def run(self, *extra: str) -> str:
        return self.perfcycle("run", "--year", str(YEAR), *extra)

    def put(self, form: str, code: str, quarter: str = "") -> None:
        """A department's form put in the folder by hand."""
        source = self.forms / form / quarter / f"{code}.xlsx"
        target = self.submissions / form / quarter / f"{code}.xlsx"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    def put_all(self, form: str, quarter: str = "", skip: tuple[str, ...] = ()) -> None:
        for path in sorted((self.forms / form / quarter).glob("*.xlsx")):
            if path.stem not in skip:
                target = self.submissions / form / quarter / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)

    def submit(
        self, code: str, stage: str = "targets", quarter: str = "", file: Path | None = None, ok: bool = True
    ) -> str:
        path = file or self.forms / stage / quarter / f"{code}.xlsx"
        extra = ["--quarter", quarter] if quarter else []
        return self.perfcycle(
            "submit", str(path), "--year", str(YEAR), "--stage", stage, "--department", code, *extra, ok=ok
        )

    # -- what the records say ------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(f"sqlite:///{self.db}")
        return self._engine

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def entries(self, stage: str) -> dict[str, str]:
        """Each department's status in the stage's collection window."""
        with self.session() as session:
            window = session.exec(select(CollectionWindow).where(CollectionWindow.stage == stage)).one()
            rows = session.exec(
                select(Department.code, WindowEntry.status)
                .join(WindowEntry, col(WindowEntry.department_id) == Department.id)
                .where(WindowEntry.window_id == window.id)
            ).all()
            return dict(rows)

    def due(self, stage: str, code: str) -> date:
        """A department's own deadline in the stage's collection window."""
        with self.session() as session:
            return session.exec(
                select(WindowEntry.due_on)
                .join(CollectionWindow, col(CollectionWindow.id) == WindowEntry.window_id)
                .join(Department, col(Department.id) == WindowEntry.department_id)
                .where(CollectionWindow.stage == stage, Department.code == code)
            ).one()

    def window(self, stage: str) -> CollectionWindow:
        with self.session() as session:
            return session.exec(select(CollectionWindow).where(CollectionWindow.stage == stage)).one()

    def stages(self) -> dict[str, str]:
        with self.session() as session:
            return {s.stage: s.status for s in session.exec(select(StageState))}

    def open_gates(self, gate: str | None = None) -> list[Approval]:
        with self.session() as session:
            query = select(Approval).where(Approval.status == "open").order_by(col(Approval.id))
            if gate is not None:
                query = query.where(Approval.gate == gate)
            return list(session.exec(query))

    def gate_ids(self, gate: str, *subjects: str) -> list[str]:
        return [str(a.id) for a in self.open_gates(gate) if not subjects or a.subject in subjects]

    def name(self, code: str) -> str:
        with self.session() as session:
            return session.exec(select(Department.name).where(Department.code == code)).one()

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


@pytest.fixture(scope="module")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bureau]:
    tmp = tmp_path_factory.mktemp("bureau")
    bureau = Bureau(tmp)
    said = bureau.perfcycle("demo", "--year", str(YEAR), "--out", "演练", "--prepare", cwd=tmp)
    assert "perfcycle run --year 2024" in said
    yield bureau
    bureau.dispose()


def test_a_year_without_auto_approval(bureau: Bureau) -> None:
    b = bureau
    # ---- January: the coordinator opens the year; 30 departments' targets are already in the folder.
    for code in EARLY:
        b.put("targets", code)
    b.today = "2024-01-10"
    said = b.run("--data", b.data, "--submissions", "填报", "--out", "out")
    assert "绩效目标" in said and "2024-01-31" in said
    assert b.name(ON_THE_DAY[0]) in said, "a stop names the departments that still owe the form"
    assert "target_setting" not in said, "never an internal key"
    entries = b.entries("target_setting")
    assert sum(1 for s in entries.values() if s == "received") == len(EARLY)
    assert entries[NEVER] == "pending"
    status = b.perfcycle("status", "--year", str(YEAR))
    assert b.name(NEVER) in status and "2024-01-31" in status

    # ---- 01-31, the due day: most of the rest submit; one sends the wrong workbook.
    b.today = "2024-01-31"
    for code in ON_THE_DAY:
        assert "按时报送" in b.submit(code)
    refused = b.submit(WRONG, file=b.forms / "targets" / "101.xlsx", ok=False)
    refused = " ".join(refused.split())
    assert "101.xlsx" in refused and f"这是部门 101（{b.name('101')}）的填报表" in refused
    assert f"不能作为 {WRONG}（{b.name(WRONG)}）的报送" in refused
    assert b.entries("target_setting")[WRONG] == "pending", "a refused form leaves the department owing"

    # ---- early February: the late ones, the wrong one again with its own form; one never.
    b.today = "2024-02-02"
    for code in [WRONG, *LATE]:
        said = b.submit(code)
        assert "逾期报送" in said and "missing" not in said
    said = b.run()
    entries = b.entries("target_setting")
    assert {entries[c] for c in [WRONG, *LATE]} == {"late"}
    assert entries[NEVER] == "missing"
    assert b.window("target_setting").status == "closed"

    # ---- the coordinator reviews: one department returned, a forbidden decision, the rest approved by two people.
    targets = {a.subject: str(a.id) for a in b.open_gates("targets")}
    assert NEVER not in targets and len(targets) == 53
    said = b.perfcycle("return", targets[RETURNED], "--by", COORDINATOR, "--comment", "缺少满意度指标")
    assert b.entries("target_setting")[RETURNED] == "returned", "a return reopens the department's entry at once"
    assert f"该部门须于 {b.due('target_setting', RETURNED):%Y-%m-%d} 前按审核意见重新报送" in " ".join(said.split())
    forbidden = b.perfcycle("approve", targets["103"], "--by", LEADER, ok=False)
    assert LEADER in forbidden
    with b.session() as session:
        refusal = session.exec(select(DecisionRefusal).order_by(col(DecisionRefusal.id).desc())).first()
        assert refusal is not None and refusal.actor == LEADER and refusal.reason
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "approval.refused")).first() is not None
    first_half = [targets[c] for c in sorted(targets) if c != RETURNED and c < "130"]
    second_half = [targets[c] for c in sorted(targets) if c != RETURNED and c >= "130"]
    b.perfcycle("approve", *first_half, "--by", COORDINATOR, "--comment", "同意")
    b.perfcycle("approve", *second_half, "--by", COORDINATOR_2, "--comment", "同意")
    assert [a.subject for a in b.open_gates("targets")] == []

    # ---- the returned department resubmits a corrected workbook (the same file is refused as unchanged).
    b.today = "2024-02-04"
    b.submit(RETURNED, ok=False)
    corrected = b.tmp / f"{RETURNED}-修改.xlsx"
    workbook = load_workbook(b.forms / "targets" / f"{RETURNED}.xlsx")
    sheet = workbook["绩效指标"]
    sheet.append([RETURNED, sheet.cell(2, 2).value, "满意度", "服务对象满意度", "群众满意度", "≥", "90", "%", None])
    workbook.save(corrected)
    said = b.submit(RETURNED, file=corrected)
    assert "第 2 版" in said and "第 1 版" in said, "the receipt names the version it replaces"
    said = b.run()
    assert b.name(RETURNED) in said, "the run names the department whose new version waits for a decision"
    regate = b.gate_ids("targets", RETURNED)
    assert regate, "the new version reopens the department's gate"
    said = b.perfcycle("approve", *regate, "--by", COORDINATOR, "--resume")

    # ---- the ex-ante assessment ran with the run's submissions folder (the panel's workbook in it).
    b.put_all("panel_scores")
    b.today = "2024-02-06"
    said = b.run()
    with b.session() as session:
        conclusions = session.exec(select(Approval).where(Approval.gate == "ex_ante_conclusions")).all()
        assert conclusions, said
    status = b.perfcycle("status", "--year", str(YEAR))
    assert "事前绩效评估" in status
    said = b.perfcycle("approve", *b.gate_ids("ex_ante_conclusions"), "--by", COORDINATOR_2, "--resume")

    # ---- each quarter: forms in the folder ten days after the quarter; the first red department responds.
    responded: list[str] = []

    def respond_to_a_red_light(quarter: str) -> None:
        if responded:
            return
        with b.session() as session:
            reds = session.exec(
                select(Department.code, WarningNotice.response_due)
                .join(WarningNotice, col(WarningNotice.department_id) == Department.id)
                .where(WarningNotice.quarter == quarter, WarningNotice.level == "red")
                .order_by(col(Department.code))
            ).all()
        if not reds:
            return
        code, due = reds[0]
        status = b.perfcycle("status", "--year", str(YEAR))
        assert b.name(code) in status, "the coordinator sees the red departments"
        said = b.perfcycle(
            "respond", "--year", str(YEAR), "--quarter", quarter, "--department", code,
            "--cause", "项目招标延迟", "--measures", "加快采购进度",
        )  # fmt: skip
        assert str(due) in said
        with b.session() as session:
            notice = session.exec(
                select(WarningNotice)
                .join(Department, col(Department.id) == WarningNotice.department_id)
                .where(Department.code == code, WarningNotice.quarter == quarter)
            ).one()
            assert notice.responded_on is not None
        responded.append(code)

    b.put_all("monitoring", "Q1")
    b.today = "2024-04-10"
    said = b.run()
    assert sum(1 for s in b.entries("monitoring_Q1").values() if s == "received") == 54
    respond_to_a_red_light("Q1")

    # Q2: one department never reports; the coordinator closes the window early and the quarter goes on.
    b.put_all("monitoring", "Q2", skip=("153",))
    b.today = "2024-07-08"
    said = b.run()
    assert b.name("153") in said and "2024-07-10" in said
    b.perfcycle("close-window", "--year", str(YEAR), "--stage", "monitoring", "--quarter", "Q2", "--by", COORDINATOR)
    assert b.entries("monitoring_Q2")["153"] == "missing"
    assert sum(1 for s in b.entries("monitoring_Q2").values() if s == "received") == 53
    said = b.run()
    assert b.stages()["monitoring_Q2"] == "done"
    respond_to_a_red_light("Q2")

    b.put_all("monitoring", "Q3")
    b.today = "2024-10-10"
    b.run()
    respond_to_a_red_light("Q3")
    b.put_all("monitoring", "Q4")
    b.today = "2025-01-10"
    said = b.run()
    respond_to_a_red_light("Q4")
    assert responded, "a red-light department responded"
    assert b.stages()["self_evaluation"] == "waiting" and "2025-03-31" in said

    # ---- the self-evaluation: the department without targets has nothing to evaluate and sends nothing; the
    # window closes the day after its deadline. Then the sample, the key evaluation and their gates.
    b.put_all("self_evaluation", skip=(NEVER,))
    b.put_all("review_scores")
    b.put_all("third_party_scores")
    b.today = "2025-04-01"
    said = b.run()
    assert b.entries("self_evaluation")[NEVER] == "missing"
    sample = b.gate_ids("sample")
    assert sample, said
    b.perfcycle("approve", *sample, "--by", COORDINATOR, "--resume")
    for gate in ("key_evaluation_selection", "key_evaluation_reports"):
        ids = b.gate_ids(gate)
        if ids:
            b.perfcycle("approve", *ids, "--by", COORDINATOR, "--resume")

    # ---- the budget table: level 1 with an override, level 2 by the leader, never both by one person.
    with b.session() as session:
        line = session.exec(
            select(Project.code, BudgetRecommendation.request_fen, BudgetRecommendation.recommended_fen)
            .join(BudgetRecommendation, col(BudgetRecommendation.project_id) == Project.id)
            .where(BudgetRecommendation.recommended_fen > FEN_PER_WAN)
            .order_by(col(Project.code))
        ).first()
    assert line is not None
    code, _request, recommended_fen = line
    override = Decimal(recommended_fen - FEN_PER_WAN) / FEN_PER_WAN  # one 万元 less than recommended
    level1 = b.gate_ids("budget_table")
    assert len(level1) == 1
    b.perfcycle("approve", level1[0], "--by", COORDINATOR, "--override", f"{code}={override:.2f}:据实调整", "--resume")
    level2 = b.gate_ids("budget_table")
    assert len(level2) == 1
    b.perfcycle("approve", level2[0], "--by", COORDINATOR, ok=False)  # one person never signs both levels
    b.perfcycle("approve", level2[0], "--by", LEADER, "--resume")
    report = b.gate_ids("annual_report")
    assert report
    said = b.perfcycle("approve", *report, "--by", LEADER, "--resume")

    # ---- the year is closed: every stage done, nothing running, the audit chain intact.
    assert set(b.stages().values()) == {"done"}, b.stages()
    with b.session() as session:
        assert session.exec(select(Cycle.status).where(Cycle.year == YEAR)).one() == "done"
    assert "校验通过" in b.perfcycle("audit", "verify")
    said = b.run("--json")
    summary = json.loads(next(line for line in reversed(said.splitlines()) if line.startswith("{")))
    cut = Decimal(str(summary["budget"]["cut_wan"]))
    recommended = Decimal(str(summary["budget"]["recommended_wan"]))
    assert summary["budget"]["overridden_projects"] == 1

    # The JSON's figures are the annual report's and the budget table's, the override included.
    report_doc = next((b.out / "documents").rglob("*工作开展情况的说明*.docx"))
    text = "".join(p.text for p in Docx(str(report_doc)).paragraphs)
    budget_text = text[text.index("预算安排建议") :]
    stated_cut = re.search(r"建议安排\d+\.\d{2}万元，压减(\d+\.\d{2})万元", budget_text)  # not the ex-ante cut
    stated_recommended = re.search(r"建议安排(\d+\.\d{2})万元", budget_text)
    assert stated_cut is not None and Decimal(stated_cut.group(1)) == cut
    assert stated_recommended is not None and Decimal(stated_recommended.group(1)) == recommended
    table = next((b.out / "documents").rglob("*预算安排建议表.xlsx"))
    sheet = load_workbook(table, data_only=True).worksheets[0]
    headers = [c.value for c in sheet[2]]
    total = next(row for row in sheet.iter_rows(min_row=3, values_only=True) if row[0] == "合计")
    assert Decimal(str(total[headers.index("压减金额（万元）")])).quantize(Decimal("0.01")) == cut
    assert Decimal(str(total[headers.index("调整后安排（万元）")])).quantize(Decimal("0.01")) == recommended
