"""Documents printed to PDF by LibreOffice and read back line by line (poppler's pdftotext), to measure what a person
sees on the pages: how many there are, what each holds, where the lines fall."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from perfcycle.documents.renderer import docx_text

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
PDFTOTEXT = shutil.which("pdftotext")
needs_office = pytest.mark.skipif(
    SOFFICE is None or PDFTOTEXT is None,
    reason="LibreOffice (soffice) or poppler-utils (pdftotext) is not installed, so the documents cannot be printed "
    "to PDF and measured here; .ci/run installs both from Debian's packages",
)

PAGE_HEIGHT = 841.89  # A4, points
TYPE_TOP = 37 / 25.4 * 72  # GB/T 9704: 37 mm top margin
TYPE_BOTTOM = PAGE_HEIGHT - 35 / 25.4 * 72  # 35 mm bottom margin
XHTML = "{http://www.w3.org/1999/xhtml}"
MM = 72 / 25.4


@dataclass(frozen=True)
class Line:
    """A line of text as printed: its words joined, and its box in points from the page's top left."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float


def print_to_pdf(documents: Iterable[Path], folder: Path) -> list[Path]:
    """Each .docx printed to PDF by LibreOffice (its own profile, in `folder`), in the order given."""
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for index, document in enumerate(documents):
        copy = folder / f"{index:02d}.docx"  # names from the records may repeat across folders
        shutil.copyfile(document, copy)
        copies.append(copy)
    assert SOFFICE is not None
    profile = (folder / "profile").resolve().as_uri()
    command = [SOFFICE, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf", "--outdir"]
    subprocess.run([*command, str(folder), *map(str, copies)], check=True, capture_output=True, timeout=240)
    return [copy.with_suffix(".pdf") for copy in copies]


def pages(pdf: Path) -> list[list[Line]]:
    """The lines of each page, top to bottom."""
    assert PDFTOTEXT is not None
    xml = subprocess.run([PDFTOTEXT, "-bbox-layout", str(pdf), "-"], check=True, capture_output=True).stdout
    root = ET.fromstring(xml)
    found = []
    for page in root.iter(f"{XHTML}page"):
        lines = []
        for line in page.iter(f"{XHTML}line"):
            words = "".join(word.text or "" for word in line.iter(f"{XHTML}word"))
            box = [float(line.get(side, 0)) for side in ("xMin", "yMin", "xMax", "yMax")]
            lines.append(Line(words, *box))
        found.append(sorted(lines, key=lambda line: (round(line.y0), line.x0)))
    return found


def is_page_number(line: Line) -> bool:
    """A page number "— N —" under the type area."""
    return line.y0 > TYPE_BOTTOM and line.text.startswith("—") and line.text.endswith("—")


# What the signature block is made of: a page holding nothing else is a page a bureau cannot send.
SIGNATURE = re.compile(r"^(.*财政局|\d{4}年\d{1,2}月\d{1,2}日|（联系人：.*）)$")
# Numbers and codes as the documents print them: each must stand on one line.
NUMBER = re.compile(r"[A-Z]{2}\d{4}-\d{3}-\d{2}|\d+\.\d+%?|\d+%")


def text_lines(page: list[Line]) -> list[str]:
    return [line.text for line in page if not is_page_number(line) and line.text.strip()]


def assert_prints_as_issued(document: Path, printed: list[list[Line]], issuer: str) -> None:
    """The measurable marks of a document a bureau can send, on its printed pages."""
    name = document.name
    assert printed and any("印发" in line.text for line in printed[-1]), name  # the 版记 on the last page
    last_rule = max(line.y1 for line in printed[-1] if "印发" in line.text)
    assert TYPE_BOTTOM - 12 * MM < last_rule <= TYPE_BOTTOM + 1, (name, last_rule)  # at the foot of the type area
    for number, page in enumerate(printed, 1):
        texts = text_lines(page)
        assert texts, (name, number)
        assert not all(SIGNATURE.match(text) for text in texts), (name, number, texts)  # never alone on a page
        for line in page:
            if is_page_number(line):  # the dashes 7 mm under the type area
                assert abs((line.y0 + line.y1) / 2 - TYPE_BOTTOM - 7 * MM) < 1.5 * MM, (name, number, line)
    assert issuer in [text for page in printed for text in text_lines(page)], name  # signed
    # Every number and code of the document stands whole on one printed line.
    printed_lines = [line.text for page in printed for line in page]
    for token in set(NUMBER.findall(docx_text(document))):
        assert any(token in text for text in printed_lines), (name, token)


#: A heading of the body (一、… or （一）…) as printed on a line of its own.
HEADING = re.compile(r"^[一二三四五六七八九十]+、|^（[一二三四五六七八九十]+）")
#: The most lines a page may leave empty at its foot before a heading: a heading (or two) kept with the first lines
#: of its paragraph goes to the next page whole when they do not fit. Before running text, no more than one.
MOST_EMPTY_LINES = 3


def empty_lines(page: list[Line]) -> int:
    """The whole lines of 28 pt left empty between a page's last line of text and the foot of its type area."""
    return int((TYPE_BOTTOM - max(line.y1 for line in page if not is_page_number(line))) // 28)


def _runs_on(page: list[Line]) -> bool:
    """Whether a page begins with running text at the top of its type area: not a heading, not a picture, not the
    line that introduces a table (如下：)."""
    first = next(line for line in page if not is_page_number(line) and line.text.strip())
    return first.y0 < TYPE_TOP + 28 and not HEADING.match(first.text) and not first.text.endswith("：")


def assert_pages_filled(document: Path, printed: list[list[Line]], issuer: str) -> None:
    """Only what must stay together is kept together (a heading with its first lines, a table's caption with its
    first rows, the text's last paragraph with the signature), and a paragraph breaks at the foot of a page (no widow
    control): a page before running text is filled to its last line or so, one before a heading, a table or a picture
    to within `MOST_EMPTY_LINES` of its foot; the page just before the signature's may end early only when the
    signature's page begins with the text's last paragraph (which goes with the signature), or with the heading of
    the last section when that paragraph is all the section holds (the heading goes with it)."""
    signed = max(number for number, page in enumerate(printed) if issuer in text_lines(page))
    assert signed == len(printed) - 2, (document.name, [text_lines(page) for page in printed])  # then the 版记
    empty = [empty_lines(page) for page in printed[:signed]]
    for number in range(signed):
        following = printed[number + 1]
        if number + 1 == signed and sum(1 for line in text_lines(following) if HEADING.match(line)) <= (
            1 if HEADING.match(text_lines(following)[0]) else 0
        ):
            continue  # the last paragraph (and the heading over it alone), kept with the signature
        most = 1 if _runs_on(following) else MOST_EMPTY_LINES
        assert empty[number] <= most, (document.name, number + 1, empty, text_lines(following)[:3])
