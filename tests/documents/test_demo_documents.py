"""The demo district's whole cycle on Prefect, once per database backend: every kind of document exists,
is recorded with the sha256 of its bytes and linked from its stage's artifact, the annual report states the
seed's figures under the seed's headings, and `perfcycle docs` regenerates the same bytes."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest
from docx import Document as open_docx
from docx.oxml.ns import qn
from openpyxl import load_workbook
from sqlmodel import select

from flows.annual_cycle import annual_cycle
from models import Cycle, Document, session_scope
from perfcycle.commands.docs import docs_command
from perfcycle.demo import generate_demo
from perfcycle.documents.catalog import all_kinds
from perfcycle.documents.renderer import docx_text
from perfcycle.settings import get_settings
from tests.documents.pdf import (
    PDFTOTEXT,
    SOFFICE,
    assert_pages_filled,
    assert_prints_as_issued,
    needs_office,
    pages,
    print_to_pdf,
    text_lines,
)

pytestmark = pytest.mark.prefect

# The figures of the seed report (烈山区 2024) that the demo district reproduces.
SEED_FIGURES = ("16904.55", "2090.55", "54", "11", "20%", "160491.47", "2026")
# The seed report's headings, in order (its "(一)" written with full-width brackets, as GB/T 9704 does).
SEED_HEADINGS = [
    "一、实施全过程预算绩效管理的做法",
    "（一）严把政策项目准入关",
    "（二）严把绩效运行监控关",
    "（三）严把绩效评价质量关",
    "（四）严把评价结果应用关",
    "（五）全力推进成本预算绩效管理试点工作",
    "（六）加强绩效管理培训宣传力度",
    "二、存在问题",
    "三、下一步工作打算",
    "（一）压实部门主体责任",
    "（二）持续强化源头管理",
    "（三）着力提升评价质量",
    "（四）突出绩效评价约束",
]


def _headings(path: Path) -> list[str]:
    doc = open_docx(str(path))
    found = []
    for paragraph in doc.paragraphs:
        ppr = paragraph._p.pPr
        level = ppr.find(qn("w:outlineLvl")) if ppr is not None else None
        if level is not None and level.get(qn("w:val")) in ("1", "2"):
            found.append(paragraph.text)
    return found


def _artifact_markdown(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    return "\n".join(str(a.data) for a in artifacts)


def test_demo_cycle_documents(
    db_url: str, prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Target setting writes under PERFCYCLE_OUTPUT_DIR when the driver does not hand it the output folder.
    monkeypatch.setenv("PERFCYCLE_OUTPUT_DIR", str(tmp_path))
    get_settings.cache_clear()
    files = generate_demo(tmp_path, 2024)
    summary = annual_cycle(
        year=2024, data=str(files.base), submissions=str(files.submissions), out_dir=str(tmp_path), auto_approve=True
    )
    assert summary["status"] == "done", summary["waiting"]

    with session_scope(db_url) as session:
        cycle = session.exec(select(Cycle).where(Cycle.year == 2024)).one()
        documents = session.exec(select(Document).where(Document.cycle_id == cycle.id)).all()
    recorded = {(d.kind, d.subject): d.sha256 for d in documents}
    assert len(recorded) == len(documents)

    # Every kind of the list exists, inside the output folder, with the recorded sha256 of its bytes.
    assert {d.kind for d in documents} == set(all_kinds())
    for d in documents:
        path = Path(d.path)
        assert path.is_file() and path.is_relative_to(tmp_path.resolve()), d.path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == d.sha256, d.path
        assert d.stage
    counts = Counter(d.kind for d in documents)
    assert counts["绩效目标申报表"] == counts["绩效目标审核意见"] == 54
    assert counts["绩效目标申报通知"] == counts["工作开展情况说明"] == counts["绩效评价结果公开清单"] == 1
    assert counts["数据核对表"] == 1
    assert counts["绩效监控汇总表"] == 4 and counts["重点绩效评价报告"] == 12

    # The annual report: the seed's figures, the seed's headings, both charts.
    report = Path(next(d.path for d in documents if d.kind == "工作开展情况说明"))
    assert report.name == "关于烈山区2024年区级预算绩效管理工作开展情况的说明.docx"
    text = docx_text(report)
    for figure in SEED_FIGURES:
        assert figure in text, figure
    assert "对4家单位10个项目开展评估，涉及资金16904.55万元，压减资金2090.55万元" in text
    assert "2024年区本级54家部门实现项目支出和整体支出监控全覆盖" in text
    assert "选取11个部门开展抽查复核工作，抽查比例20%" in text
    assert "9个项目、1项财政政策以及2家部门的整体支出等进行重点绩效评价，涉及资金160491.47万元" in text
    assert "在编制2026年部门预算时" in text
    assert "将分析结果运用到2025年的预算编制" in text  # the cost pilot feeds the budget prepared in 2024
    # The seed's events, recorded in the demo's base workbook (工作记事), and the seed's names.
    assert (
        "2024年上级对烈山区财政局从绩效目标管理、绩效运行监控、绩效评价实施、绩效评价结果应用等进行了综合考核，"
        "在三区一县中，位居第二。"
    ) in text
    assert "分别在11月、12月举办了成本预算绩效管理业务培训及绩效管理工作业务全方位培训" in text
    assert "2024年8月20日《淮北市烈山区财政管理突出绩效导向》发表于安徽经济报和淮北日报" in text
    assert "我区选取了区机关服务中心公车运行项目，涉及资金363.00万元" in text
    # Beside it, the 数据核对表: every figure it lists is stated so in the report.
    check = Path(next(d.path for d in documents if d.kind == "数据核对表"))
    assert check.parent == report.parent
    sheet = load_workbook(check).active
    assert sheet is not None
    stated = [str(row[3]) for row in sheet.iter_rows(min_row=3, values_only=True)]
    assert "54家部门" in stated and "160491.47万元" in stated and "第二" in stated
    assert [figure for figure in stated if figure not in text] == []
    assert _headings(report) == SEED_HEADINGS
    assert len(open_docx(str(report)).inline_shapes) == 2
    q4 = Path(next(d.path for d in documents if d.kind == "绩效监控汇总表" and d.subject == "Q4"))
    assert len(load_workbook(q4)["亮灯分布"]._images) == 1

    # The stages' artifacts list their documents: without PERFCYCLE_DOCUMENTS_URL, each path as text.
    target_links = _artifact_markdown("2024-target-setting-documents")
    assert "绩效目标申报通知.docx" in target_links and "绩效目标申报表" in target_links
    assert "file://" not in target_links and f"`{tmp_path.resolve().as_posix()}/" in target_links
    assert "绩效评价结果公开清单.docx" in _artifact_markdown("2024-reporting-documents")

    printed = _print_representative_documents(documents, tmp_path / "printed")

    # `perfcycle docs` regenerates every document from the database: same layout, byte for byte.
    again = tmp_path / "regenerated"
    paths = docs_command(2024, None, again, db_url)
    assert {p.relative_to(again.resolve()): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths} == {
        Path(d.path).relative_to(tmp_path.resolve()): d.sha256 for d in documents
    }
    if printed is None:
        pytest.skip(needs_office.kwargs["reason"])


def _print_representative_documents(documents: list[Document], folder: Path) -> list[Path] | None:
    """The annual report, a 预警通知书, the 抽查复核结果 通报 and a 重点绩效评价报告 printed to PDF: each a document the
    bureau can sign and send, the 通报 a few pages with its long table's header on every page. None without
    LibreOffice."""
    if SOFFICE is None or PDFTOTEXT is None:
        return None
    chosen = [
        next(d for d in documents if d.kind == kind and (subject is None or d.subject == subject))
        for kind, subject in (
            ("工作开展情况说明", None),
            ("绩效监控预警通知书", None),
            ("抽查复核结果", None),
            ("重点绩效评价报告", None),
        )
    ]
    paths = [Path(d.path) for d in chosen]
    pdfs = print_to_pdf(paths, folder)
    for path, pdf in zip(paths, pdfs, strict=True):
        assert_prints_as_issued(path, pages(pdf), "烈山区财政局")
    for path, pdf in ((paths[0], pdfs[0]), (paths[3], pdfs[3])):  # the annual report, the 重点绩效评价报告
        assert_pages_filled(path, pages(pdf), "烈山区财政局")
    review = pages(pdfs[2])
    assert len(review) <= 10, len(review)  # 21 pages when the whole table was the text
    attachment = next(i for i, page in enumerate(review) if "附件" in text_lines(page))
    for page in review[attachment:-1]:  # every page of the detail table, the 版记's page last
        top = "".join(text_lines(page)[:12])  # the header's cells, each maybe on two lines
        assert all(cell in top for cell in ("序号", "部门", "评价对象", "差异")), text_lines(page)[:12]
    return pdfs
