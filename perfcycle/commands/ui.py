"""`perfcycle ui`: the Prefect server (UI and API) with telemetry off, and the documents folder served read-only."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from perfcycle.commands.common import err, fail


def _interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt


def ui(
    host: Annotated[str, typer.Option(help="监听地址；供其他电脑访问时用 0.0.0.0")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Prefect 界面与 API 的端口")] = 4200,
    documents: Annotated[
        Path | None,
        typer.Option(help="同时以只读方式提供该输出目录中的文件（运行的 --out），供产物中的链接打开"),
    ] = None,
    documents_port: Annotated[int, typer.Option(help="文件服务的端口")] = 4201,
) -> None:
    """启动 Prefect 服务器（界面与 API，遥测关闭），可同时提供生成文件的下载；Ctrl+C 停止。

    产物中的文件链接指向 PERFCYCLE_DOCUMENTS_URL（如 http://本机地址:4201）；未设置时产物写明文件路径。
    """
    from perfcycle.runtime import stop_process
    from perfcycle.ui import serve_folder, server_command, server_environment

    files = None
    if documents is not None:
        if not documents.is_dir():
            fail(f"找不到输出目录 {documents}")
        try:
            files = serve_folder(documents.resolve(), host, documents_port)
        except OSError as exc:
            fail(f"文件服务无法在 {host}:{documents_port} 启动：{exc.strerror or exc}")
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        err.print(
            f"文件服务：http://{shown}:{documents_port}/ → {documents.resolve()}"
            f"（运行时设置 PERFCYCLE_DOCUMENTS_URL 为此地址，产物中的链接即可打开）",
            highlight=False,
            soft_wrap=True,
        )
    signal.signal(signal.SIGTERM, _interrupt)  # stopped as a service is: stop the server too
    process = subprocess.Popen(server_command(host, port), env=server_environment())
    code = 0
    try:
        code = process.wait()
    except KeyboardInterrupt:
        pass
    finally:  # however this process ends, its server does not outlive it
        stop_process(process, grace=20)
        if files is not None:
            files.shutdown()
            files.server_close()
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add `ui` to the `perfcycle` app."""
    app.command("ui")(ui)
