"""The ex-ante panel's, the review team's and the third party's page: the objects assigned to them, their pre-filled score sheet,
and its upload, limited to those objects and signed by the person signed in (`perfcycle.score_uploads`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from models import session_scope
from perfcycle.accounts import Identity
from perfcycle.collecting import get_cycle_for
from perfcycle.score_uploads import ROLE_SHEETS, scorer_header, submit_scores
from perfcycle.web.app import render
from perfcycle.web.routes_department import XLSX, attachment, take_upload, year_of
from perfcycle.web.security import Refused, refuse, signed_in
from perfcycle.worklist import visible_documents

router = APIRouter()


def scorer_only(request: Request) -> tuple[Identity, str]:
    identity = signed_in(request)
    if identity.role not in ROLE_SHEETS:
        raise refuse(request, identity, "not_a_scorer", "只有事前评估专家组、复核组和第三方机构的账号可以这样做")
    return identity, ROLE_SHEETS[identity.role]


def evaluator_page(request: Request, identity: Identity, status: int = 200, **result: Any) -> Response:
    from perfcycle.documents.spreadsheets import score_form_of_year

    year = year_of(request)
    documents: list[Any] = []
    assigned = ""
    if year is not None:
        with session_scope() as session:
            documents = visible_documents(session, get_cycle_for(session, year), identity.role, None)
            if identity.role in ROLE_SHEETS:
                form = score_form_of_year(session, ROLE_SHEETS[identity.role], year)
                assigned = form.assigned if form is not None else ""
    return render(
        request,
        "evaluator.html",
        identity,
        status,
        year=year,
        documents=documents,
        assigned=assigned,
        scores=identity.role in ROLE_SHEETS,
        scorer=scorer_header(ROLE_SHEETS[identity.role]) if identity.role in ROLE_SHEETS else "",
        result=result,
    )


@router.get("/scores/template")
def score_sheet(request: Request) -> Response:
    """The score sheet pre-filled with exactly the objects assigned to this person's team."""
    from perfcycle.documents.spreadsheets import score_form_of_year, write_score_form

    _, kind = scorer_only(request)
    year = year_of(request)
    with session_scope() as session:
        form = score_form_of_year(session, kind, year) if year is not None else None
    if form is None:
        raise Refused("还没有分配评分对象", 404)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scores.xlsx"
        write_score_form(form, path)
        content = path.read_bytes()
    from perfcycle.workbooks.formats import SPECS

    return Response(content, media_type=XLSX, headers={"content-disposition": attachment(f"{SPECS[kind].title}.xlsx")})


def _submit(identity: Identity, year: int, kind: str, path: Path) -> Any:
    with session_scope(writing=True) as session:
        return submit_scores(session, year=year, kind=kind, file=path, by=identity.name, login=identity.login)


@router.post("/scores")
async def upload_scores(request: Request) -> Response:
    identity, kind = scorer_only(request)
    year = year_of(request)
    if year is None:
        return evaluator_page(request, identity, 400, error="还没有绩效管理周期")
    status, shown = await take_upload(request, identity, lambda path, _: _submit(identity, year, kind, path))
    if status != 200:
        return evaluator_page(request, identity, status, **shown)
    return evaluator_page(request, identity, scores_received=shown["done"])
