"""Links to a run in the Prefect UI: the project's setting, else Prefect's PREFECT_UI_URL, else none."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

from perfcycle.orchestration import RunRef, prefect_ui_url, run_url
from perfcycle.settings import get_settings

RUN = "0b8f3c1e-5a8b-4d7e-9c2f-1a2b3c4d5e6f"


@pytest.fixture
def no_setting(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("PERFCYCLE_PREFECT_UI_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_without_a_ui_address_a_run_is_named_as_text(no_setting: None) -> None:
    with temporary_settings(restore_defaults={PREFECT_UI_URL, PREFECT_API_URL}):
        assert prefect_ui_url() == "" and run_url(RUN) == ""
        run = RunRef(RUN, "2024 annual cycle")
        assert run.url == "" and run.text == f"2024 annual cycle（{RUN}）"


def test_prefects_own_ui_address_is_used(no_setting: None) -> None:
    with temporary_settings(updates={PREFECT_UI_URL: "http://10.0.0.5:4200/"}):
        assert run_url(RUN) == f"http://10.0.0.5:4200/runs/flow-run/{RUN}"
    with temporary_settings(updates={PREFECT_API_URL: "http://10.0.0.6:4200/api"}, restore_defaults={PREFECT_UI_URL}):
        assert prefect_ui_url() == "http://10.0.0.6:4200"  # a server's UI, as its API address implies


def test_the_projects_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFCYCLE_PREFECT_UI_URL", "https://prefect.bureau.example/")
    get_settings.cache_clear()
    try:
        with temporary_settings(updates={PREFECT_UI_URL: "http://10.0.0.5:4200"}):
            assert run_url(RUN) == f"https://prefect.bureau.example/runs/flow-run/{RUN}"
    finally:
        get_settings.cache_clear()
