"""`perfcycle init`: a new district writes its own policy file before anything else."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from perfcycle.commands.common import err, friendly, out


def init(
    district: Annotated[str, typer.Option("--district", help="区县名称，如青山区（文件标题、表格和文件名都用它）")],
    year: Annotated[int, typer.Option(help="周期年度")],
    issuer: Annotated[str | None, typer.Option(help="发文机关，默认「<区县名称>财政局」")] = None,
    coordinators: Annotated[
        list[str] | None,
        typer.Option(
            "--coordinators", help="第1级审批人（财政局绩效科），多人用逗号或顿号分隔；不给则写入「待填写」占位"
        ),
    ] = None,
    leaders: Annotated[
        list[str] | None,
        typer.Option("--leaders", help="第2级审批人（财政局分管领导：预算安排建议表和年度说明）；不给则写入占位"),
    ] = None,
    cost_pilot: Annotated[
        str | None, typer.Option("--cost-pilot", help="成本预算绩效管理试点项目的编码；默认本年度没有试点")
    ] = None,
    policy_dir: Annotated[
        Path | None, typer.Option("--policy-dir", help="策略文件目录，默认 PERFCYCLE_POLICY_DIR（policies/）")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="覆盖该年度已有的策略文件")] = False,
) -> None:
    """新区县写出本区的年度策略文件（区县名称、发文机关、审批人、报送日历）。

    随后依次运行 db upgrade → template base → import → run。
    """
    from perfcycle.district import split_names, write_policy
    from perfcycle.settings import get_settings

    configured = get_settings().policy_dir
    folder = policy_dir or configured
    with friendly():
        written = write_policy(
            folder,
            district,
            year,
            issuer=issuer,
            coordinators=split_names(coordinators),
            leaders=split_names(leaders),
            cost_pilot=cost_pilot,
            force=force,
        )
    policy = written.policy
    pilot = policy.cost_pilot.project_code or "无"
    out.print(
        escape(
            f"已写出 {written.path}：{policy.district} {policy.year} 年度策略（发文机关 {policy.issuer}，"
            f"成本预算绩效管理试点 {pilot}），已校验"
        ),
        highlight=False,
        soft_wrap=True,
    )
    if written.placeholders:
        err.print(
            escape(
                f"{'、'.join(written.placeholders)}尚未给出：请在 {written.path} 中替换标「待填写」的姓名，"
                "或加 --coordinators 姓名,姓名 --leaders 姓名 --force 重新生成"
            ),
            style="yellow",
            highlight=False,
            soft_wrap=True,
        )
    if folder.resolve() != configured.resolve():
        out.print(
            escape(f"其他命令从 {configured} 读取策略：请先设置 PERFCYCLE_POLICY_DIR={folder.resolve()}"),
            highlight=False,
            soft_wrap=True,
        )
    out.print(
        "接下来：\n"
        "  perfcycle db upgrade\n"
        "  perfcycle template base --out 基础数据.xlsx        # 填写部门、项目、财政政策和历年数据\n"
        f"  perfcycle import 基础数据.xlsx --year {year}\n"
        f"  perfcycle run --year {year} --data 基础数据.xlsx --submissions 填报/",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add `init` to the `perfcycle` app."""
    app.command("init")(init)
