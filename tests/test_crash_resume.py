"""A cycle killed with SIGKILL at any point is continued by the same command, and ends exactly as an
uninterrupted run: the same records and the same documents."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.server import PrefectServer
from perfcycle.demo import DemoFiles
from tests.flows.cycle_runs import clean_env, digest, empty_database

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[PrefectServer]:
    """One real Prefect server for every run of this module (saves the ephemeral start of each)."""
    with PrefectServer(postgres=False) as server:
        yield server


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def reference(backend: str, uninterrupted_digest: Callable[[str], dict[str, str]]) -> dict[str, str]:
    """The digest of one uninterrupted run on this backend (made once per test run, see conftest)."""
    return uninterrupted_digest(backend)


@pytest.fixture(scope="module")
def demo(demo_2024: DemoFiles) -> DemoFiles:
    return demo_2024


def run_cycle(
    demo: DemoFiles, server: PrefectServer, url: str, out: Path, fault: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = clean_env(**server.client_env())
    if fault:
        env["PERFCYCLE_FAULT"] = fault
    command = [
        sys.executable, "-m", "perfcycle", "run", "--year", "2024", "--data", str(demo.base),
        "--submissions", str(demo.submissions), "--auto-approve", "--out", str(out), "--database-url", url,
    ]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


# Each backend is killed at one of the two points (mid-import, mid-documents): both points and both databases
# are covered without running every pair.
@pytest.mark.parametrize(
    ("backend", "fault"),
    [("sqlite", "import-file:30"), ("postgresql", "document-written:12")],
    indirect=["backend"],
)
def test_a_killed_cycle_resumes_to_the_same_end(
    backend: str,
    reference: dict[str, str],
    demo: DemoFiles,
    prefect_server: PrefectServer,
    tmp_path: Path,
    fault: str,
) -> None:
    with empty_database(backend, tmp_path, "crashed") as url:
        killed = run_cycle(demo, prefect_server, url, tmp_path / "out", fault=fault)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        resumed = run_cycle(demo, prefect_server, url, tmp_path / "out")
        assert resumed.returncode == 0, resumed.stderr
        assert "Traceback" not in resumed.stderr
        assert digest(url, tmp_path / "out") == reference
