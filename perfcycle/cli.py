"""The `perfcycle` command: what a finance bureau's coordinator types."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from perfcycle.runtime import configure_prefect

app = typer.Typer(help="预算绩效管理全周期（perfcycle）", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="数据库", no_args_is_help=True)
policy_app = typer.Typer(help="年度策略文件", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(policy_app, name="policy")

out = Console()
err = Console(stderr=True)


class CliError(Exception):
    """A problem to show the user as a message, never as a traceback."""


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Known problems (bad files, bad policy, stage errors, a database held or failing) become a message and
    exit code 1."""
    from perfcycle.locks import database_problem
    from perfcycle.policy import PolicyError
    from perfcycle.stages import StageError
    from perfcycle.workbooks.reader import ImportRejected

    try:
        yield
    except (CliError, PolicyError, StageError, ImportRejected) as exc:
        err.print(f"[bold red]错误[/]: {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except Exception as exc:
        message = database_problem(exc)
        if message is None:
            raise
        err.print(f"[bold red]错误[/]: {escape(message)}", markup=True, highlight=False)
        raise typer.Exit(1) from None


def _use_database(url: str | None) -> None:
    if url:
        os.environ["PERFCYCLE_DATABASE_URL"] = url
    from models.db import wait_as_command
    from perfcycle.settings import get_settings

    get_settings.cache_clear()
    wait_as_command(get_settings().database_wait_seconds)


@db_app.command("upgrade")
def db_upgrade(database_url: Annotated[str | None, typer.Option(help="覆盖 PERFCYCLE_DATABASE_URL")] = None) -> None:
    """创建数据库或把它升级到最新迁移，并说明做了什么。"""
    _use_database(database_url)
    from sqlalchemy.engine import make_url

    from models import upgrade
    from perfcycle.commands.common import friendly
    from perfcycle.settings import get_settings

    shown = make_url(get_settings().database_url).render_as_string(hide_password=True)
    with friendly():
        before, after = upgrade()
    if before is None:
        out.print(f"已创建数据库（迁移版本 {after}）: {shown}", highlight=False, soft_wrap=True)
    elif before != after:
        out.print(f"已将数据库从迁移版本 {before} 升级到 {after}: {shown}", highlight=False, soft_wrap=True)
    else:
        out.print(f"数据库已是最新（迁移版本 {after}），未做改动: {shown}", highlight=False, soft_wrap=True)


@policy_app.command("show")
def policy_show(
    year: Annotated[int, typer.Option(help="周期年度")],
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
) -> None:
    """显示某年度生效的策略（已校验）。"""
    import yaml

    from perfcycle.policy import load_policy

    with friendly_errors():
        policy = load_policy(year)
    data = policy.model_dump(mode="json")
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), end="")
        print(f"# 预算年度: {policy.budget_year}   策略摘要: {policy.digest()[:16]}")
    if policy.placeholders():
        err.print(f"注意：{'、'.join(policy.placeholders())}仍是「待填写」占位，请在策略文件中填写", highlight=False)


@app.command("template")
def template(
    kind: Annotated[
        str,
        typer.Argument(
            help="base | targets | monitoring | self_evaluation | panel_scores | review_scores | third_party_scores"
        ),
    ],
    output: Annotated[Path | None, typer.Option("--out", help="输出文件，默认 <表名>.xlsx")] = None,
    year: Annotated[
        int | None,
        typer.Option(
            help="按该年度周期预填评分对象（review_scores：抽中部门的项目；third_party_scores：重点评价对象）"
        ),
    ] = None,
    database_url: Annotated[str | None, typer.Option(help="覆盖 PERFCYCLE_DATABASE_URL")] = None,
) -> None:
    """写出一个填报模板（中文表头、下拉选项）；评分表加 --year 时预填本年度的评分对象。"""
    from perfcycle.workbooks.formats import spec_for
    from perfcycle.workbooks.writer import write_template

    try:
        spec = spec_for(kind)
    except KeyError as exc:
        err.print(f"[bold red]错误[/]: {exc.args[0]}")
        raise typer.Exit(2) from None
    path = output or Path(f"{spec.title}.xlsx")
    if year is None:
        write_template(path, spec)
        out.print(f"已写出模板 {path}（{spec.title}）")
        return
    from perfcycle.documents.spreadsheets import SCORE_FORM_BUILDERS, UNASSIGNED, score_form_of_year, write_score_form

    if kind not in SCORE_FORM_BUILDERS:
        err.print(f"[bold red]错误[/]: 只有 {'、'.join(SCORE_FORM_BUILDERS)} 可以按年度预填；{kind} 请去掉 --year")
        raise typer.Exit(2)
    from models import session_scope
    from perfcycle.commands.common import fail, friendly, use_database
    from perfcycle.documents.contexts import ContextError

    with friendly():
        use_database(database_url)
        with session_scope() as session:
            try:
                form = score_form_of_year(session, kind, year)
            except ContextError as exc:
                fail(str(exc))
    if form is None:
        write_template(path, spec)
        out.print(
            f"{year} 年度周期{UNASSIGNED[kind]}，已写出空白模板 {path}（{spec.title}）", highlight=False, soft_wrap=True
        )
        return
    write_score_form(form, path)
    out.print(f"已写出 {year} 年度{spec.title} {path}：{form.assigned}", highlight=False, soft_wrap=True)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="要导入的 .xlsx 文件")],
    year: Annotated[int | None, typer.Option(help="周期年度，默认最近的周期")] = None,
    kind: Annotated[str | None, typer.Option(help="表格类型，默认按工作表识别")] = None,
    quarter: Annotated[str | None, typer.Option(help="监控表的季度 Q1..Q4")] = None,
    database_url: Annotated[str | None, typer.Option(help="覆盖 PERFCYCLE_DATABASE_URL")] = None,
) -> None:
    """校验并导入一个工作簿：全部通过才写入，任何问题都逐条指出。"""
    _use_database(database_url)
    from models import upgrade
    from perfcycle.loaders import import_file

    with friendly_errors():
        upgrade()
        result = import_file(file, year=year or _default_year(), kind=kind, quarter=quarter)
    if result.skipped:
        out.print(f"{file.name}: 与已导入的内容相同，未做改动")
    else:
        out.print(f"{file.name}: 已导入 {result.rows} 行（{result.kind}）")


def _default_year() -> int:
    from sqlmodel import select

    from models import Cycle, now, session_scope

    with session_scope() as session:
        cycle = session.exec(select(Cycle).where(Cycle.status != "historical").order_by(Cycle.year.desc())).first()  # type: ignore[attr-defined]
        return cycle.year if cycle else now().year


def _progress_printer() -> Callable[[str, str, str], None]:
    from perfcycle.stages import STAGE_NAMES

    def show(stage: str, status: str, message: str) -> None:
        mark = "[green]✓[/]" if status == "done" else "[yellow]…[/]"
        err.print(f"{mark} {STAGE_NAMES.get(stage, stage)}: {message}", highlight=False)

    return show


def _run_cycle(
    parameters: dict[str, Any],
    as_json: bool,
    verbose: bool,
    after: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    before: tuple[str, Callable[[], object]] | None = None,
) -> None:
    """Run the cycle and print its figures. `before` (a stage, some work) runs the stages before that one, does
    the work, then continues the cycle; `after` continues from a finished cycle and gives its new summary."""
    configure_prefect(quiet=not verbose)
    if not verbose:
        os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "CRITICAL"
    from models import upgrade
    from perfcycle import progress
    from perfcycle.commands.common import context_line
    from perfcycle.orchestration import run_annual_cycle, start_ephemeral_server
    from perfcycle.stages import STAGES, stages_before

    with friendly_errors():
        start_ephemeral_server()
        upgrade()
        given = {k: parameters.get(k) for k in ("data", "submissions", "out_dir")}
        err.print(context_line(int(parameters["year"]), **given), highlight=False, soft_wrap=True)
        progress.listen(_progress_printer())
        err.print("正在启动 Prefect 并运行年度周期…", highlight=False)
        if before is not None:
            stage, work = before
            summary = run_annual_cycle(**parameters, until=stage)
            if all(summary["stages"][name] == "done" for name, _ in STAGES[: stages_before(stage)]):
                work()
                summary = run_annual_cycle(**parameters)
        else:
            summary = run_annual_cycle(**parameters)
        if after is not None and summary.get("status") == "done":
            summary = after(summary)
    _print_summary(summary)
    if as_json:
        print(json.dumps({k: v for k, v in summary.items() if k not in ("status", "waiting")}, ensure_ascii=False))


def _print_summary(summary: dict[str, Any]) -> None:
    """The cycle's figures, 未运行 for a stage without figures yet; then, unless it is done, where it stopped."""
    from perfcycle.commands.status import say_where_it_stops
    from perfcycle.rules.precision import percent_text

    stages = summary.get("stages", {})

    def figures(key: str, stage: str, text: Callable[[dict[str, Any]], str]) -> str:
        value = summary.get(key)
        if value is None:
            return "未运行" if stages.get(stage, "pending") == "pending" else "尚无结果"
        return text(value) + ("（待审批）" if stages.get(stage) == "waiting" else "")

    lines = [
        f"{summary['year']} 年度周期（预算年度 {summary['budget_year']}）：{summary['departments']} 个部门，{summary['projects']} 个项目",
        "事前评估 "
        + figures(
            "ex_ante",
            "ex_ante_assessment",
            lambda e: (
                f"{e['units']} 家单位 {e['projects']} 个项目，{e['amount_wan']:.2f} 万元，压减 {e['cut_wan']:.2f} 万元"
            ),
        ),
        "抽查复核 "
        + figures(
            "sampling",
            "sampling_review",
            lambda s: (
                f"{s['departments']} 个部门（{percent_text(Decimal(str(s['ratio'])))}），"
                f"累计覆盖率 {percent_text(Decimal(str(s['cumulative_coverage'])))}"
            ),
        ),
        "重点评价 "
        + figures(
            "fiscal_evaluation",
            "fiscal_evaluation",
            lambda f: (
                f"{f['projects']} 个项目 + {f['policies']} 项政策 + {f['departments']} 个部门，{f['amount_wan']:.2f} 万元"
            ),
        ),
        "预算建议 "
        + figures(
            "budget",
            "budget_linkage",
            lambda b: (
                f"{b['projects']} 个项目，压减 {b['cut_projects']} 个共 {b['cut_wan']:.2f} 万元，优先保障 {b['priority_projects']} 个"
            ),
        ),
        f"文件 {len(summary['documents'])} 份",
    ]
    findings, disclosure, adoption = (summary.get(key) for key in ("findings", "disclosure", "adoption"))
    if findings:
        lines.insert(
            -1,
            f"问题整改 登记 {findings['registered']} 项，已反馈 {findings['responded']}，已整改 {findings['closed']}，"
            f"逾期 {findings['overdue']}",
        )
    if disclosure:
        lines.insert(
            -1,
            f"自评公开 按期 {disclosure['published']}，未按期 {disclosure['late']}，未到期 {disclosure['pending']}",
        )
    if adoption:
        lines.insert(
            -1,
            f"采纳情况 {adoption['lines']} 个项目：采纳 {adoption['adopted']}，调整 {adoption['changed']}，"
            f"未采纳 {adoption['not_adopted']}",
        )
    for line in lines:
        err.print(line, highlight=False, markup=False)
    if summary.get("status") != "done":
        say_where_it_stops(err, summary["year"])


@app.command("demo")
def demo(
    year: Annotated[int, typer.Option(help="周期年度")] = 2024,
    out_dir: Annotated[Path, typer.Option("--out", help="输出目录（数据库、数据和文件都在这里）")] = Path("demo-out"),
    as_json: Annotated[bool, typer.Option("--json", help="最后一行输出 JSON 摘要")] = False,
    verbose: Annotated[bool, typer.Option(help="显示 Prefect 日志")] = False,
    prepare: Annotated[
        bool,
        typer.Option(
            "--prepare",
            help="只准备演练：写出示范区的年度策略、基础数据和各部门待报送的填报表，不运行周期（按 README 逐步演练）",
        ),
    ] = False,
) -> None:
    """生成示范区（烈山区）数据，自动审批，跑完整个年度周期；--prepare 只准备一年的人工演练。"""
    from perfcycle.settings import DEMO_POLICY_DIR

    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    if prepare:
        _prepare_rehearsal(year, out_dir)
        return
    os.environ["PERFCYCLE_POLICY_DIR"] = str(DEMO_POLICY_DIR)  # the demo district's rules, never a district's own
    _use_database(os.environ.get("PERFCYCLE_DEMO_DATABASE_URL") or f"sqlite:///{out_dir / 'perfcycle.db'}")
    from perfcycle.demo import generate_demo
    from perfcycle.demo_life import after_the_cycle, before_the_report
    from perfcycle.policy import load_policy

    with friendly_errors():
        files = generate_demo(out_dir, year, load_policy(year))
    _run_cycle(
        {
            "year": year,
            "data": str(files.base),
            "submissions": str(files.submissions),
            "out_dir": str(out_dir),
            "auto_approve": True,
        },
        as_json,
        verbose,
        before=("reporting", lambda: before_the_report(year)),
        after=lambda _summary: after_the_cycle(year, out_dir),
    )


REHEARSAL_FORMS = "待报送"  # the departments' forms, not yet sent: each is submitted or put in 填报/ in turn


def _prepare_rehearsal(year: int, out_dir: Path) -> None:
    """The demo district as a bureau starts its year by hand: its policy where `perfcycle` looks for one (the
    folder's policies/), its base data, each department's forms still to send, an empty 填报/ folder."""
    import shutil

    from perfcycle.demo import generate_demo
    from perfcycle.policy import load_policy_file
    from perfcycle.settings import DEMO_POLICY_DIR

    source = DEMO_POLICY_DIR / f"{year}.yaml"
    with friendly_errors():
        policy = load_policy_file(source)
        policies = out_dir / "policies"
        policies.mkdir(exist_ok=True)
        if not (policies / source.name).exists():
            shutil.copyfile(source, policies / source.name)
        files = generate_demo(out_dir, year, policy, forms=REHEARSAL_FORMS)
    (out_dir / "填报").mkdir(exist_ok=True)
    out.print(
        f"已准备示范区 {year} 年度演练：{out_dir}\n"
        f"  年度策略  policies/{source.name}\n"
        f"  基础数据  {files.base.relative_to(out_dir)}\n"
        f"  各部门待报送的填报表  {REHEARSAL_FORMS}/（尚未报送）\n"
        f"  填报目录  填报/（空）\n"
        f"下一步：cd {out_dir} && perfcycle run --year {year} --data {files.base.relative_to(out_dir)} "
        f"--submissions 填报 --out out",
        highlight=False,
        soft_wrap=True,
    )


@app.command("run")
def run(
    year: Annotated[int, typer.Option(help="周期年度")],
    data: Annotated[Path | None, typer.Option(help="基础数据工作簿 .xlsx（默认：周期上次运行记录的）")] = None,
    submissions: Annotated[
        Path | None, typer.Option(help="填报文件目录，格式见 docs/workbooks.md（默认：周期上次运行记录的）")
    ] = None,
    auto_approve: Annotated[bool, typer.Option("--auto-approve", help="无人值守：各审批关口按策略自动通过")] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="文件输出目录（默认：周期记录的目录，否则 PERFCYCLE_OUTPUT_DIR 即 out）"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="最后一行输出 JSON 摘要")] = False,
    verbose: Annotated[bool, typer.Option(help="显示 Prefect 日志")] = False,
    database_url: Annotated[str | None, typer.Option(help="覆盖 PERFCYCLE_DATABASE_URL")] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="只运行到该阶段之前（如 reporting：先运行其前各阶段，周期留待继续），不加则运行到结束",
        ),
    ] = None,
) -> None:
    """在本区自己的数据上运行（或继续运行）年度周期。"""
    from perfcycle.stages import stages_before

    if until:
        with friendly_errors():
            stages_before(until)
    _use_database(database_url)
    for path in (data, submissions):
        if path is not None and not path.exists():
            err.print(f"[bold red]错误[/]: 找不到 {path}")
            raise typer.Exit(2)
    _run_cycle(
        {
            "year": year,
            "data": str(data.resolve()) if data else None,
            "submissions": str(submissions.resolve()) if submissions else None,
            "out_dir": str(out_dir.resolve()) if out_dir else None,
            "auto_approve": auto_approve,
            **({"until": until} if until else {}),
        },
        as_json,
        verbose,
    )


from perfcycle.commands.approvals import register as _register_approvals  # noqa: E402
from perfcycle.commands.district import register as _register_district  # noqa: E402
from perfcycle.commands.docs import register as _register_docs  # noqa: E402
from perfcycle.commands.events import register as _register_events  # noqa: E402
from perfcycle.commands.findings import register as _register_findings  # noqa: E402
from perfcycle.commands.serve import register as _register_serve  # noqa: E402
from perfcycle.commands.status import register as _register_status  # noqa: E402
from perfcycle.commands.submissions import register as _register_submissions  # noqa: E402
from perfcycle.commands.ui import register as _register_ui  # noqa: E402
from perfcycle.commands.users import register as _register_users  # noqa: E402

_register_approvals(app)
_register_district(app)
_register_docs(app)
_register_events(app)
_register_findings(app)
_register_serve(app)
_register_status(app)
_register_submissions(app)
_register_ui(app)
_register_users(app)


def spawn_as_module() -> None:
    """Started as the `perfcycle` script, tell the spawned workers (readers, renderers) what `python -m
    perfcycle` tells them: the main module is `perfcycle.__main__`, which a worker does not run again. Each
    would otherwise run the script and import the whole CLI before its first item (≈ 0.5 s of CPU, ≈ 1.4 s
    of a run at M)."""
    script = sys.modules["__main__"]
    if getattr(script, "__spec__", None) is None and Path(getattr(script, "__file__", "")).stem == "perfcycle":
        script.__spec__ = importlib.util.find_spec("perfcycle.__main__")


def main() -> None:
    """Console-script entry point."""
    spawn_as_module()
    configure_prefect()
    try:
        app()
    except KeyboardInterrupt:
        err.print("已中断；再次运行同一命令会从中断处继续。")
        sys.exit(130)
