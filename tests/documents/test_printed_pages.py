"""What a person sees on the printed pages: representative documents of the small test district printed to PDF by
LibreOffice (skipped where it is not installed) and measured — no page holding only the signature or the date, no
number or code broken across lines, 28 characters to a full line of the body, the page number 7 mm under the type
area, the 版记 on the foot of the last page, a long table's header on every page it runs over."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlmodel import Session

from models.tables import Cycle
from perfcycle.documents.catalog import GROUPS, write_documents
from perfcycle.documents.frame import Frame
from perfcycle.documents.renderer import build_docx
from perfcycle.policy import policy_from_json
from tests.documents.pdf import (
    MM,
    SIGNATURE,
    TYPE_BOTTOM,
    assert_prints_as_issued,
    is_page_number,
    needs_office,
    pages,
    print_to_pdf,
    text_lines,
)
from tests.documents.records import Arranged

pytestmark = needs_office
PDFTOPPM = shutil.which("pdftoppm")

REPRESENTATIVE = [
    ("工作开展情况说明", "*"),
    ("绩效监控预警通知书", "Q1:D02"),
    ("抽查复核结果", "*"),
    ("重点绩效评价报告", "project:P01"),
    ("事前绩效评估报告", "*"),
]


def test_representative_documents_print_as_a_bureau_would_send_them(
    session: Session, arranged: Arranged, tmp_path: Path
) -> None:
    cycle = session.get(Cycle, arranged.cycle_id)
    assert cycle is not None
    kinds = [k for group in GROUPS.values() for k in group]
    written = {(d.kind, d.subject): d.path for d in write_documents(session, cycle, tmp_path / "out", kinds)}
    documents = [written[key] for key in REPRESENTATIVE]
    issuer = policy_from_json(cycle.policy_json).issuer
    for document, pdf in zip(documents, print_to_pdf(documents, tmp_path / "pdf"), strict=True):
        assert_prints_as_issued(document, pages(pdf), issuer)

    # The annual report's body: 28 characters to a full line (the page's grid), its title broken by meaning.
    report = pages(tmp_path / "pdf" / "00.pdf")
    first = text_lines(report[0])
    assert first[2:4] == ["关于测试区2024年区级预算绩效管理", "工作开展情况的说明"], first[:5]
    left = min(line.x0 for page in report for line in page)
    full = [
        len(line.text.rstrip("，。、；：”）"))  # a closing mark may hang in the margin, as Chinese type is set
        for page in report
        for line in page
        if re.fullmatch(r"[\u4e00-\u9fff，。、；：“”（）]+", line.text) and line.x0 < left + 2 and line.x1 - left > 430
    ]
    assert full and max(set(full), key=full.count) == 28 and max(full) == 28, full


def test_a_long_tables_header_row_is_on_every_page_it_runs_over(tmp_path: Path) -> None:
    header = ["序号", "项目编码", "项目名称", "年度预算（万元）", "偏差原因"]
    rows = [
        [str(i), f"LS2024-{i:03d}-01", f"测试项目{i:03d}", f"{1000 + i}.55", "上级资金下达较晚"] for i in range(1, 121)
    ]
    table = ["|" + "|".join(row) + "|" for row in [header, *rows]]
    markup = "\n".join(["# 关于测试区2024年度", "# 测试项目情况的通报", "", "各项目情况如下：", *table])
    frame = Frame(
        mark="测试区财政局文件", number="测财绩〔2024〕1号", signature="测试区财政局", dated=dt.date(2024, 4, 10)
    )
    document = tmp_path / "long.docx"
    document.write_bytes(build_docx(markup, frame=frame))
    printed = pages(print_to_pdf([document], tmp_path / "pdf")[0])
    with_rows = [page for page in printed if any(line.text.startswith("LS2024-") for line in page)]
    assert len(with_rows) >= 3  # the table runs over several pages
    for page in with_rows:
        texts = text_lines(page)
        first_row = min(line.y0 for line in page if line.text.startswith("LS2024-"))
        assert {"序号", "项目编码", "项目名称"} <= {line.text for line in page if line.y1 <= first_row + 1}, texts[:6]
    assert_prints_as_issued(document, printed, "测试区财政局")


@pytest.mark.parametrize("kind", ["绩效监控预警通知书"])
def test_a_notices_first_page_carries_the_red_head_and_number(
    session: Session, arranged: Arranged, tmp_path: Path, kind: str
) -> None:
    cycle = session.get(Cycle, arranged.cycle_id)
    assert cycle is not None
    kinds = [k for group in GROUPS.values() for k in group if k.kind == kind]
    (notice, *_rest) = [d.path for d in write_documents(session, cycle, tmp_path / "out", kinds)]
    first = pages(print_to_pdf([notice], tmp_path / "pdf")[0])[0]
    mark, number = first[0], first[1]
    assert mark.text == "测试区财政局文件" and re.fullmatch(r"测财绩预〔2024〕\d+号", number.text)
    assert abs(mark.y0 - (37 + 35) * MM) < 8 * MM  # 35 mm under the top of the type area


def _red_rows(pdf: Path, folder: Path) -> list[float]:
    """The heights (mm from the top of the first page) of the rows of the first page that are mostly red: the lines."""
    from PIL import Image

    assert PDFTOPPM is not None
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([PDFTOPPM, "-png", "-r", "100", "-f", "1", "-l", "1", str(pdf), str(folder / "page")], check=True)
    image = Image.open(next(folder.glob("page*.png"))).convert("RGB")
    pixels = image.load()
    width, height = image.size
    rows = []
    for y in range(height):
        red = sum(1 for x in range(0, width, 2) if pixels[x, y][0] > 180 and pixels[x, y][1] < 100)
        if red * 2 > width * 0.7:  # a line across most of the page, not the mark's characters
            rows.append(y * 25.4 / 100)
    return rows


def test_a_letter_prints_in_the_letter_format(session: Session, arranged: Arranged, tmp_path: Path) -> None:
    """A 提醒函 as printed: the mark 30 mm from the top of the page, a red double line under it and one 20 mm above the
    foot, the 发文字号 flush right between the mark's line and the title, no page number on the first page, the 抄送
    at the foot of the last page's type area, the signature never alone."""
    cycle = session.get(Cycle, arranged.cycle_id)
    assert cycle is not None
    kinds = [k for group in GROUPS.values() for k in group if k.kind == "绩效监控提醒函"]
    (letter, *_rest) = [d.path for d in write_documents(session, cycle, tmp_path / "out", kinds)]
    pdf = print_to_pdf([letter], tmp_path / "pdf")[0]
    printed = pages(pdf)
    first = printed[0]
    mark, number = first[0], first[1]
    assert mark.text == "测试区财政局" and abs(mark.y0 - 30 * MM) < 3 * MM, mark
    assert re.fullmatch(r"测财绩函〔\d{4}〕\d+号", number.text) and abs(number.x1 - (210 - 26) * MM) < 3 * MM
    assert not any(is_page_number(line) for line in first)
    copy_line = printed[-1][-1] if not is_page_number(printed[-1][-1]) else printed[-1][-2]
    assert copy_line.text.startswith("抄送：") and TYPE_BOTTOM - 12 * MM < copy_line.y1 <= TYPE_BOTTOM + 1
    for page in printed:
        texts = text_lines(page)
        assert texts and not all(SIGNATURE.match(text) for text in texts), texts
    if PDFTOPPM is not None:
        rows = _red_rows(pdf, tmp_path / "png")
        upper = [y for y in rows if y < 100]
        lower = [y for y in rows if y > 200]
        assert upper and mark.y0 / MM + 10 < min(upper) < number.y0 / MM, (rows, mark, number)  # under the mark
        assert lower and abs(max(lower) - (297 - 20)) < 2, rows
