"""Charts: drawn with a pip-installed CJK font loaded by path, deterministic PNG bytes, placed by the
renderer's image line."""

from __future__ import annotations

import hashlib
import struct
import warnings
import zlib
from pathlib import Path

import pytest
from docx import Document as open_docx
from docx.enum.text import WD_ALIGN_PARAGRAPH

from perfcycle.documents import charts
from perfcycle.documents.charts import Chart, chart_png, cjk_font_path, grade_chart, light_chart
from perfcycle.documents.contexts import LIGHT_LABELS
from perfcycle.documents.renderer import CHART_WIDTH_MM, build_docx, parse_markup

LIGHTS = light_chart(
    [("第一季度", 46, 8, 0), ("第二季度", 41, 10, 3), ("第三季度", 50, 2, 2), ("第四季度", 50, 3, 1)],
    title="2024年各季度部门绩效监控亮灯情况",
    caption="各季度部门整体绩效监控亮灯分布（单位：家）",
    labels=LIGHT_LABELS,
)
GRADES = grade_chart(
    ["优", "良", "中", "差"],
    [("项目自评等级", [400, 200, 50, 10]), ("最终评价等级", [380, 210, 55, 15])],
    title="2024年项目绩效评价等级分布",
    caption="项目绩效评价等级分布（单位：个）",
)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of each chunk of a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunks.append((kind, data[offset + 8 : offset + 8 + length]))
        offset += 12 + length
    return chunks


def test_font_comes_from_the_installed_package_by_path() -> None:
    path = cjk_font_path()
    assert path.is_file() and path.suffix in (".otf", ".ttf")
    assert "site-packages" in path.parts or "dist-packages" in path.parts
    from matplotlib import font_manager

    family = charts._font_family()
    assert family == "Noto Sans SC"
    found = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    assert Path(found).resolve() == path.resolve()


@pytest.mark.parametrize("chart", [LIGHTS, GRADES], ids=["lights", "grades"])
def test_chart_png_is_deterministic_without_metadata(chart: Chart) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a glyph missing from the font would warn
        first = charts._draw(chart)
    assert charts._draw(chart) == first == chart_png(chart)
    kinds = [kind for kind, _ in png_chunks(first)]
    assert b"tIME" not in kinds and b"tEXt" not in kinds and b"iTXt" not in kinds
    header = dict(png_chunks(first))[b"IHDR"]
    width, height = struct.unpack(">II", header[:8])
    assert (width, height) == (round(charts.FIGURE_SIZE[0] * charts.DPI), round(charts.FIGURE_SIZE[1] * charts.DPI))
    # Not blank: the image holds the drawn bars (many distinct bytes after decompression).
    pixels = zlib.decompress(b"".join(payload for kind, payload in png_chunks(first) if kind == b"IDAT"))
    assert len(set(pixels)) > 16


def test_chart_data_is_typed_and_different_data_gives_a_different_image() -> None:
    assert [s.label for s in LIGHTS.series] == ["绿灯", "黄灯", "红灯"]
    assert LIGHTS.series[2].values == [0, 3, 2, 1]
    other = LIGHTS.model_copy(update={"title": "另一个标题"})
    assert chart_png(other) != chart_png(LIGHTS)
    empty = light_chart([], title="无", caption="无", labels=LIGHT_LABELS)
    assert empty.empty and not LIGHTS.empty


def test_image_line_places_the_picture_with_its_caption(tmp_path: Path) -> None:
    markup = "# 标题\n\n正文。\n\n![图题：亮灯分布](lights)\n\n后文。\n"
    blocks = parse_markup(markup)
    assert [(b.kind, b.text, b.ref) for b in blocks] == [
        ("title", "标题", ""),
        ("body", "正文。", ""),
        ("image", "图题：亮灯分布", "lights"),
        ("body", "后文。", ""),
    ]
    png = chart_png(LIGHTS)
    data = build_docx(markup, images={"lights": png})
    assert build_docx(markup, images={"lights": png}) == data
    path = tmp_path / "img.docx"
    path.write_bytes(data)
    doc = open_docx(str(path))
    assert len(doc.inline_shapes) == 1
    assert abs(doc.inline_shapes[0].width.mm - CHART_WIDTH_MM) < 0.1  # type: ignore[union-attr]
    images = [p for p in doc.part.package.iter_parts() if p.content_type == "image/png"]
    assert [p.blob for p in images] == [png]
    texts = [p.text for p in doc.paragraphs]
    caption = doc.paragraphs[texts.index("图题：亮灯分布")]
    picture = doc.paragraphs[texts.index("图题：亮灯分布") - 1]
    assert caption.alignment == WD_ALIGN_PARAGRAPH.CENTER and picture.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert 'descr="图题：亮灯分布"' in picture._p.xml
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_unknown_picture_is_an_error_not_a_blank() -> None:
    with pytest.raises(ValueError, match="图片「missing」没有提供"):
        build_docx("# 标题\n\n![图](missing)\n", images={"lights": b""})


def test_image_markup_needs_a_plain_name() -> None:
    """A line that merely looks like an image (spaces in the name, text around it) stays body text."""
    assert parse_markup("![图](a b)")[0].kind == "body"
    assert parse_markup("见 ![图](a)")[0].kind == "body"
