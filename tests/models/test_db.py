"""The planner's statistics after a bulk load: sampled, and enough to pick the narrow index."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

from models import Department, Project, create_all, get_engine
from models.db import ANALYSIS_LIMIT, refresh_statistics


def test_statistics_after_a_load_lead_the_planner_to_a_departments_projects(tmp_path: Path) -> None:
    """A year's projects, more than ANALYZE samples of an index: the statistics still say that a department has
    few of them and a year many, and one department's projects are a search of the department index."""
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    create_all(url)
    departments, each = 60, 40
    assert departments * each > ANALYSIS_LIMIT
    with Session(get_engine(url)) as session:
        session.add_all([Department(code=f"D{d:02d}", name=f"部门{d}") for d in range(departments)])
        session.flush()
        session.add_all(
            [
                Project(
                    year=2024, code=f"P{d:02d}{p:02d}", department_id=d + 1, name="项目", type="t", attribute="新增"
                )
                for d in range(departments)
                for p in range(each)
            ]
        )
        session.commit()
        query = "EXPLAIN QUERY PLAN SELECT id FROM project WHERE year = 2024 AND department_id = 7"
        refresh_statistics(session)
        session.commit()
        plan = " ".join(str(row[-1]) for row in session.execute(text(query)))
        stats = dict(session.execute(text("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'project'")).all())
    assert "ix_project_department_id" in plan, plan
    assert abs(int(stats["ix_project_department_id"].split()[1]) - each) <= each // 4  # sampled
    assert int(stats["ix_project_year"].split()[1]) > ANALYSIS_LIMIT // 2
