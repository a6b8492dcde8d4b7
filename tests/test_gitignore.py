"""What the README's commands create in the working folder (databases, outputs, the outbox, the district's
policy and workbooks) is never offered for a commit of the project."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from perfcycle.settings import PROJECT_ROOT, Settings


def _created_by_the_commands() -> set[str]:
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    database = str(defaults["database_url"]).removeprefix("sqlite:///")
    folders = {str(defaults[name]) for name in ("output_dir", "outbox_dir", "policy_dir")}
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    written = {match.rstrip("/") for match in re.findall(r"--out (\S+)", readme)}
    return {database, f"{database}-wal", f"{database}-shm", *folders, *written}


def test_files_the_readme_commands_create_are_ignored() -> None:
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    created = _created_by_the_commands()
    assert {"perfcycle.db", "out", "outbox", "policies", "demo-out", "基础数据.xlsx"} <= created
    paths = sorted(name if Path(name).suffix else f"{name}/a.xlsx" for name in created)  # a folder by its files
    checked = subprocess.run(
        ["git", "-c", "core.quotePath=false", "check-ignore", "--no-index", *paths],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    ignored = set(checked.stdout.splitlines())
    assert sorted(set(paths) - ignored) == []
