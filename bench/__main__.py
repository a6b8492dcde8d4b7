"""`python -m bench --size S|M|L --mode bare|prefect|server`: the whole annual cycle of a synthetic district.

The district's workbooks are written before the clock starts; reading and importing them is timed. Prefect's
own database (prefect mode) is created and its block types registered before the clock too, by starting the
embedded server once, as on any machine that has run perfcycle before; `--fresh-prefect-home` times that too. The run
happens in a child process whose whole life (Prefect's start and the flush of its events at exit included)
is `wall_s`; its peak resident memory is `peak_rss_mb`. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.server import PrefectServer, postgres_database
from perfcycle.settings import DEMO_POLICY_DIR


def run_child(
    mode: str, workdir: Path, files: Any, database_url: str, env: dict[str, str]
) -> tuple[dict[str, Any], float, float]:
    command = [
        sys.executable,
        "-m",
        "bench.child",
        "--mode",
        mode,
        "--data",
        str(files.base),
        "--submissions",
        str(files.submissions),
        "--out",
        str(workdir / "out"),
        "--database-url",
        database_url,
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    assert process.stdout is not None and process.stderr is not None
    stdout, stderr = process.stdout.read(), process.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write(stderr)
        raise SystemExit(f"the benchmark run failed ({mode})")
    peak_mb = usage.ru_maxrss / 1024
    return json.loads(stdout.strip().splitlines()[-1]), wall, peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size", choices=["S", "M", "L"], default="S")
    parser.add_argument("--mode", choices=["bare", "prefect", "server"], default="prefect")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the generated district here")
    parser.add_argument("--workers", type=int, default=2, help="process workers in server mode")
    parser.add_argument(
        "--fresh-prefect-home",
        action="store_true",
        help="prefect mode: let the run create Prefect's database too (a machine's first run, ~5 s more)",
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds a server-mode run may take")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix=f"perfcycle-bench-{args.size}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    from perfcycle.demo import generate_demo

    generated = time.perf_counter()
    files = generate_demo(workdir, 2024, size=args.size)
    generate_s = time.perf_counter() - generated
    os.sync()  # the district's writeback belongs to its generation, not to the timed run
    database = workdir / "bench.db"
    for leftover in (workdir / "out", database, database.with_name("bench.db-wal"), database.with_name("bench.db-shm"),
                     workdir / "outbox", workdir / "worker-logs"):  # fmt: skip
        if leftover.is_dir():
            shutil.rmtree(leftover)
        elif leftover.exists():
            leftover.unlink()

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    env["PERFCYCLE_POLICY_DIR"] = str(DEMO_POLICY_DIR)  # the synthetic district runs with the demo's rules
    if args.mode == "server":
        from bench.distributed import run_on_workers

        with postgres_database(f"perfcycle_bench_{uuid.uuid4().hex[:8]}") as domain_url, PrefectServer() as server:
            result, wall, peak = run_on_workers(files, workdir, domain_url, server, env, args.workers, args.timeout)
    else:
        env["PREFECT_HOME"] = str(workdir / "prefect-home")
        shutil.rmtree(workdir / "prefect-home", ignore_errors=True)
        if args.mode == "prefect" and not args.fresh_prefect_home:
            # Prefect's own database and block types are set up by a machine's first run, not once per cycle.
            first_start = "from bench.child import first_start; first_start()"
            subprocess.run([sys.executable, "-c", first_start], env=env, check=True, capture_output=True)
        result, wall, peak = run_child(args.mode, workdir, files, f"sqlite:///{workdir / 'bench.db'}", env)

    report = {
        "size": args.size,
        "mode": args.mode,
        "departments": result["departments"],
        "projects": result["projects"],
        "wall_s": round(wall, 2),
        "cycle_s": result["cycle_s"],
        "stages": result["stages"],
        "peak_rss_mb": round(peak, 1),
        "rows_per_s": round(result["rows"] / result["import_s"]) if result["import_s"] else None,
        "docs_per_s": round(result["documents"] / result["documents_s"], 1) if result["documents_s"] else None,
        "rows": result["rows"],
        "documents": result["documents"],
        "generate_s": round(generate_s, 2),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        **({"workers": args.workers} if args.mode == "server" else {}),
        **({"fresh_prefect_home": True} if args.fresh_prefect_home else {}),
    }
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
