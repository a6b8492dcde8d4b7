"""The demo district 烈山区: its workbooks, read back and run through the rules, give the seed report's figures."""

from __future__ import annotations

import zipfile
from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from perfcycle.demo import DemoFiles, district_model, generate_demo
from perfcycle.money import wan_to_fen
from perfcycle.policy import Policy, load_policy
from perfcycle.rules.ex_ante import ex_ante_conclusion, ex_ante_cut, ex_ante_total, needs_ex_ante
from perfcycle.rules.lights import ProjectQuarter, department_light
from perfcycle.rules.sampling import cumulative_coverage, default_seed, draw_sample, population_hash
from perfcycle.rules.selection import (
    ProjectCandidate,
    SimpleCandidate,
    propose_selection,
    selection_total,
)
from perfcycle.rules.targets import TargetIndicator, check_targets
from perfcycle.settings import DEMO_POLICY_DIR
from perfcycle.workbooks.formats import SPECS
from perfcycle.workbooks.reader import ParsedWorkbook, read_workbook

YEAR = 2024
QUARTERS = ("Q1", "Q2", "Q3", "Q4")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(YEAR, DEMO_POLICY_DIR)


@pytest.fixture(scope="module")
def files(demo_2024: DemoFiles) -> DemoFiles:
    """The run's demo workbooks (generated with the year's policy, as `generate_demo(folder, 2024)` does)."""
    return demo_2024


def _kind(files: DemoFiles, path: Path) -> str:
    return "base" if path == files.base else path.relative_to(files.submissions).parts[0]


def _all_files(files: DemoFiles) -> list[Path]:
    return [files.base, *sorted(files.submissions.rglob("*.xlsx"))]


@pytest.fixture(scope="module")
def parsed(files: DemoFiles) -> dict[Path, ParsedWorkbook]:
    """Every generated workbook through the importer's reader (raises ImportRejected on any problem)."""
    return {path: read_workbook(path, _kind(files, path)) for path in _all_files(files)}


def _rows(parsed: dict[Path, ParsedWorkbook], path: Path, sheet: str) -> list[dict[str, Any]]:
    return [row.values for row in parsed[path].sheets[sheet]]


def _folder_rows(files: DemoFiles, parsed: dict[Path, ParsedWorkbook], folder: str, sheet: str) -> list[dict[str, Any]]:
    root = files.submissions / folder
    return [row.values for path, wb in parsed.items() if root in path.parents for row in wb.sheets[sheet]]


def test_layout(files: DemoFiles) -> None:
    assert files.base.name == "烈山区2024基础数据.xlsx"
    assert files.base.parent.name == "data"
    codes = [str(c) for c in range(101, 155)]
    expected = {f"{folder}/{code}.xlsx" for folder in ("targets", "self_evaluation") for code in codes}
    expected |= {f"monitoring/{q}/{code}.xlsx" for q in QUARTERS for code in codes}
    expected |= {
        "panel_scores/事前评估评分.xlsx",
        "review_scores/抽查复核评分.xlsx",
        "third_party_scores/重点评价评分.xlsx",
    }
    found = {p.relative_to(files.submissions).as_posix() for p in files.submissions.rglob("*.xlsx")}
    assert found == expected


def test_departments(files: DemoFiles, parsed: dict[Path, ParsedWorkbook]) -> None:
    departments = _rows(parsed, files.base, "部门")
    assert len(departments) == 54
    assert [d["code"] for d in departments] == [str(c) for c in range(101, 155)]
    names = {d["name"] for d in departments}
    for name in ("区教育局", "区卫生健康委员会", "区财政局", "区机关服务中心", "任楼街道办事处", "古饶镇人民政府"):
        assert name in names
    assert all(d["email"].endswith("@lieshan.gov.cn.invalid") for d in departments)
    projects = _rows(parsed, files.base, "项目")
    assert 600 <= len(projects) <= 700
    assert {p["type"] for p in projects} == {"机构运行保障类", "事业发展类"}
    assert {p["attribute"] for p in projects} == {"新增", "延续", "经常性"}
    assert all(p["code"].startswith("LS") and p["code"].split("-")[1] == p["department_code"] for p in projects)


def test_ex_ante_scope_and_cut(files: DemoFiles, parsed: dict[Path, ParsedWorkbook], policy: Policy) -> None:
    projects = _rows(parsed, files.base, "项目")
    scope = [p for p in projects if needs_ex_ante(p["attribute"], wan_to_fen(p["request_wan"]), policy.ex_ante)]
    assert len(scope) == 10
    assert len({p["department_code"] for p in scope}) == 4
    assert sum(p["request_wan"] for p in scope) == Decimal("16904.55")

    panel = _rows(parsed, files.submissions / "panel_scores" / "事前评估评分.xlsx", "评估评分")
    assert sorted(r["project_code"] for r in panel) == sorted(p["code"] for p in scope)
    request = {p["code"]: wan_to_fen(p["request_wan"]) for p in scope}
    fields = ("necessity", "economy", "targets", "feasibility", "compliance")
    cut = 0
    conclusions: Counter[str] = Counter()
    for row in panel:
        total = ex_ante_total(
            dict(zip(policy.ex_ante.dimensions, (row[f] for f in fields), strict=True)), policy.ex_ante
        )
        conclusion = ex_ante_conclusion(total, policy.ex_ante)
        conclusions[conclusion] += 1
        cut += ex_ante_cut(conclusion, request[row["project_code"]], wan_to_fen(row["proposed_cut_wan"]))
    assert cut == wan_to_fen("2090.55")
    assert conclusions["予以支持"] > conclusions["调整后支持"] >= 1
    assert conclusions["不予支持"] == 1


def _selection(files: DemoFiles, parsed: dict[Path, ParsedWorkbook], policy: Policy) -> list[Any]:
    projects = _rows(parsed, files.base, "项目")
    overall: Counter[str] = Counter()
    for p in projects:
        overall[p["department_code"]] += wan_to_fen(p["budget_wan"])
    kinds = {"项目": "project", "部门": "department", "政策": "policy"}
    lookback = policy.fiscal_evaluation.lookback_cycles
    recent = {
        (kinds[e["object_type"]], e["object_code"])
        for e in _rows(parsed, files.base, "历年评价")
        if e["kind"] == "财政重点评价" and YEAR - lookback <= e["year"] < YEAR
    }
    return propose_selection(
        [
            ProjectCandidate(
                p["code"], p["name"], wan_to_fen(p["budget_wan"]), p["policy_related"], p["high_attention"]
            )
            for p in projects
        ],
        [
            SimpleCandidate(p["code"], p["name"], wan_to_fen(p["funds_wan"]))
            for p in _rows(parsed, files.base, "财政政策")
        ],
        [SimpleCandidate(d["code"], d["name"], overall[d["code"]]) for d in _rows(parsed, files.base, "部门")],
        recent,
        policy.fiscal_evaluation,
    )


def test_key_evaluation_selection(files: DemoFiles, parsed: dict[Path, ParsedWorkbook], policy: Policy) -> None:
    selected = _selection(files, parsed, policy)
    assert Counter(o.object_type for o in selected) == {"project": 9, "policy": 1, "department": 2}
    assert selection_total(selected) == wan_to_fen("160491.47")
    history = _rows(parsed, files.base, "历年评价")
    recent_fiscal = [e for e in history if e["kind"] == "财政重点评价" and e["year"] >= YEAR - 2]
    assert {e["object_type"] for e in recent_fiscal} == {"项目", "部门", "政策"}  # the skip rule matters
    skipped = {e["object_code"] for e in recent_fiscal}
    assert not skipped & {o.code for o in selected}

    scores = _rows(parsed, files.submissions / "third_party_scores" / "重点评价评分.xlsx", "重点评价")
    labels = {"project": "项目", "policy": "政策", "department": "部门"}
    assert sorted((r["object_type"], r["object_code"], r["object_name"]) for r in scores) == sorted(
        (labels[o.object_type], o.code, o.name) for o in selected
    )
    assert {"优", "良", "中"} <= {
        ("优" if s >= 90 else "良" if s >= 80 else "中" if s >= 60 else "差") for s in (r["score"] for r in scores)
    }


def test_sampling(files: DemoFiles, parsed: dict[Path, ParsedWorkbook], policy: Policy) -> None:
    codes = sorted(d["code"] for d in _rows(parsed, files.base, "部门"))
    history = _rows(parsed, files.base, "历年抽查")
    by_year: defaultdict[int, set[str]] = defaultdict(set)
    for r in history:
        by_year[r["year"]].add(r["department_code"])
    assert sorted(by_year) == [YEAR - 2, YEAR - 1]
    assert [len(v) for v in by_year.values()] == [11, 11]
    assert len(by_year[YEAR - 2] | by_year[YEAR - 1]) == 22

    counts = Counter(r["department_code"] for r in history)
    draw = draw_sample(codes, counts, policy.sampling.ratio, default_seed(YEAR, population_hash(codes)))
    assert len(draw.members) == 11
    assert not set(draw.members) & set(counts)
    coverage = cumulative_coverage([*by_year.values(), draw.members], codes)
    assert coverage == Decimal("0.6111")  # 33 / 54
    assert coverage >= policy.sampling.coverage_target

    review = _rows(parsed, files.submissions / "review_scores" / "抽查复核评分.xlsx", "复核评分")
    assert {r["department_code"] for r in review} == set(draw.members)
    project_dept = {p["code"]: p["department_code"] for p in _rows(parsed, files.base, "项目")}
    assert {r["project_code"] for r in review} == {c for c, d in project_dept.items() if d in draw.members}
    names = {p["code"]: p["name"] for p in _rows(parsed, files.base, "项目")}
    names |= {d["code"]: d["name"] for d in _rows(parsed, files.base, "部门")}
    assert all(
        (names[r["department_code"]], names[r["project_code"]]) == (r["department_name"], r["project_name"])
        for r in review
    )


def test_monitoring(files: DemoFiles, parsed: dict[Path, ParsedWorkbook], policy: Policy) -> None:
    projects = {p["code"]: p for p in _rows(parsed, files.base, "项目")}
    spent: dict[str, list[Decimal]] = defaultdict(list)
    lights: dict[str, list[str]] = defaultdict(list)
    for quarter in QUARTERS:
        rows = _folder_rows(files, parsed, f"monitoring/{quarter}", "项目监控")
        assert sorted(r["project_code"] for r in rows) == sorted(projects)
        grouped: defaultdict[str, list[ProjectQuarter]] = defaultdict(list)
        for r in rows:
            assert r["quarter"] == quarter
            assert r["spent_wan"] <= projects[r["project_code"]]["budget_wan"]
            spent[r["project_code"]].append(r["spent_wan"])
            budget = wan_to_fen(projects[r["project_code"]]["budget_wan"])
            grouped[r["department_code"]].append(
                ProjectQuarter(budget, wan_to_fen(r["spent_wan"]), r["target_progress"], r["likelihood"])
            )
        assert len(grouped) == 54
        for code, items in grouped.items():
            lights[code].append(department_light(items, quarter, policy.monitoring).light)
    assert all(values == sorted(values) for values in spent.values())
    for index in range(4):
        mix = Counter(row[index] for row in lights.values())
        assert mix["green"] > 40 and mix["red"] <= 3
    assert max(Counter(row[index] for row in lights.values())["yellow"] for index in range(4)) >= 3
    improving = [c for c, row in lights.items() if any(a == "red" and b != "red" for a, b in pairwise(row))]
    persistent = [c for c, row in lights.items() if any(a == "red" and b == "red" for a, b in pairwise(row))]
    assert len(improving) >= 2
    assert persistent == ["154"]
    year_end = [spent[c][3] / projects[c]["budget_wan"] for c in projects]
    low = sum(1 for e in year_end if e < Decimal("0.80"))
    assert 0 < low < len(year_end) // 5


def test_targets(files: DemoFiles, parsed: dict[Path, ParsedWorkbook], policy: Policy) -> None:
    projects = {p["code"]: p for p in _rows(parsed, files.base, "项目")}
    grouped: defaultdict[str, list[TargetIndicator]] = defaultdict(list)
    for r in _folder_rows(files, parsed, "targets", "绩效指标"):
        value = None if r["operator"] == "定性" else Decimal(r["target"])
        grouped[r["project_code"]].append(
            TargetIndicator(r["level1"], r["operator"], value, r["unit"] or "", r["name"])
        )
    assert set(grouped) == set(projects)
    failing = {code: check_targets(projects[code]["type"], inds, policy.targets) for code, inds in grouped.items()}
    failing = {code: reasons for code, reasons in failing.items() if reasons}
    assert len(failing) == 2
    assert {projects[c]["department_code"] for c in failing} == {"143"}
    assert all(projects[c]["budget_wan"] < 100 for c in failing)
    operators = Counter(ind.operator for inds in grouped.values() for ind in inds)
    assert set(operators) == {"≥", "≤", "=", "定性"}


def test_self_evaluation_and_cost_pilot(files: DemoFiles, parsed: dict[Path, ParsedWorkbook], policy: Policy) -> None:
    model = district_model(YEAR, policy=policy)
    projects = {p["code"]: p for p in _rows(parsed, files.base, "项目")}
    claims = {r["project_code"]: r["claimed_score"] for r in _folder_rows(files, parsed, "self_evaluation", "项目自评")}
    assert set(claims) == set(projects)
    computed = dict(model.facts.computed_project_scores)
    inflated = {
        c for c, claimed in claims.items() if claimed - computed[c] >= policy.self_evaluation.inflation_flag_points
    }
    assert inflated == set(model.facts.inflated_project_codes) and 3 <= len(inflated) <= 15
    departments = _folder_rows(files, parsed, "self_evaluation", "部门自评")
    assert len(departments) == 54
    assert all(projects[d["evaluated_project_code"]]["department_code"] == d["department_code"] for d in departments)
    due = policy.disclosure.due_date(YEAR)
    late = [d for d in departments if d["published_on"] is None or d["published_on"] > due]
    assert 2 <= len(late) <= 8
    actuals = _folder_rows(files, parsed, "self_evaluation", "指标完成")
    assert len(actuals) == len(_folder_rows(files, parsed, "targets", "绩效指标"))

    pilot = projects[policy.cost_pilot.project_code or ""]
    assert pilot["name"] == "公车运行" and pilot["budget_wan"] == Decimal("363.00")
    assert pilot["department_code"] == "136"


def test_workbooks_have_spec_headers(files: DemoFiles) -> None:
    for path in _all_files(files):
        spec = SPECS[_kind(files, path)]
        workbook = load_workbook(path, read_only=True)
        try:
            assert workbook.sheetnames == [s.name for s in spec.sheets]
            for sheet in spec.sheets:
                header = next(workbook[sheet.name].iter_rows(max_row=1, values_only=True))
                assert list(header) == sheet.headers, (path, sheet.name)
        finally:
            workbook.close()


def _state(files: DemoFiles, root: Path) -> dict[Path, tuple[bytes, int]]:
    """Each workbook's bytes and modification time, by its place in the folder."""
    return {p.relative_to(root): (p.read_bytes(), p.stat().st_mtime_ns) for p in _all_files(files)}


def test_deterministic(files: DemoFiles, tmp_path: Path, policy: Policy) -> None:
    assert district_model(YEAR, policy=policy) == district_model(YEAR, policy=policy)
    again = generate_demo(tmp_path, YEAR, policy)
    first = {name: data for name, (data, _) in _state(files, files.base.parent.parent).items()}
    second = _state(again, tmp_path)
    assert len(second) == 328
    assert first == {name: data for name, (data, _) in second.items()}  # same cells, same bytes, any day
    # `perfcycle demo` run again into the same folder finds its workbooks as they are and leaves them so.
    rerun = generate_demo(tmp_path, YEAR, policy)
    assert _state(rerun, tmp_path) == second
    with zipfile.ZipFile(again.base) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    properties = load_workbook(again.base).properties
    assert properties.created == properties.modified == datetime(YEAR, 1, 1)


def test_larger_sizes_share_the_generator(policy: Policy) -> None:
    model = district_model(YEAR, "M", policy)
    assert len(model.departments) == 500
    counts = Counter(p.department_code for p in model.projects)
    assert min(counts.values()) >= 20 and sum(counts.values()) < 500 * 21
    assert len(model.facts.sampled_department_codes) == 100
    assert model.facts.cost_pilot_project_code == policy.cost_pilot.project_code
    with pytest.raises(ValueError):
        district_model(YEAR, "XL", policy)


def test_prepare_sets_up_a_rehearsal_and_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from perfcycle.cli import app
    from perfcycle.policy import load_policy_file

    monkeypatch.chdir(tmp_path)
    said = CliRunner().invoke(app, ["demo", "--year", "2024", "--out", "演练", "--prepare"])
    assert said.exit_code == 0, said.output
    home = tmp_path / "演练"
    assert load_policy_file(home / "policies" / "2024.yaml").district == "烈山区"
    assert (home / "data" / "烈山区2024基础数据.xlsx").is_file()
    assert len(list((home / "待报送" / "targets").glob("*.xlsx"))) == 54
    assert (home / "填报").is_dir() and not any((home / "填报").iterdir())
    assert not (home / "perfcycle.db").exists() and not (home / "out").exists()
    assert "perfcycle run --year 2024 --data data/烈山区2024基础数据.xlsx --submissions 填报 --out out" in said.output
