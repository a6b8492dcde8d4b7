"""Every document the bureau issues is a whole 公文 (GB/T 9704-2012 §7): the red 发文机关标志, the 发文字号 numbered per
year and 机关代字 without gaps and kept on every rerun, the red line, the 主送机关, the 署名 and 成文日期 kept with the text
and room for the seal, the 附注, and the 版记 (抄送, 印发机关 and 印发日期) on the last even page — read back from the
.docx files of the small test district."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from docx import Document as open_docx
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph
from sqlmodel import Session, select

from models.tables import CollectionWindow, Cycle, DocumentNumber, WarningNotice
from perfcycle.documents.catalog import GROUPS, write_documents
from perfcycle.documents.frame import cn_date
from perfcycle.documents.numbers import Numbering
from perfcycle.findings import NOTICE_KIND, write_findings_notice
from perfcycle.policy import ISSUED_KINDS, policy_from_json
from perfcycle.settings import get_settings
from tests.documents.records import CONTACT, FISCAL_PARTS, Arranged, write_kind

RED = "FF0000"
TODAY = dt.date(2025, 3, 18)


@pytest.fixture
def bureau_date(monkeypatch: pytest.MonkeyPatch) -> dt.date:
    """The bureau's date on which documents without a date of their own are first written."""
    monkeypatch.setenv("PERFCYCLE_TODAY", TODAY.isoformat())
    get_settings.cache_clear()
    yield TODAY
    get_settings.cache_clear()


def _cycle(session: Session, arranged: Arranged) -> Cycle:
    cycle = session.get(Cycle, arranged.cycle_id)
    assert cycle is not None
    return cycle


def _write_all(session: Session, arranged: Arranged, out: Path) -> dict[tuple[str, str], Path]:
    kinds = [k for group in GROUPS.values() for k in group]
    return {(d.kind, d.subject): d.path for d in write_documents(session, _cycle(session, arranged), out, kinds)}


def arranged_year(session: Session, arranged: Arranged) -> int:
    return _cycle(session, arranged).year


def _color(paragraph: Paragraph) -> str | None:
    color = paragraph._p.find(f".//{qn('w:color')}")
    return None if color is None else color.get(qn("w:val"))


def _keeps(paragraph: Paragraph) -> bool:
    return paragraph._p.pPr is not None and paragraph._p.pPr.find(qn("w:keepNext")) is not None


def _rule(paragraph: Paragraph) -> str | None:
    """The colour of the paragraph's bottom border (the 版头's red line), if it has one."""
    line = paragraph._p.find(f"{qn('w:pPr')}/{qn('w:pBdr')}/{qn('w:bottom')}")
    return None if line is None else line.get(qn("w:color"))


_EMU_PER_MM = 36000


def _letter_lines(doc: Any) -> list[tuple[float, float, float, float]]:
    """The red lines of a 函's first-page header: (top, left, length, weight) in mm, from the top-left of the page."""
    lines = []
    header = doc.sections[0].first_page_header._element
    for anchor in header.iter(qn("wp:anchor")):
        offsets = [float(o.text) / _EMU_PER_MM for o in anchor.iter(qn("wp:posOffset"))]
        frames = [
            anchor.find(f"{qn('wp:positionH')}").get("relativeFrom"),
            anchor.find(qn("wp:positionV")).get("relativeFrom"),
        ]
        assert frames == ["page", "page"]
        extent = float(anchor.find(qn("wp:extent")).get("cx")) / _EMU_PER_MM
        outline = next(anchor.iter(qn("a:ln")))
        assert outline.find(f"{qn('a:solidFill')}/{qn('a:srgbClr')}").get("val") == RED
        lines.append((round(offsets[1], 2), round(offsets[0], 2), round(extent, 2), float(outline.get("w")) / 12700))
    return sorted(lines)


def test_a_letter_has_the_letter_layout(
    session: Session, arranged: Arranged, tmp_path: Path, bureau_date: dt.date
) -> None:
    """A 函 (信函格式, GB/T 9704-2012 §10.1): the mark 30 mm from the top of the page, a red double line 上粗下细 4 mm
    under its characters and one 上细下粗 20 mm above the foot of the page, both 170 mm long and centred; the 发文字号
    flush right under the first."""
    policy = policy_from_json(_cycle(session, arranged).policy_json)
    letters = [kind for kind in policy.documents.letters]
    assert "绩效监控提醒函" in letters
    path = next(iter(write_kind(session, arranged.cycle_id, tmp_path, "绩效监控提醒函").values()))
    doc = open_docx(str(path))
    section = doc.sections[0]
    assert round(section.header_distance.mm) == 30
    lines = _letter_lines(doc)
    assert len(lines) == 4
    (top1, left, length, thick), (top2, _, _, thin), (top3, _, _, thin3), (top4, _, _, thick4) = lines
    assert (left, length) == (20.0, 170.0)  # centred on the 210 mm page
    assert thick > thin and thin3 < thick4  # 上粗下细, then 上细下粗
    mark_size = float(section.first_page_header.paragraphs[0].runs[0].font.size.mm)
    assert abs(top1 - (30 + 0.85 * mark_size + 4)) < 0.1 and 0 < top2 - top1 < 2
    assert abs(top4 - (297 - 20)) < 0.1 and 0 < top4 - top3 < 2
    number = doc.paragraphs[0]
    assert number.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.RIGHT and number.text.startswith("测财绩函")


def test_every_issued_document_is_a_whole_gongwen(
    session: Session, arranged: Arranged, tmp_path: Path, bureau_date: dt.date
) -> None:
    written = _write_all(session, arranged, tmp_path)
    written[(NOTICE_KIND, "Q1")] = write_findings_notice(session, arranged_year(session, arranged), "Q1", tmp_path)
    policy = policy_from_json(_cycle(session, arranged).policy_json)
    numbers = {(n.kind, n.subject): n for n in session.exec(select(DocumentNumber)).all()}
    issued = {key: path for key, path in written.items() if path.suffix == ".docx"}
    assert {kind for kind, _subject in issued} == set(ISSUED_KINDS)
    assert set(numbers) == set(issued)  # every document the bureau issues has its number; nothing else has one
    for (kind, subject), path in issued.items():
        number = numbers[(kind, subject)]
        doc = open_docx(str(path))
        paragraphs = doc.paragraphs
        letter = policy.is_letter(kind)
        if letter:  # 信函格式: the mark in the first page's header, the 发文字号 the body's first line
            mark, numbered = doc.sections[0].first_page_header.paragraphs[0], paragraphs[0]
            assert _letter_lines(doc) != [], path.name
        else:
            mark, numbered = paragraphs[0], paragraphs[1]
            assert _rule(numbered) == RED
        assert (mark.text, _color(mark)) == (policy.document_mark(kind), RED), path.name
        assert numbered.text == f"{policy.document_code(kind)}〔{number.year}〕{number.serial}号", path.name
        assert number.year == number.issued_on.year
        title_at = next(i for i, p in enumerate(paragraphs) if p.text and p._p.pPr.find(qn("w:outlineLvl")) is not None)
        addressee = next(p.text for p in paragraphs[title_at + 1 :] if p.text)
        if kind != "绩效评价结果公开清单":  # a list for the public is addressed to no one
            assert addressee.endswith("：") and len(addressee) > 1, path.name
        # 署名 over 成文日期, the 附注 under them; the text before them and the seal's room keep them company.
        texts = [p.text for p in paragraphs]
        at = max(i for i, text in enumerate(texts) if text == policy.issuer)
        assert texts[at + 1] == cn_date(number.issued_on), path.name
        assert texts[at + 2] == f"（联系人：{CONTACT[0]}，电话：{CONTACT[1]}）", path.name
        assert texts[at - 2 : at] == ["", ""]  # room for the seal
        assert all(_keeps(p) for p in paragraphs[at - 2 : at + 2]), path.name
        before = paragraphs[at - 2]._p.getprevious()  # the last of the text: it goes with them to a new page
        assert before.tag == qn("w:p") and before.pPr.find(qn("w:keepNext")) is not None, path.name
        if letter:  # the 抄送 alone at the foot of the last page's type area; no page number on the first page
            assert texts[-1] == f"抄送：{'，'.join(policy.documents.copy_to)}。", path.name
            assert paragraphs[-1]._p.pPr.find(qn("w:framePr")).get(qn("w:yAlign")) == "bottom"
            assert len(doc.sections) == 1 and doc.sections[0].different_first_page_header_footer
            assert "PAGE" not in doc.sections[0].first_page_footer._element.xml
            assert "PAGE" in doc.sections[0].footer._element.xml and "印发" not in "".join(texts)
            continue
        # The 版记: the footer of the last section, which begins on an even page and shows no page number.
        last = doc.sections[-1]
        assert last._sectPr.find(qn("w:type")).get(qn("w:val")) == "evenPage"
        colophon = [Paragraph(p, last.footer).text for p in last.footer._element.iter(qn("w:p"))]
        assert f"抄送：{'，'.join(policy.documents.copy_to)}。" in colophon, path.name
        assert f"{policy.printer()}\t{cn_date(number.issued_on)}印发" in colophon, path.name
        assert "PAGE" not in last.footer._element.xml and "PAGE" in doc.sections[0].footer._element.xml


def test_numbers_run_per_code_and_year_without_gaps_and_stay(
    session: Session, arranged: Arranged, tmp_path: Path, bureau_date: dt.date
) -> None:
    first = _write_all(session, arranged, tmp_path / "a")
    rows = session.exec(select(DocumentNumber)).all()
    serials: dict[tuple[str, int], list[int]] = defaultdict(list)
    for row in rows:
        serials[(row.code, row.year)].append(row.serial)
    assert all(sorted(found) == list(range(1, len(found) + 1)) for found in serials.values()), serials
    reviews = sorted((r.subject, r.serial) for r in rows if r.kind == "绩效目标审核意见")
    assert [serial for _subject, serial in reviews] == list(range(1, len(reviews) + 1))  # in the order written

    # Written again (a rerun, `perfcycle docs`): the same numbers and dates, so the same bytes, and no new number.
    second = _write_all(session, arranged, tmp_path / "b")
    for key, path in first.items():
        assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(second[key].read_bytes()).digest(), key
    assert len(session.exec(select(DocumentNumber)).all()) == len(rows)

    # A document first written later takes the next number of its 代字 and year.
    cycle = _cycle(session, arranged)
    numbering = Numbering(session, cycle, policy_from_json(cycle.policy_json))
    late = numbering.number("绩效监控预警通知书", "Q3:D09", dt.date(2024, 10, 10))
    q1 = [r for r in rows if r.kind == "绩效监控预警通知书" and r.year == 2024]
    assert (late.code, late.year, late.serial) == ("测财绩预", 2024, len(q1) + 1)


def test_a_documents_date_is_its_records_else_the_day_it_is_first_written(
    session: Session, arranged: Arranged, tmp_path: Path, bureau_date: dt.date, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = CollectionWindow(
        cycle_id=arranged.cycle_id,
        stage="target_setting",
        form="targets",
        opens_on=dt.date(2024, 1, 8),
        due_on=dt.date(2024, 1, 31),
    )
    session.add(window)
    session.flush()
    write_kind(session, arranged.cycle_id, tmp_path, "绩效目标申报通知")
    codes = {d.id: d.code for d in arranged.departments}
    warnings = session.exec(select(WarningNotice).where(WarningNotice.level == "red")).all()
    write_kind(session, arranged.cycle_id, tmp_path, "绩效监控预警通知书")
    summary = write_kind(session, arranged.cycle_id, tmp_path, "绩效自评汇总")["*"]
    dates = {(n.kind, n.subject): n.issued_on for n in session.exec(select(DocumentNumber)).all()}
    assert dates[("绩效目标申报通知", "*")] == dt.date(2024, 1, 8)  # the day the targets window opened
    for warning in warnings:  # the day each notice was issued
        assert dates[("绩效监控预警通知书", f"{warning.quarter}:{codes[warning.department_id]}")] == warning.issued_on
    assert dates[("绩效自评汇总", "*")] == TODAY  # no date of its own: the day it was first written
    text = "\n".join(p.text for p in open_docx(str(summary)).paragraphs)
    assert "2025年3月18日" in text and "测财绩自〔2025〕1号" in text

    # Written again on a later day, it keeps its number and date.
    monkeypatch.setenv("PERFCYCLE_TODAY", "2025-06-01")
    get_settings.cache_clear()
    again = write_kind(session, arranged.cycle_id, tmp_path / "later", "绩效自评汇总")["*"]
    assert again.read_bytes() == summary.read_bytes()


def test_a_year_written_after_the_fact_is_dated_by_its_calendar_whatever_the_day(
    session: Session, arranged: Arranged, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written for the first time on two days long after the year (a fresh register each time), every document has
    the same bytes, and each is dated in the year's calendar, never the day it was written."""
    policy = policy_from_json(_cycle(session, arranged).policy_json)
    written: dict[str, dict[tuple[str, str], bytes]] = {}
    dated: dict[str, dict[tuple[str, str], dt.date]] = {}
    for day in ("2026-12-06", "2027-05-02"):
        monkeypatch.setenv("PERFCYCLE_TODAY", day)
        get_settings.cache_clear()
        for row in session.exec(select(DocumentNumber)).all():
            session.delete(row)
        session.flush()
        paths = _write_all(session, arranged, tmp_path / day)
        written[day] = {key: path.read_bytes() for key, path in paths.items()}
        dated[day] = {(n.kind, n.subject): n.issued_on for n in session.exec(select(DocumentNumber)).all()}
    get_settings.cache_clear()
    assert written["2026-12-06"] == written["2027-05-02"]
    assert dated["2026-12-06"] == dated["2027-05-02"]
    year = arranged_year(session, arranged)
    for (kind, _subject), day in dated["2026-12-06"].items():
        latest = policy.document_day(kind)
        if latest is not None:
            assert day == latest, kind  # nothing recorded earlier: the calendar's day
        assert dt.date(year, 1, 1) <= day <= dt.date(year + 1, 12, 31), kind
    assert dated["2026-12-06"][("工作开展情况说明", "*")] == dt.date(year + 1, 7, 31)


# ---------------------------------------------------------------------------------------------- each kind's content


def _paragraphs(path: Path) -> list[str]:
    """The text of a document's paragraphs outside its tables (its sentences)."""
    return [p.text for p in open_docx(str(path)).paragraphs]


def _table_rows(path: Path) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for table in open_docx(str(path)).tables for row in table.rows]


def test_each_kind_carries_what_a_document_of_its_kind_says(
    session: Session, arranged: Arranged, tmp_path: Path, bureau_date: dt.date
) -> None:
    written = _write_all(session, arranged, tmp_path)
    policy = policy_from_json(_cycle(session, arranged).policy_json)

    # 审核意见: the projects sent back, and by when they come back.
    review_d05 = "\n".join(_paragraphs(written[("绩效目标审核意见", "D05")]))
    assert "经审核，1个项目绩效目标审核通过，1个项目退回修改。" in review_d05
    assert f"自收到本意见之日起{policy.calendar.resubmission_days}日内" in review_d05

    # 抽查复核结果: a 通报 to every department, the objects to correct, by when, and every score in its attachment.
    review = written[("抽查复核结果", "*")]
    text = "\n".join(_paragraphs(review))
    assert "抽查复核结果的通报" in text and f"{policy.documents.departments}：" in text
    assert f"自本通报印发之日起{policy.sampling.correction_days}日内" in text
    assert "附件：测试区2024年度部门绩效自评抽查复核明细表" in text
    rows = _table_rows(review)
    assert ["1", "测试部门05", "测试项目06", "82.00（良）", "65.00（中）", "-17.00", "复核得分低于自评17分"] in rows
    assert any(row[2] == "测试项目06（需整改）" for row in rows)  # the attachment marks it among all of them

    # 重点绩效评价报告: the 指标体系 with the score of each dimension.
    report = written[("重点绩效评价报告", "project:P01")]
    rows = _table_rows(report)
    for name, rule in policy.fiscal_evaluation.dimensions.items():
        assert [name, f"{rule.points}", "、".join(rule.indicators), FISCAL_PARTS[name]] in rows
    assert ["合计", "100", "", "91.50"] in rows
    assert "其中决策18.00分、过程18.50分、产出27.50分、效益27.50分" in "\n".join(_paragraphs(report))
    unscored = _table_rows(written[("重点绩效评价报告", "project:P03")])
    assert ["决策", "20", "项目立项、绩效目标、资金投入", "—"] in unscored

    # 事前绩效评估报告: each project's score on the five dimensions.
    rows = _table_rows(written[("事前绩效评估报告", "*")])
    assert rows[0][2:7] == list(policy.ex_ante.dimensions)
    assert ["1", "测试项目01", "17.00", "18.00", "17.00", "16.00", "17.00", "85.00", "予以支持"] in rows

    # 公开清单: what has been published, nothing told to the departments.
    public = "\n".join(_paragraphs(written[("绩效评价结果公开清单", "*")]))
    assert "请" not in public and "尽快" not in public

    # Sentences say no "0个", and amounts as a person writes them (363万元, not 363.00万元).
    for (kind, _subject), path in written.items():
        if path.suffix != ".docx" or kind == "工作开展情况说明":
            continue
        for sentence in _paragraphs(path):
            assert not re.search(r"(?<![\d.])0(个|家|项|份)", sentence), (kind, sentence)
            assert not re.search(r"\d\.\d0万元", sentence), (kind, sentence)
