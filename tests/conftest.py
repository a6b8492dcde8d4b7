"""Shared fixtures: a fresh domain database per test, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session, SQLModel

from perfcycle.runtime import configure_prefect

if TYPE_CHECKING:
    from perfcycle.demo import DemoFiles

configure_prefect()

from models import db as models_db  # noqa: E402
from perfcycle.settings import DEMO_POLICY_DIR, get_settings  # noqa: E402

# The tests run the demo district's cycles: its policy, unless a test points elsewhere.
os.environ["PERFCYCLE_POLICY_DIR"] = str(DEMO_POLICY_DIR)

PG_ADMIN_URL = os.environ.get("PERFCYCLE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]
if os.environ.get("PERFCYCLE_TEST_BACKENDS"):
    BACKENDS = os.environ["PERFCYCLE_TEST_BACKENDS"].split(",")


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One throw-away Prefect server and home for the flow tests of this run."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def run_shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this test run that every xdist worker sees (the run's base temp), for work done once per run."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def once_per_run(shared: Path, name: str, make: Callable[[Path], Any]) -> Any:
    """`make(folder)` once for the whole test run, whichever worker asks first; the others wait and reuse it.

    Its result (JSON) is kept beside the folder; a `make` that raised is tried again by the next one to ask."""
    folder, result = shared / name, shared / f"{name}.json"
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            value = make(folder)
            result.write_text(json.dumps(value), encoding="utf-8")
        return json.loads(result.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def demo_2024(run_shared: Path) -> DemoFiles:
    """The demo district's 2024 workbooks, generated once per test run: read them, never write into them
    (a test that files or edits forms works on its own copy)."""

    from perfcycle.demo import DemoFiles, generate_demo

    def make(folder: Path) -> dict[str, str]:
        files = generate_demo(folder, 2024)
        return {"base": str(files.base), "submissions": str(files.submissions)}

    paths = once_per_run(run_shared, "demo-2024", make)
    return DemoFiles(base=Path(paths["base"]), submissions=Path(paths["submissions"]))


@pytest.fixture(scope="session")
def uninterrupted_digest(run_shared: Path, demo_2024: DemoFiles) -> Callable[[str], dict[str, str]]:
    """The digest of one uninterrupted `perfcycle run` of the demo (embedded Prefect) per backend, run once per
    test run: what a resumed cycle and the distributed cycle must end as."""
    from tests.flows.cycle_runs import reference_digest

    def get(backend: str) -> dict[str, str]:
        return dict(
            once_per_run(
                run_shared, f"reference-{backend}", lambda folder: reference_digest(demo_2024, backend, folder)
            )
        )

    return get


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One PostgreSQL database for this test run, dropped at the end; tests reset its tables."""
    name = f"perfcycle_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    models_db.dispose_engines()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty domain database, also set as PERFCYCLE_DATABASE_URL for code under test."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'perfcycle.db'}"
    else:
        url = request.getfixturevalue("pg_database")
    engine = models_db.get_engine(url)
    if request.param != "sqlite":
        SQLModel.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    SQLModel.metadata.create_all(engine)
    models_db.stamp(url)
    monkeypatch.setenv("PERFCYCLE_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    if request.param == "sqlite":
        engine.dispose()
        models_db._ENGINES.pop(url, None)


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """A session on the fresh database, for arranging records and asserting on them."""
    with Session(models_db.get_engine(db_url), expire_on_commit=False) as s:
        yield s


# The longest modules, longest first. The README's command hands whole modules to the two xdist workers in
# collection order (`--dist loadscope --no-loadscope-reorder`), so these go first: started late, any one of
# them would keep one worker busy long after the other has run out of work. The rest keep their order.
LONG_MODULES = [
    "tests/flows/test_human_year.py",
    "tests/flows/test_deployed_cycle.py",
    "tests/test_crash_resume.py",
    "tests/flows/test_annual_cycle.py",
    "tests/documents/test_demo_documents.py",
    "tests/documents/test_pooled_rendering.py",
    "tests/test_cli.py",
    "tests/flows/test_distributed_cycle.py",
    "tests/test_approvals.py",
    "tests/test_collecting.py",
    "tests/test_locks.py",
    "tests/test_notify_crash.py",
    "tests/documents/test_cycle_documents.py",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {module: index for index, module in enumerate(LONG_MODULES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
