"""A cycle's data workbook and folders: given to a run, recorded with the cycle, used by every run after it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import Session, select

from models import Cycle, Department, WarningNotice, session_scope
from models.tables import CollectionWindow
from perfcycle import collecting, cycle_context
from perfcycle.demo import DemoFiles
from perfcycle.loaders import import_file
from perfcycle.settings import get_settings
from perfcycle.stages import StageError
from tasks.cycle import open_cycle, read_cycle_context

YEAR = 2024
YEAR_START = date(YEAR, 1, 1)


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    """A data workbook and two submissions and output folders, as a district keeps them."""
    found = {
        "data": tmp_path / "数据" / "基础数据.xlsx",
        "submissions": tmp_path / "填报",
        "other_submissions": tmp_path / "填报-第二批",
        "out": tmp_path / "文件",
        "other_out": tmp_path / "文件-新",
    }
    found["data"].parent.mkdir()
    found["data"].write_bytes(b"")
    for name in ("submissions", "other_submissions"):
        found[name].mkdir()
    return found


def test_what_a_run_is_given_is_recorded_and_a_run_given_nothing_uses_it(
    db_url: str, places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(places["out"].parent)
    cycle_id = open_cycle.fn(
        YEAR, auto_approve=False, data_source=str(places["data"]), submissions="填报", out_dir="文件"
    )
    first = read_cycle_context.fn(cycle_id)
    assert first == {
        "data": str(places["data"]),
        "submissions": str(places["submissions"]),  # recorded absolute: a later run starts elsewhere
        "out_dir": str(places["out"]),
    }

    monkeypatch.chdir(places["submissions"])
    assert open_cycle.fn(YEAR, auto_approve=False) == cycle_id  # a continuation given nothing
    assert read_cycle_context.fn(cycle_id) == first

    open_cycle.fn(YEAR, auto_approve=False, submissions=str(places["other_submissions"]))  # names another folder
    assert read_cycle_context.fn(cycle_id) == {**first, "submissions": str(places["other_submissions"])}
    open_cycle.fn(YEAR, auto_approve=False, out_dir=str(places["other_out"]))
    assert read_cycle_context.fn(cycle_id) == {
        **first,
        "submissions": str(places["other_submissions"]),
        "out_dir": str(places["other_out"]),
    }
    with session_scope() as session:
        said = cycle_context.for_year(session, YEAR).describe()
        given = cycle_context.for_year(session, YEAR, out_dir=str(places["out"]))
    assert f"填报目录 {places['other_submissions']}" in said and f"输出目录 {places['other_out']}" in said
    assert given.out_dir == str(places["out"]) and given.submissions == str(places["other_submissions"])
    with session_scope() as session:
        assert cycle_context.recorded_parameters(session, YEAR) == {
            "data": str(places["data"]),
            "submissions": str(places["other_submissions"]),
            "out_dir": str(places["other_out"]),
        }
        assert cycle_context.recorded_parameters(session, YEAR + 1) == {}


def test_a_cycle_that_recorded_nothing_uses_its_windows_folder_then_the_settings(
    db_url: str, session: Session, places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERFCYCLE_OUTPUT_DIR", str(places["out"]))
    monkeypatch.setenv("PERFCYCLE_SUBMISSIONS_DIR", str(places["submissions"]))
    get_settings.cache_clear()
    cycle_id = open_cycle.fn(YEAR, auto_approve=False)
    assert read_cycle_context.fn(cycle_id) == {
        "data": None,  # the base data already imported
        "submissions": str(places["submissions"]),
        "out_dir": str(places["out"]),
    }
    # A cycle run before it recorded its folders: the one its collection windows recorded.
    session.add(CollectionWindow(cycle_id=cycle_id, stage="target_setting", form="targets",
                                 opens_on=YEAR_START, due_on=YEAR_START, folder=str(places["other_submissions"])))  # fmt: skip
    session.commit()
    assert read_cycle_context.fn(cycle_id)["submissions"] == str(places["other_submissions"])

    with session_scope() as fresh:
        nothing_yet = cycle_context.for_year(fresh, YEAR + 1)
    assert nothing_yet.data is None and nothing_yet.submissions == str(places["submissions"])
    assert nothing_yet.out_dir == str(places["out"])

    # The setting's folder may not exist yet (nothing submitted): that is no reason to stop.
    monkeypatch.setenv("PERFCYCLE_SUBMISSIONS_DIR", str(places["out"] / "还没有"))
    get_settings.cache_clear()
    cycle_context.check(cycle_context.CycleContext(None, str(places["out"] / "还没有"), str(places["out"])))


def test_a_recorded_workbook_or_folder_that_is_gone_stops_the_run_saying_what_to_do(
    db_url: str, places: dict[str, Path]
) -> None:
    cycle_id = open_cycle.fn(
        YEAR,
        auto_approve=False,
        data_source=str(places["data"]),
        submissions=str(places["submissions"]),
        out_dir=str(places["out"]),
    )
    shutil.rmtree(places["submissions"])
    with pytest.raises(StageError, match=f"找不到填报目录 {places['submissions']}.*--submissions"):
        read_cycle_context.fn(cycle_id)
    places["data"].unlink()
    with pytest.raises(StageError, match=f"找不到基础数据工作簿 {places['data']}.*--data"):
        read_cycle_context.fn(cycle_id)


def test_a_form_submitted_to_a_named_folder_makes_it_the_cycles_folder(
    db_url: str, session: Session, demo_2024: DemoFiles, tmp_path: Path
) -> None:
    import_file(demo_2024.base, year=YEAR)
    cycle_id = open_cycle.fn(YEAR, auto_approve=False, submissions=str(demo_2024.submissions))
    folder = tmp_path / "报送"
    receipt = collecting.submit_form(
        session,
        year=YEAR,
        stage="target_setting",
        department_code="101",
        file=demo_2024.submissions / "targets" / "101.xlsx",
        root=folder,
    )
    session.commit()
    assert receipt.path == folder / "targets" / "101.xlsx"
    cycle = session.exec(select(Cycle).where(Cycle.id == cycle_id)).one()
    session.refresh(cycle)
    assert cycle.submissions_dir == str(folder.resolve())
    assert read_cycle_context.fn(cycle_id)["submissions"] == str(folder.resolve())


@contextmanager
def cycle_deployment(year: int, **parameters: str) -> Iterator[Callable[[], list[Any]]]:
    """An annual-cycle deployment of the year on the test server, deleted with its runs afterwards; yields how
    to read its runs."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("annual-cycle")
        deployment_id = client.create_deployment(
            flow_id, f"annual-cycle-{year}", parameters={"year": year, **parameters}
        )

    def runs() -> list[Any]:
        with get_client(sync_client=True) as client:
            only = DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            return list(client.read_flow_runs(deployment_filter=only))

    try:
        yield runs
    finally:
        with get_client(sync_client=True) as client:
            for flow_run in runs():
                client.delete_flow_run(flow_run.id)
            client.delete_deployment(deployment_id)


@pytest.mark.prefect
def test_a_submission_starts_the_cycles_deployment_again_with_its_recorded_data_and_folders(
    db_url: str, session: Session, prefect_harness: None, places: dict[str, Path]
) -> None:
    from perfcycle.orchestration import continue_cycle_run

    year = 2031  # a year no other test runs on the shared server
    recorded = {
        "data": str(places["data"]),
        "submissions": str(places["other_submissions"]),
        "out_dir": str(places["other_out"]),
    }
    session.add(
        Cycle(
            year=year,
            budget_year=year + 2,
            data_source=recorded["data"],
            submissions_dir=recorded["submissions"],
            out_dir=recorded["out_dir"],
        )
    )
    session.commit()
    with cycle_deployment(year, submissions="submissions", out_dir="out") as runs:
        outcome, started = continue_cycle_run(year)
        (run,) = runs()
        assert outcome == "started" and started is not None and (started.id, started.name) == (str(run.id), run.name)
        assert {name: run.parameters.get(name) for name in recorded} == recorded  # not the deployment's defaults
        assert run.parameters["year"] == year


@pytest.mark.prefect
def test_a_stage_deployment_run_on_its_own_reads_and_writes_where_the_cycle_does(
    db_url: str, session: Session, prefect_harness: None, demo_2024: DemoFiles, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from flows.target_setting import target_setting

    import_file(demo_2024.base, year=YEAR)
    folder, out = tmp_path / "填报", tmp_path / "文件"
    (folder / "targets").mkdir(parents=True)
    for code in ("101", "102"):
        shutil.copy(demo_2024.submissions / "targets" / f"{code}.xlsx", folder / "targets" / f"{code}.xlsx")
    open_cycle.fn(YEAR, auto_approve=False, submissions=str(folder), out_dir=str(out))
    # The worker runs elsewhere, in a folder that has a submissions folder of its own (another district's).
    worker = tmp_path / "worker"
    (worker / "submissions" / "targets").mkdir(parents=True)
    shutil.copy(demo_2024.submissions / "targets" / "103.xlsx", worker / "submissions" / "targets" / "103.xlsx")
    monkeypatch.chdir(worker)

    config = yaml.safe_load((Path(__file__).parents[1] / "prefect.yaml").read_text(encoding="utf-8"))
    deployment = next(d for d in config["deployments"] if d["name"] == "target-setting")
    result = target_setting(**deployment["parameters"])

    window = session.exec(select(CollectionWindow).where(CollectionWindow.stage == "target_setting")).one()
    assert window.folder == str(folder)
    received = result["summary"]["received"]
    assert received["files"] == 2 and received["folder"] == str(folder / "targets")
    documents = [Path(p) for p in result["summary"]["documents"]]
    assert documents and all(p.is_relative_to(out) and p.is_file() for p in documents)
    assert not (worker / "out").exists()


@pytest.mark.prefect
def test_a_red_light_response_makes_the_waiting_cycle_go_on_as_a_submission_does(
    db_url: str, session: Session, prefect_harness: None, places: dict[str, Path]
) -> None:
    from typer.testing import CliRunner

    from perfcycle.cli import app

    year = 2032  # a year no other test runs on the shared server
    cycle = Cycle(
        year=year, budget_year=year + 2, submissions_dir=str(places["submissions"]), out_dir=str(places["out"])
    )
    department = Department(code="101", name="区教育局", contact="王芳")
    session.add_all([cycle, department])
    session.flush()
    assert cycle.id is not None and department.id is not None
    session.add(WarningNotice(cycle_id=cycle.id, department_id=department.id, quarter="Q2", level="red",
                              issued_on=date(year, 7, 10), response_due=date(year, 7, 20)))  # fmt: skip
    session.commit()
    with cycle_deployment(year) as runs:
        result = CliRunner().invoke(app, ["respond", "--year", str(year), "--quarter", "Q2", "--department", "101",
                                          "--cause", "招标延期", "--measures", "倒排工期"])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "已记录区教育局（101）" in result.output and "已在 Prefect 中重新启动年度周期部署" in result.output
        (run,) = runs()
        assert run.parameters["submissions"] == str(places["submissions"])


def test_every_reader_of_a_cycles_policy_reads_the_one_it_recorded(session: Session, tmp_path: Path) -> None:
    """The recorded policy, else the year's file: the documents, the messages, the approvals and the stages'
    calendar all read the same one, whichever of the two it is."""
    from perfcycle.approvals import approvals_policy
    from perfcycle.documents import annual_report_context
    from perfcycle.documents.spreadsheets import monitoring_summary
    from perfcycle.policy import Policy, load_policy
    from perfcycle.reminding import issuer_of
    from tasks.common import cycle_policy

    file_policy = load_policy(YEAR)
    recorded = file_policy.model_copy(update={"issuer": "某某区财政局", "district": "某某区"})
    cycle = Cycle(year=YEAR, budget_year=YEAR + 2, district="某某区")  # no recorded policy yet
    session.add(cycle)
    session.commit()
    cycle_id = cycle.id
    assert cycle_id is not None

    def read_by_all(expected: Policy) -> None:
        assert cycle_context.cycle_policy(cycle) == cycle_policy(cycle) == expected
        assert annual_report_context(session, cycle_id).issuer == expected.issuer
        assert issuer_of(cycle) == expected.issuer
        assert approvals_policy(cycle) == expected.approvals
        assert monitoring_summary(session, cycle_id, "Q2").time_progress == expected.monitoring.time_progress["Q2"]

    read_by_all(file_policy)
    cycle.policy_json = recorded.as_json()
    session.add(cycle)
    session.commit()
    read_by_all(recorded)
