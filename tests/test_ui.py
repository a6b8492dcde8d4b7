"""`perfcycle ui`: Prefect's server with telemetry off in every way the README starts it, and the documents
served read-only so that the links in artifacts open in a browser on another machine."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from perfcycle.documents.links import document_line, document_reference
from tests.servers import free_port, free_ports

ROOT = Path(__file__).parents[1]
REPORT = "关于烈山区2024年区级预算绩效管理工作开展情况的说明.docx"


def _as_from_a_terminal() -> None:
    """Ctrl+C reaches a command typed in a terminal, even when the tests run where SIGINT is ignored (a job started
    in the background by a script)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_until_up(
    process: subprocess.Popen[bytes], api: str, output: Callable[[], str], pause: Callable[[float], object]
) -> None:
    """Until `perfcycle ui`'s server answers at `api`; failing with the command's `output` when it ends first."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, output()[-3000:]
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        pause(0.5)
    raise AssertionError("perfcycle ui did not answer")


def _ctrl_c(process: subprocess.Popen[bytes]) -> None:
    """Ctrl+C, after which the command must end by itself."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError("perfcycle ui did not stop on Ctrl+C") from None


def clean_env(home: Path) -> dict[str, str]:
    """A shell as a new user has it: no Prefect, perfcycle or telemetry settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PERFCYCLE_", "DO_NOT_TRACK"))}
    return {**env, "PREFECT_HOME": str(home)}


def test_a_document_is_a_link_where_the_output_folder_is_served_and_its_path_as_text_elsewhere(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = out / "2024" / REPORT
    assert document_line(report, out, "") == f"- {REPORT}：`{report.as_posix()}`"
    name, url = document_reference(report, out, "http://10.1.2.3:4201/")
    assert name == REPORT and url is not None
    assert url.startswith("http://10.1.2.3:4201/2024/%E5%85%B3%E4%BA%8E") and url.endswith(".docx")
    assert document_line(report, out, "http://10.1.2.3:4201") == f"- [{REPORT}]({url})"
    elsewhere = tmp_path / "elsewhere" / REPORT
    assert document_line(elsewhere, out, "http://10.1.2.3:4201") == f"- {REPORT}：`{elsewhere.as_posix()}`"


def test_prefect_started_in_the_project_folder_sends_no_telemetry(tmp_path: Path) -> None:
    """`prefect server start` typed by hand in the project folder reads the project's [tool.prefect] settings."""
    probe = "from prefect.settings import get_current_settings as s; print(s().server.analytics_enabled)"
    for folder, expected in ((ROOT, "False"), (tmp_path, "True")):
        shown = subprocess.run(
            [sys.executable, "-c", probe], cwd=folder, env=clean_env(tmp_path / "home"), capture_output=True, text=True
        )
        assert shown.stdout.strip() == expected, (folder, shown.stderr[-2000:])


@pytest.mark.server
def test_perfcycle_ui_starts_prefect_without_telemetry_and_serves_the_documents(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "2024").mkdir(parents=True)
    report = out / "2024" / REPORT
    report.write_bytes(b"PK\x03\x04 the report")
    port, files_port = free_ports(2)
    log_path = tmp_path / "ui.log"
    command = [sys.executable, "-m", "perfcycle", "ui", "--port", str(port)]
    command += ["--documents", str(out), "--documents-port", str(files_port)]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=clean_env(tmp_path / "home"),
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_as_from_a_terminal,
        )
    api = f"http://127.0.0.1:{port}/api"
    try:
        _wait_until_up(process, api, lambda: log_path.read_text(encoding="utf-8", errors="replace"), time.sleep)
        settings = httpx.get(f"{api}/admin/settings", timeout=10).raise_for_status().json()
        assert settings["server"]["analytics_enabled"] is False

        _, url = document_reference(report, out, f"http://127.0.0.1:{files_port}")
        assert url is not None
        served = httpx.get(url, timeout=10)
        assert served.status_code == 200 and served.content == report.read_bytes()
        assert httpx.put(url, content=b"x", timeout=10).status_code == 501
        assert httpx.post(url, content=b"x", timeout=10).status_code == 501
        assert report.read_bytes() == b"PK\x03\x04 the report"
        outside = httpx.get(f"http://127.0.0.1:{files_port}/%2e%2e/ui.log", timeout=10)
        assert outside.status_code == 404
    finally:
        _ctrl_c(process)
    with pytest.raises(httpx.TransportError):  # its Prefect server stopped with it
        httpx.get(f"{api}/health", timeout=5)
    output = log_path.read_text(encoding="utf-8", errors="replace")
    assert "telemetry" not in output.lower(), output[-3000:]
    assert "Traceback" not in output, output[-3000:]


@pytest.mark.server
def test_perfcycle_ui_at_a_terminal_asks_nothing_about_prefect_profiles(tmp_path: Path) -> None:
    """Typed at a terminal on a new machine, it starts the server and asks no question: Prefect's offer to point the
    profile at this server would take perfcycle's runs off their own server."""
    port = free_port()
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "perfcycle", "ui", "--port", str(port)],
        cwd=tmp_path,
        env={**clean_env(tmp_path / "home"), "TERM": "xterm", "COLUMNS": "120"},
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        preexec_fn=_as_from_a_terminal,
    )
    os.close(terminal)
    shown = bytearray()

    def read_screen(seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and select.select([controller], [], [], left)[0]:
            try:
                shown.extend(os.read(controller, 65536))
            except OSError:  # the command is gone and its terminal closed
                return

    try:
        _wait_until_up(process, f"http://127.0.0.1:{port}/api", lambda: shown.decode(errors="replace"), read_screen)
        read_screen(3)  # what it prints once up, a question included
    finally:
        try:
            _ctrl_c(process)
        finally:
            read_screen(1)
            os.close(controller)
    screen = shown.decode(errors="replace")
    assert "Check out the dashboard" in screen, screen[-3000:]
    assert "How would you like to proceed" not in screen and "PREFECT_API_URL` setting" not in screen, screen[-3000:]
