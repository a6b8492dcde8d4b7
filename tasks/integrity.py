"""The audit chain checked before anything is reported on the strength of it."""

from __future__ import annotations

from prefect import task

from models import session_scope
from perfcycle import audit
from perfcycle.stages import StageError


@task(name="verify-audit-chain")
def verify_audit_chain() -> int:
    """Stop the cycle if any audit entry was edited or deleted; returns how many entries were checked."""
    with session_scope() as session:
        problems = audit.verify(session)
        if problems:
            raise StageError("审计日志校验失败，年度报告暂不生成：" + "；".join(problems))
        return audit.count(session)
