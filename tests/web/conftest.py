"""The workbench on a fresh database: the demo district's base data in a cycle still to come, its accounts,
and a browser-like client that signs in as a person does (the login page's form token first)."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models import Department, now, session_scope
from perfcycle.accounts import set_password, sync_accounts
from perfcycle.demo import DemoFiles, generate_demo
from perfcycle.loaders import import_file
from perfcycle.settings import get_settings
from perfcycle.web.app import create_app
from tasks.collection import check_collection_window, open_collection_window
from tasks.cycle import open_cycle
from tasks.imports import import_submissions
from tasks.targets import approve_targets, review_targets

YEAR = now().year + 1  # the calendar's deadlines are still ahead
PASSWORD = "绩效工作台-Passw0rd"
COORDINATOR, LEADER = "周晓梅", "刘建国"


@pytest.fixture(scope="session")
def web_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    """The demo district's workbooks for YEAR, made once: read them, never write into them."""
    return generate_demo(tmp_path_factory.mktemp("web-demo"), YEAR)


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "outbox"
    monkeypatch.setenv("PERFCYCLE_OUTBOX_DIR", str(folder))
    monkeypatch.setenv("PERFCYCLE_WEB_URL", "http://testserver")
    get_settings.cache_clear()
    return folder


@pytest.fixture
def cycle(db_url: str, web_demo: DemoFiles, outbox: Path) -> int:
    """The year's cycle opened on the demo base data, every account the base data and policy call for."""
    import_file(web_demo.base, year=YEAR)
    cycle_id = int(open_cycle.fn(YEAR, auto_approve=False))
    with session_scope() as session:
        sync_accounts(session, YEAR)
    return cycle_id


@pytest.fixture
def submissions(tmp_path: Path) -> Path:
    folder = tmp_path / "submissions"
    (folder / "targets").mkdir(parents=True)
    return folder


def run_targets(cycle_id: int, submissions: Path) -> None:
    """The target-setting stage's tasks, without Prefect: import the folder, review, open the gates."""
    window = open_collection_window.fn(cycle_id, "target_setting", str(submissions))
    import_submissions.fn(YEAR, "targets", window["folder"])
    review_targets.fn(cycle_id)
    approve_targets.fn(cycle_id)
    check_collection_window.fn(cycle_id, "target_setting")


def targets_file(demo: DemoFiles, code: str) -> Path:
    return demo.submissions / "targets" / f"{code}.xlsx"


def put_targets(demo: DemoFiles, submissions: Path, *codes: str) -> None:
    for code in codes:
        shutil.copyfile(targets_file(demo, code), submissions / "targets" / f"{code}.xlsx")


def activate(login: str, password: str = PASSWORD) -> None:
    with session_scope() as session:
        set_password(session, login, password)


def department_login(session: Session, code: str) -> str:
    department = session.exec(select(Department).where(Department.code == code)).one()
    return department.code


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no form token"
    return match.group(1)


class Browser:
    """A TestClient that keeps its cookies and signs in through the login page, as a browser would."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def sign_in(self, login: str, password: str = PASSWORD) -> object:
        page = self.client.get("/login")
        response = self.client.post(
            "/login", data={"login": login, "password": password, "csrf": csrf_of(page.text)}, follow_redirects=False
        )
        if response.status_code == 303:
            self.csrf = csrf_of(self.client.get("/").text)
        return response

    def post(self, url: str, data: dict[str, str] | None = None, **kwargs: object) -> object:
        return self.client.post(url, data={"csrf": self.csrf, **(data or {})}, follow_redirects=False, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(), base_url="http://testserver", raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def browser(client: TestClient) -> Browser:
    return Browser(client)


@pytest.fixture
def other_browser() -> Iterator[Browser]:
    with TestClient(create_app(), base_url="http://testserver", raise_server_exceptions=False) as test_client:
        yield Browser(test_client)


@pytest.fixture
def server(cycle: int) -> Iterator[str]:
    """The workbench served by uvicorn in this process (so it sees the test's database), on a free port."""
    import uvicorn

    from perfcycle.web.app import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not served.started:
        assert time.monotonic() < deadline, "the workbench did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    served.should_exit = True
    thread.join(timeout=10)
