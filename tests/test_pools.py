"""The shared process pools (perfcycle/pools.py) as the renderer and the reader use them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from perfcycle.settings import PROJECT_ROOT

WORKER_SCRIPT = """
import os, signal, time
from {module} import {name} as owner

if __name__ == "__main__":
    started = owner._shared_pool(2, owner.{start})
    list(started.map(time.sleep, [0.2] * 4))
    print(" ".join(str(pid) for pid in started._processes), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize(
    ("module", "name", "start"),
    [("perfcycle.documents", "catalog", "POOL_START_JOBS"), ("perfcycle.workbooks", "pool", "POOL_START_FILES")],
)
def test_a_killed_parent_leaves_no_worker_behind(tmp_path: Path, module: str, name: str, start: str) -> None:
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(WORKER_SCRIPT.format(module=module, name=name, start=start)))
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    # The workers inherit the output pipes: were one left waiting for work, this would never return.
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    assert len(done.stdout.split()) == 2  # both workers had started
