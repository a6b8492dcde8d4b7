"""`python -m bench.web_upload`: the deadline hour on the workbench — N departments upload their targets forms
at once over HTTP on 127.0.0.1, to `perfcycle web` with two workers.

The synthetic district of size M (500 departments, 20 projects each) is generated, its base data
imported, the year's targets collection opened and N departments' accounts given a password, all before
the clock; every department then signs in. The N uploads start together (a barrier); each one's time is
from its request to the page with its receipt. Afterwards the records are checked: exactly N receipts,
one per department, each with the sha256 of the file that department sent, each entry received, N audit
entries — nothing lost or doubled. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import python_speed_s

PASSWORD = "Deadline-hour-rush"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def prepare(workdir: Path, departments: int, year: int) -> list[tuple[str, Path]]:
    """The district, its base data, the open targets window and the departments' passwords."""
    from sqlmodel import col, select

    from models import Department, session_scope, upgrade
    from perfcycle.accounts import set_password, sync_accounts
    from perfcycle.demo import generate_demo
    from perfcycle.loaders import import_file
    from tasks.collection import open_collection_window
    from tasks.cycle import open_cycle

    files = generate_demo(workdir, year, size="M")
    upgrade()
    import_file(files.base, year=year)
    cycle_id = int(open_cycle.fn(year, auto_approve=False))
    submissions = workdir / "填报"
    submissions.mkdir(exist_ok=True)
    open_collection_window.fn(cycle_id, "target_setting", str(submissions))
    with session_scope() as session:
        sync_accounts(session, year)
        codes = list(session.exec(select(Department.code).order_by(col(Department.code)).limit(departments)))
    for code in codes:
        with session_scope() as session:
            set_password(session, code, PASSWORD)
    return [(code, files.submissions / "targets" / f"{code}.xlsx") for code in codes]


def prepared_before(workdir: Path, url: str, departments: int) -> list[tuple[str, Path]] | None:
    """A district an earlier run of the same `--workdir` prepared (SQLite), copied to `url`'s file: a second run
    measures again without generating and importing it again. None when there is none to reuse."""
    import shutil

    kept = workdir / "prepared.json"
    if not kept.exists():
        return None
    saved = json.loads(kept.read_text())
    if len(saved["departments"]) < departments:
        return None
    shutil.copyfile(workdir / "prepared.db", url.removeprefix("sqlite:///"))
    shutil.rmtree(workdir / "填报", ignore_errors=True)
    (workdir / "填报").mkdir()
    return [(code, Path(path)) for code, path in saved["departments"][:departments]]


def keep_prepared(workdir: Path, url: str, departments: list[tuple[str, Path]]) -> None:
    """Keep the prepared district's database for `prepared_before` (a backup: the log's pages included)."""
    import sqlite3

    with sqlite3.connect(url.removeprefix("sqlite:///")) as source, sqlite3.connect(workdir / "prepared.db") as copy:
        source.backup(copy)
    listed = [(code, str(path)) for code, path in departments]
    (workdir / "prepared.json").write_text(json.dumps({"departments": listed}))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(base: str, seconds: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the workbench did not start")


def sign_in(base: str, login: str) -> Any:
    import httpx

    client = httpx.Client(base_url=base, timeout=1800)  # the benchmark measures waits, it does not cut them short
    page = client.get("/login")
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    answer = client.post("/login", data={"login": login, "password": PASSWORD, "csrf": token})
    if answer.status_code != 303:
        raise SystemExit(f"{login} could not sign in ({answer.status_code})")
    client.headers["x-csrf"] = CSRF.search(client.get("/").text).group(1)  # type: ignore[union-attr]
    return client


def upload_all(
    clients: list[tuple[str, Path, Any]], year: int, errors: list[str], span: list[float], at_start: Any = None
) -> list[tuple[str, int, float]]:
    """Every department's upload at once, each from its own thread over its own open connection and session (a
    browser each); (code, status, seconds) each (status 0: no answer, said in `errors`). `span` gets the moment
    the uploads started and the one the last ended; `at_start` is called just before they start."""

    def start() -> None:
        if at_start is not None:
            at_start()
        span.append(time.perf_counter())

    barrier = threading.Barrier(len(clients), action=start)
    results: list[tuple[str, int, float]] = []
    lock = threading.Lock()

    def one(code: str, path: Path, client: Any) -> None:
        request = client.build_request(  # the form filled in, its file chosen: the clock starts at the click
            "POST",
            f"/forms/target_setting?year={year}",  # as the page's form posts it
            data={"csrf": client.headers["x-csrf"]},
            files={"file": (path.name, path.read_bytes(), XLSX)},
        )
        request.read()
        barrier.wait()
        started = time.perf_counter()
        try:
            answer = client.send(request)
        except Exception as exc:  # an upload without an answer is a failure the report names, not a lost thread
            with lock:
                results.append((code, 0, time.perf_counter() - started))
                errors.append(f"{code}: {type(exc).__name__}: {exc}")
            return
        elapsed = time.perf_counter() - started
        ok = answer.status_code == 200 and "第 1 版" in answer.text
        with lock:
            results.append((code, answer.status_code if ok else -answer.status_code, elapsed))

    threads = [threading.Thread(target=one, args=client) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    span.append(time.perf_counter())
    return results


def group_cpu_seconds(group: int) -> float:
    """The CPU time (user and system) so far of every process in a process group: the workbench and its workers."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[2]) == group:  # fields after the name: state, ppid, pgrp, …, utime (11), stime (12)
            total += int(fields[11]) + int(fields[12])
    return total / tick


def machine_cpu_seconds() -> float:
    """The CPU time every process of the machine has used so far (user, nice, system), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return sum(int(value) for value in fields[:3]) / os.sysconf("SC_CLK_TCK")


def check_records(expected: dict[str, Path]) -> dict[str, Any]:
    """Nothing lost or doubled: one current receipt per department, with the bytes it sent."""
    from sqlmodel import col, func, select

    from models import Department, session_scope
    from models.audit_log import AuditEntry
    from models.tables import WindowEntry, WindowReceipt
    from perfcycle.collecting import file_sha256

    with session_scope() as session:
        receipts = session.exec(
            select(Department.code, WindowReceipt.sha256, WindowReceipt.version).join(
                WindowReceipt, col(WindowReceipt.department_id) == Department.id
            )
        ).all()
        received = session.exec(
            select(func.count()).select_from(WindowEntry).where(col(WindowEntry.status) == "received")
        ).one()
        audited = session.exec(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "submission.received")
        ).one()
    by_code = {code: (sha, version) for code, sha, version in receipts}
    matching = sum(1 for code, path in expected.items() if by_code.get(code) == (file_sha256(path), 1))
    return {
        "receipts": len(receipts),
        "departments_with_receipt": len(by_code),
        "receipts_matching_the_file_sent": matching,
        "entries_received": received,
        "audit_entries": audited,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.web_upload", description=__doc__)
    parser.add_argument("--departments", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    from perfcycle.runtime import configure_prefect

    configure_prefect()
    from models import now
    from perfcycle.settings import DEMO_POLICY_DIR, get_settings

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="perfcycle-bench-web-"))
    workdir.mkdir(parents=True, exist_ok=True)
    year = now().year + 1  # the targets' deadline is still ahead: every upload is on time
    with ExitStack() as stack:
        if args.database == "postgresql":
            from bench.server import postgres_database

            url = stack.enter_context(postgres_database(f"perfcycle_bench_web_{uuid.uuid4().hex[:8]}"))
        else:
            url = f"sqlite:///{workdir / f'web-{uuid.uuid4().hex[:8]}.db'}"
        env = {**os.environ, "PERFCYCLE_DATABASE_URL": url, "PERFCYCLE_POLICY_DIR": str(DEMO_POLICY_DIR)}
        env["PERFCYCLE_OUTBOX_DIR"] = str(workdir / "outbox")
        env["PERFCYCLE_WEB_ADDRESS_FAILURES"] = "10000"
        os.environ.update(
            {k: env[k] for k in ("PERFCYCLE_DATABASE_URL", "PERFCYCLE_POLICY_DIR", "PERFCYCLE_OUTBOX_DIR")}
        )
        get_settings.cache_clear()
        prepared = time.perf_counter()
        departments = prepared_before(workdir, url, args.departments) if args.database == "sqlite" else None
        if departments is None:
            departments = prepare(workdir, args.departments, year)
            if args.database == "sqlite":
                keep_prepared(workdir, url, departments)
        prepare_s = time.perf_counter() - prepared

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "perfcycle", "web", "--port", str(port), "--workers", str(args.workers)],
            env=env,
            cwd=workdir,
            stdout=(workdir / "web.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers are stopped with it
        )
        try:
            wait_until_up(base)
            clients = [(code, path, sign_in(base, code)) for code, path in departments]
            errors: list[str] = []
            before: dict[str, float] = {}

            def at_start() -> None:
                before.update(server=group_cpu_seconds(server.pid), client=time.process_time())
                before["machine"] = machine_cpu_seconds()

            speed = python_speed_s()
            span: list[float] = []
            results = upload_all(clients, year, errors, span, at_start)
            wall = span[-1] - span[0]
            server_cpu = group_cpu_seconds(server.pid) - before["server"]
            client_cpu = time.process_time() - before["client"]
            other_cpu = machine_cpu_seconds() - before["machine"] - server_cpu - client_cpu
            for _, _, client in clients:
                client.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        records = check_records(dict(departments))

    times = sorted(seconds for _, _, seconds in results)
    report = {
        "departments": len(departments),
        "projects_per_form": 20,
        "workers": args.workers,
        "database": args.database,
        "ok": sum(1 for _, status, _ in results if status == 200),
        "failed": sorted({status for _, status, _ in results if status != 200}),
        "p50_s": round(statistics.median(times), 2),
        "p95_s": round(times[max(0, int(len(times) * 0.95) - 1)], 2),
        "max_s": round(times[-1], 2),
        "wall_s": round(wall, 2),
        "prepare_s": round(prepare_s, 1),
        "server_cpu_ms_per_upload": round(server_cpu / len(departments) * 1000, 1),
        "client_cpu_ms_per_upload": round(client_cpu / len(departments) * 1000, 1),
        "other_processes_cpu_s": round(max(0.0, other_cpu), 2),  # the machine's other work meanwhile
        "errors": errors,
        **records,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "python_speed_s": speed,  # bench.python_speed_s just before the uploads: lower is a faster machine
    }
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
