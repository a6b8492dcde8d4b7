"""Sampling review: a reproducible draw that rotates towards full coverage, and the review's flags."""

from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import task
from sqlmodel import select

from models import Cycle, Department, Evaluation, Sample, SampleMember, session_scope
from perfcycle.figures import evaluation_figures, sampling_figures
from perfcycle.findings import open_findings_before
from perfcycle.rules.precision import percent_text
from perfcycle.rules.sampling import default_seed, draw_sample, population_hash, review_flag
from perfcycle.rules.scoring import grade_for
from tasks.artifacts import publish_table
from tasks.common import cycle_policy, get_cycle


@task(name="draw-sample")
def draw_review_sample(cycle_id: int) -> dict[str, Any]:
    """Draw once per cycle and keep the draw: a rerun reads it back instead of drawing again."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        policy = cycle_policy(cycle)
        departments = list(session.exec(select(Department).order_by(Department.code)))
        codes = [d.code for d in departments]
        by_id = {d.id: d.code for d in departments}
        earlier = session.exec(
            select(SampleMember.department_id, Cycle.year)
            .join(Sample, Sample.id == SampleMember.sample_id)  # type: ignore[arg-type]
            .join(Cycle, Cycle.id == Sample.cycle_id)  # type: ignore[arg-type]
        ).all()
        sample = session.exec(select(Sample).where(Sample.cycle_id == cycle_id)).first()
        if sample is None:
            counts = Counter(by_id[d] for d, year in earlier if year < cycle.year)
            digest = population_hash(codes)
            prior = sorted(by_id[d] for d in open_findings_before(session, cycle.year) if d in by_id)
            draw = draw_sample(codes, counts, policy.sampling.ratio, default_seed(cycle.year, digest), prior)
            sample = Sample(
                cycle_id=cycle_id,
                seed=draw.seed,
                population_hash=draw.population_hash,
                algorithm=draw.algorithm,
                ratio=policy.sampling.ratio,
                size=draw.size,
                open_findings=",".join(prior),
            )
            session.add(sample)
            session.flush()
            ids = {d.code: d.id for d in departments}
            for code in draw.members:
                session.add(SampleMember(sample_id=sample.id, department_id=ids[code], tier=draw.tiers[code]))  # type: ignore[arg-type]
            session.flush()
        members = session.exec(select(SampleMember).where(SampleMember.sample_id == sample.id)).all()
        figures = sampling_figures(session, cycle_id)
        names = {d.id: d.name for d in departments}
        first = set(filter(None, sample.open_findings.split(",")))
        publish_table(
            f"{cycle.year}-sample",
            [
                {
                    "部门编码": by_id[m.department_id],
                    "部门名称": names[m.department_id],
                    "此前被抽次数": m.tier,
                    "有未整改问题": "是" if by_id[m.department_id] in first else "",
                }
                for m in sorted(members, key=lambda m: by_id[m.department_id])
            ],
            f"{cycle.year} 年抽查复核样本：{figures.size} 个部门（比例 {percent_text(figures.ratio)}），"
            f"随机种子 {sample.seed}，总体哈希 {sample.population_hash[:12]}…，累计覆盖率 {figures.cumulative.percent}",
        )
        return {
            "departments": figures.size,
            "ratio": float(figures.ratio),
            "cumulative_coverage": float(figures.cumulative.ratio),
            "seed": sample.seed,
            "population_hash": sample.population_hash,
            "algorithm": sample.algorithm,
        }


@task(name="flag-reviews")
def flag_reviews(cycle_id: int) -> dict[str, Any]:
    """Compare each review score with the self-evaluation; a big gap or another grade must be explained."""
    with session_scope() as session:
        cycle = get_cycle(session, cycle_id)
        policy = cycle_policy(cycle)
        self_scores = {
            e.object_code: e.score
            for e in session.exec(
                select(Evaluation).where(
                    Evaluation.cycle_id == cycle_id, Evaluation.kind == "self", Evaluation.object_type == "project"
                )
            )
        }
        reviews = session.exec(
            select(Evaluation).where(Evaluation.cycle_id == cycle_id, Evaluation.kind == "review")
        ).all()
        rows: list[dict[str, Any]] = []
        for review in reviews:
            assert review.score is not None
            review.grade = grade_for(review.score, policy.grades)
            reason = review_flag(
                self_scores.get(review.object_code), review.score, policy.grades, policy.sampling.review_gap_flag
            )
            review.flagged = reason is not None
            review.flag_reason = reason or ""
            session.add(review)
            if reason:
                rows.append(
                    {
                        "项目编码": review.object_code,
                        "自评得分": str(self_scores.get(review.object_code)),
                        "复核得分": str(review.score),
                        "问题": reason,
                    }
                )
        session.flush()
        figures = evaluation_figures(session, cycle_id)
        publish_table(
            f"{cycle.year}-review-flags",
            rows,
            f"{cycle.year} 年抽查复核：复核 {len(figures.reviews)} 个项目，需说明整改 {len(figures.review_flags)} 个",
        )
        return {"reviewed_projects": len(figures.reviews), "flagged": len(figures.review_flags)}
