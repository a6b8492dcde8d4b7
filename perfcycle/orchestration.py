"""Running the cycle on Prefect from the command line, and making sure its history is complete."""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from perfcycle.runtime import settle_heap, stop_process

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def run_annual_cycle(**parameters: Any) -> dict[str, Any]:
    """Run the annual-cycle flow in this process (the embedded Prefect server unless PREFECT_API_URL is set).

    The year's cycle lock is taken first: a second run of the same year started meanwhile is refused with
    `perfcycle.locks.CycleLocked` (before Prefect even starts), and the lock is released however the run ends.
    """
    start_ephemeral_server()
    from flows.annual_cycle import annual_cycle
    from perfcycle.locks import cycle_lock, default_holder

    with cycle_lock(int(parameters["year"]), default_holder()), prefect_api(), _heartbeats_only_on_a_server():
        settle_heap()
        started = datetime.now(UTC) - timedelta(seconds=1)
        try:
            return annual_cycle(**parameters)
        finally:
            settle_run_history(started)


class EmbeddedServer:
    """Prefect's ephemeral server, run as Prefect runs it (uvicorn in a subprocess, on the Prefect home's
    database, stopped when this process exits), but spawned at once: Prefect first imports its whole server
    into the calling process, seconds of work that would delay the subprocess's own start. Its app retries
    the requests SQLite refused inside the server (`perfcycle.embedded_app`)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._ready = False

    def start(self) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}/api"
        environment = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            **_settings_made_in_process(),
        }
        command = [sys.executable, "-m", "uvicorn", "--app-dir", _prefect_parent(), "--factory"]
        command += ["perfcycle.embedded_app:create_app", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--log-level", "error", "--lifespan", "on"]
        self.process = subprocess.Popen(command, env=environment)
        atexit.register(self.stop)

    def wait(self, timeout: float) -> None:
        """Until the server answers; a clear error if it exits or does not answer within `timeout` seconds."""
        import httpx

        if self._ready:
            return
        assert self.process is not None
        deadline = time.monotonic() + timeout
        with httpx.Client() as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"Prefect 内嵌服务器未能启动（退出码 {self.process.returncode}）")
                try:
                    if client.get(f"{self.url}/health").status_code == 200:
                        self._ready = True
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"Prefect 内嵌服务器在 {timeout:.0f} 秒内没有响应（{self.url}）")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, grace=10)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _prefect_parent() -> str:
    """The folder Prefect is installed in, found without importing Prefect (a second of work)."""
    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.submodule_search_locations
    return str(Path(next(iter(spec.submodule_search_locations))).parent)


def _settings_made_in_process() -> dict[str, str]:
    """Prefect settings this process holds beyond its environment (temporary settings); none before Prefect is
    imported, and the server reads the profile itself."""
    if "prefect.settings" not in sys.modules:
        return {}
    from prefect.settings import get_current_settings

    return get_current_settings().to_environment_variables(exclude_unset=True)


_embedded: EmbeddedServer | None = None


def start_ephemeral_server() -> EmbeddedServer | None:
    """Without a server, start the embedded one now (once per process): it takes seconds, which overlap with
    migrating the database and importing the flows. None when PREFECT_API_URL names a server.

    Unless the environment names a server, the embedded one is spawned before Prefect is imported here; if
    Prefect's profile turns out to name a server, it is stopped again.
    """
    global _embedded
    spawned = None
    if _embedded is None and not os.environ.get("PREFECT_API_URL"):
        spawned = _embedded = EmbeddedServer()
        spawned.start()
    if _api_url():
        if spawned is not None:
            spawned.stop()
            _embedded = None
        return None
    if _embedded is None:
        _embedded = EmbeddedServer()
        _embedded.start()
    return _embedded


@contextmanager
def prefect_api() -> Iterator[None]:
    """Prefect's client pointed at the server PREFECT_API_URL names, else at the embedded one, once it answers."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )

    server = start_ephemeral_server()
    if server is None:
        yield
        return
    server.wait(float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()))
    with temporary_settings(updates={PREFECT_API_URL: server.url}):
        yield


@contextmanager
def _heartbeats_only_on_a_server() -> Iterator[None]:
    """No flow-run heartbeats on the ephemeral server: they let a server notice a run whose process died, but
    that server dies with the process, and each subflow's end waits up to a second for the heartbeat thread."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    if _api_url():
        yield
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def settle_run_history(since: datetime, timeout: float = 20.0) -> None:
    """Flush queued events and logs, then wait until the server has recorded every run in a final state.

    The ephemeral server stops when this process exits; without this, task runs still queued as events
    would be missing from the UI afterwards.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterStartTime
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    EventsWorker.drain_all(timeout=timeout)
    APILogWorker.drain_all(timeout=timeout)
    deadline = time.monotonic() + timeout
    previous: tuple[int, int] | None = None
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            flow_runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since)), limit=200
            )
            ids = [r.id for r in flow_runs]
            task_runs = (
                client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=200)
                if ids
                else []
            )
            states = [r.state_type.value if r.state_type else "" for r in flow_runs]
            states += [r.state_type.value if r.state_type else "" for r in task_runs]
            current = (len(flow_runs), len(task_runs))
            if all(s in TERMINAL for s in states) and current == previous:
                return
            previous = current
            time.sleep(0.1)


def _api_url() -> str:
    """The Prefect server the user named; "" on the embedded one, which lives and dies with this process."""
    from prefect.settings import PREFECT_API_URL

    url = str(PREFECT_API_URL.value() or "")
    return "" if _embedded is not None and url == _embedded.url else url


def _cycle_runs(client: Any, year: int) -> list[Any]:
    """The annual-cycle runs of the year that have not ended (scheduled, running or suspended)."""
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    runs = client.read_flow_runs(
        flow_filter=FlowFilter(name=FlowFilterName(any_=["annual-cycle"])),
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(
                type=FlowRunFilterStateType(
                    any_=[StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.PAUSED]
                )
            ),
        ),
    )
    return [r for r in runs if (r.parameters or {}).get("year") == year]  # a new run is named only once it starts


def _last_parameters(client: Any, year: int) -> dict[str, Any]:
    """The parameters of the year's latest annual-cycle run, so a new run goes on alike (the data workbook and
    folders the cycle recorded win: a run started by hand elsewhere may have named others since)."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    runs = client.read_flow_runs(
        flow_filter=FlowFilter(name=FlowFilterName(any_=["annual-cycle"])), sort=FlowRunSort.EXPECTED_START_TIME_DESC
    )
    same_year = [r.parameters for r in runs if (r.parameters or {}).get("year") == year]
    return {**(same_year[0] if same_year else {}), "year": year}


def resume_gate_run(approval_id: int, flow_run_id: str, answer: dict[str, Any]) -> bool:
    """Resume the run suspended at this gate's group, handing it the decision already recorded (the form's
    schema, `perfcycle.approvals.form_answer`): its rerun finds the decision recorded and goes on."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.flow_runs import resume_flow_run

    from models import Approval, Cycle, session_scope
    from perfcycle.approvals import group_key_prefix

    if not flow_run_id or not _api_url():
        return False
    with session_scope() as session:
        approval = session.get(Approval, approval_id)
        cycle = session.get(Cycle, approval.cycle_id) if approval is not None else None
        if approval is None or cycle is None:
            return False
        prefix = group_key_prefix(cycle.year, approval.gate, approval.level)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(flow_run_id))
    state = run.state
    if state is None or not state.is_paused() or not (state.state_details.pause_key or "").startswith(prefix):
        return False
    resume_flow_run(UUID(flow_run_id), run_input=answer)
    return True


@dataclass(frozen=True)
class RunRef:
    """A Prefect flow run as the workbench names it: a link into the Prefect UI when its address is known."""

    id: str
    name: str

    @property
    def url(self) -> str:
        return run_url(self.id)

    @property
    def text(self) -> str:
        return f"{self.name}（{self.id}）" if self.name else self.id


def prefect_ui_url() -> str:
    """The Prefect UI's address for links to runs: PERFCYCLE_PREFECT_UI_URL, else Prefect's PREFECT_UI_URL (set,
    or derived from a server's PREFECT_API_URL); "" when none is configured or it is this process's own
    ephemeral server, which nobody else can open."""
    from perfcycle.settings import get_settings

    configured = get_settings().prefect_ui_url.strip()
    return configured.rstrip("/") if configured else _prefect_ui_setting()


def _prefect_ui_setting() -> str:
    """Prefect's own PREFECT_UI_URL, unless it is that of this process's ephemeral server."""
    from prefect.settings import PREFECT_UI_URL

    ui = str(PREFECT_UI_URL.value() or "").rstrip("/")
    return "" if _embedded is not None and ui and _embedded.url.startswith(ui) else ui


def run_url(run_id: str) -> str:
    """The flow run's page in the Prefect UI; "" without a UI address (the page then names the run as text)."""
    base = prefect_ui_url()
    return f"{base}/runs/flow-run/{run_id}" if base and run_id else ""


def continue_cycle(year: int) -> str:
    """After a decision or a submission: make the year's cycle go on where a Prefect server runs it.

    Returns what happened: "" without a server (the next `perfcycle run` continues), "running" or "waiting"
    when a run is already under way or suspended at a gate, "resumed" when a run waiting without a form
    was resumed, "started" when the annual-cycle deployment was started again, "no-deployment" otherwise.
    """
    return continue_cycle_run(year)[0]


def continue_cycle_run(year: int) -> tuple[str, RunRef | None]:
    """`continue_cycle`, with the annual-cycle run it found, resumed or started (None when there is none)."""
    if not _api_url():  # before importing Prefect's client: the embedded default never needs it
        return "", None
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.flow_runs import resume_flow_run

    with get_client(sync_client=True) as client:
        runs = _cycle_runs(client, year)
        for run in runs:
            if run.state is not None and not run.state.is_paused():
                return "running", RunRef(str(run.id), run.name)
        for run in runs:
            if run.state is not None and run.state.state_details.run_input_keyset is None:
                resume_flow_run(run.id)
                return "resumed", RunRef(str(run.id), run.name)
        if runs:
            return "waiting", RunRef(str(runs[0].id), runs[0].name)
        deployments = client.read_deployments(flow_filter=FlowFilter(name=FlowFilterName(any_=["annual-cycle"])))
        chosen = [d for d in deployments if (d.parameters or {}).get("year") == year] or list(deployments)
        if not chosen:
            return "no-deployment", None
        parameters = {**_last_parameters(client, year), **_recorded_parameters(year)}
        started = client.create_flow_run_from_deployment(chosen[0].id, parameters=parameters)
        return "started", RunRef(str(started.id), started.name)


def _recorded_parameters(year: int) -> dict[str, str]:
    """The data workbook and folders the cycle recorded at its last run: a run started again uses the same."""
    from models import session_scope
    from perfcycle.cycle_context import recorded_parameters

    with session_scope() as session:
        return recorded_parameters(session, year)
