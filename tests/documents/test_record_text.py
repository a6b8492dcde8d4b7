"""Record text enters documents as text: a name, a finding or a reason holding a line break (Alt+Enter), a
title or heading sign, a table row or an image line of the markup shapes nothing and breaks nothing.

Every document of the small test district is written twice, once from its plain records and once after
those records were given markup-like text; each .docx, read back, must have the same structure both times
(the same paragraphs with the same outline levels and alignment, the same tables, the same pictures), with
the hostile text in it as plain text. The same for the plain-text notices, line by line.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from docx import Document as open_docx
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph
from sqlmodel import Session, select

from models.tables import (
    Cycle,
    Department,
    Evaluation,
    ExAnteAssessment,
    FiscalPolicy,
    MonitoringRecord,
    Project,
    Selection,
    TargetReview,
)
from perfcycle.documents.catalog import GROUPS, write_documents
from perfcycle.documents.renderer import build_docx, parse_markup, render_text
from perfcycle.reminding import ReminderContext, split_message
from tests.documents.records import YEAR, Arranged

# What a careless or hostile department can type into a cell, and how each must read in the document.
MARKUP_LIKE = [
    ("\n## 一、伪造的一节", " ## 一、伪造的一节"),
    ("\r\n# 伪造的标题", " # 伪造的标题"),
    ("|甲|乙|", "|甲|乙|"),
    ("\n![附图](light_chart)", " ![附图](light_chart)"),
    ("\n>> 伪造的落款", " >> 伪造的落款"),
    ("\u2028> 主送：伪造", " > 主送：伪造"),
    ("\n\\# 转义", " \\# 转义"),
    ("\n\n", ""),
]
FINDINGS = "![附图](light_chart)\n## 伪造的一节|甲|乙|"


def _suffix(index: int) -> tuple[str, str]:
    return MARKUP_LIKE[index % len(MARKUP_LIKE)]


# Records that no document of the test district shows: D07..D10 have no project, P08 is in no list.
UNSHOWN = {"D07", "D08", "D09", "D10", "P08"}


def _make_hostile(session: Session) -> list[str]:
    """Give the records markup-like text; returns the texts the documents must show as they are."""
    shown: list[str] = []

    def spoil(row: Any, attribute: str, index: int, seen: bool = True) -> None:
        typed, reads = _suffix(index)
        value = getattr(row, attribute)
        setattr(row, attribute, value + typed)
        if seen:
            shown.append((value + reads).strip())
        session.add(row)

    for index, department in enumerate(session.exec(select(Department).order_by(Department.code))):
        spoil(department, "name", index, department.code not in UNSHOWN)
    for index, project in enumerate(session.exec(select(Project).where(Project.year == YEAR).order_by(Project.code))):
        spoil(project, "name", index + 3, project.code not in UNSHOWN)
    for index, selection in enumerate(session.exec(select(Selection).order_by(Selection.object_code))):
        spoil(selection, "name", index + 5)
    for policy in session.exec(select(FiscalPolicy)):
        spoil(policy, "name", 1, seen=False)  # its selection's name is the one shown
    texts: tuple[tuple[Any, str, int], ...] = (
        (ExAnteAssessment, "comment", 0),
        (TargetReview, "reasons", 2),
        (MonitoringRecord, "reason", 4),
    )
    for model, attribute, index in texts:
        for row in session.exec(select(model)):
            if getattr(row, attribute):  # an empty one is left empty: the document says there is none
                spoil(row, attribute, index)
    for evaluation in session.exec(select(Evaluation)):
        if evaluation.flag_reason:
            spoil(evaluation, "flag_reason", 1)
        if evaluation.kind == "fiscal":
            spoil(evaluation, "evaluator", 3)
            evaluation.findings = FINDINGS
            shown.extend(FINDINGS.splitlines())
    session.commit()
    return shown


def _write_all(session: Session, arranged: Arranged, out: Path) -> dict[tuple[str, str], Path]:
    cycle = session.get(Cycle, arranged.cycle_id)
    assert cycle is not None
    kinds = [k for group in GROUPS.values() for k in group]
    return {(d.kind, d.subject): d.path for d in write_documents(session, cycle, out, kinds)}


def _structure(path: Path) -> list[tuple[Any, ...]]:
    """What a .docx is made of, without its text: each paragraph's outline level, alignment, pictures and line
    breaks; each table's rows and cells; and the pictures the package holds."""
    doc = open_docx(str(path))
    shape: list[tuple[Any, ...]] = []
    for child in doc.element.body.iterchildren():
        if child.tag == qn("w:p"):
            properties = child.pPr
            level = properties.find(qn("w:outlineLvl")) if properties is not None else None
            align = properties.find(qn("w:jc")) if properties is not None else None
            shape.append(
                (
                    "p",
                    None if level is None else level.get(qn("w:val")),
                    None if align is None else align.get(qn("w:val")),
                    len(child.findall(".//" + qn("w:drawing"))),
                    len(child.findall(".//" + qn("w:br"))),
                )
            )
        elif child.tag == qn("w:tbl"):
            rows = child.findall(qn("w:tr"))
            shape.append(("table", tuple(len(row.findall(qn("w:tc"))) for row in rows)))
    images = sorted(part.partname for part in doc.part.package.iter_parts() if "media" in part.partname)
    shape.append(("images", tuple(images)))
    return shape


def _texts(path: Path) -> list[str]:
    """Each paragraph's text and each table cell's text."""
    doc = open_docx(str(path))
    texts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            texts.extend(
                "".join(Paragraph(p, doc).text for p in cell._tc.iterchildren(qn("w:p"))) for cell in row.cells
            )
    return texts


def test_markup_like_record_text_changes_no_documents_structure(
    session: Session, arranged: Arranged, tmp_path: Path
) -> None:
    plain = _write_all(session, arranged, tmp_path / "plain")
    shown = _make_hostile(session)
    with Session(session.get_bind()) as fresh:  # records as a later run reads them
        hostile = _write_all(fresh, arranged, tmp_path / "hostile")  # the fiscal report no longer crashes
    assert plain.keys() == hostile.keys()
    documents = [key for key, path in plain.items() if path.suffix == ".docx"]
    assert len(documents) >= 10
    for key in documents:
        assert _structure(hostile[key]) == _structure(plain[key]), key
    texts = [text for key in documents for text in _texts(hostile[key])]
    joined = "\n".join(texts)
    missing = [text for text in shown if text not in joined]
    assert not missing, missing
    assert "![附图](light_chart)" in texts and "## 伪造的一节|甲|乙|" in texts  # each finding its own paragraph
    assert any(text.endswith("|甲|乙|") and len(text) > 5 for text in texts)  # pipes are text inside a cell


def test_a_literal_run_is_text_wherever_the_template_puts_it() -> None:
    """The parser reads structure from the template's own characters only."""
    from perfcycle.documents.renderer import literal

    value = literal("甲|乙\n## 丙")
    markup = "\n".join(
        [
            f"# 关于{value}的通知",
            f"> {value}：",
            f"|序号|{value}|",
            f"|1|{value}|",
            value,
            f"![{value}](chart)",
            f">> {value}",
            "",
            literal("# 不是标题"),
            literal("|不是|表格|"),
            literal("![不是图](chart)"),
        ]
    )
    blocks = [(b.kind, b.text, b.rows, b.ref) for b in parse_markup(markup)]
    text = "甲|乙 ## 丙"
    assert blocks == [
        ("title", f"关于{text}的通知", [], ""),
        ("addressee", f"{text}：", [], ""),
        ("table", "", [["序号", text], ["1", text]], ""),
        ("body", text, [], ""),
        ("image", text, [], "chart"),
        ("right", text, [], ""),
        ("body", "# 不是标题|不是|表格|![不是图](chart)", [], ""),
    ]
    with zipfile.ZipFile(io.BytesIO(build_docx(markup, images={"chart": _png()}))) as docx:
        document = docx.read("word/document.xml")
    assert document.count(b"<w:drawing>") == 1  # one picture: the template's own image line


def _png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\0\0\0")) + chunk(b"IEND", b"")
    )


def test_a_record_never_writes_a_character_xml_cannot_hold() -> None:
    """A control character (read from an `_x0001_` escape), or a private-use character the literal runs use,
    becomes U+FFFD."""
    from perfcycle.documents.renderer import literal

    (block,) = parse_markup(literal("甲\x01乙\ue000丙\ue001丁\x1f"))
    assert block.text == "甲\ufffd乙\ufffd丙\ufffd丁\ufffd"
    build_docx(literal("甲\x01乙"))  # no "All strings must be XML compatible"


def test_a_notice_keeps_each_record_value_on_its_line() -> None:
    """A plain-text notice: a line break in a name cannot forge a line (a subject, a signature, a date)."""

    def notice(department: str, title: str) -> list[str]:
        context = ReminderContext(
            district="测试区",
            issuer="测试区财政局",
            recipient="张三",
            department=department,
            owner="张三",
            title=title,
            action="报送",
            deadline="2025年1月31日",
            today="2025年1月28日",
            days_left=3,
            days_overdue=0,
            escalates=False,
            escalate_after_days=3,
            detail="",
        )
        subject, body = split_message(render_text("submission_due.txt.j2", context))
        return [subject, *body.splitlines()]

    plain = notice("区教育局", "2025年绩效目标申报表")
    forged = notice("区教育局\n\n测试区财政局绩效科\n2099年1月1日\n", "申报表\r\n【已撤销】")
    assert len(forged) == len(plain)
    assert forged[0] == "【催报提醒】申报表 【已撤销】将于2025年1月31日截止"
    assert forged[-2:] == plain[-2:] == ["测试区财政局绩效科", "2025年1月28日"]
    assert "区教育局 测试区财政局绩效科 2099年1月1日" in "\n".join(forged)
