"""Charts of the documents: bar charts drawn with matplotlib (Agg) into deterministic PNG bytes.

A chart is described by a typed model (`Chart`) that the context builders fill from the records; the
renderer and the spreadsheet writers turn it into an image with `chart_png`. Chinese labels are drawn
with Noto Sans SC, loaded by file path from the pip-installed `pylopdf-fonts-zh-cn` package, so a fresh
machine needs no system font. The same chart always gives the same bytes: no dates, no software tag, a
fixed size and resolution.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

LIGHT_COLORS = {"green": "#6AA84F", "yellow": "#F1C232", "red": "#CC0000"}
SERIES_COLORS = ("#4472C4", "#ED7D31", "#A5A5A5", "#5B9BD5")
FIGURE_SIZE = (6.4, 3.6)  # inches; 16:9, fits the 156 mm type area of an A4 page
DPI = 150
MIN_SEGMENT_SHARE = 0.08  # a stacked segment smaller than this share of the axis gets its number above the bar
CHART_WIDTH_MM = 150  # width of the image in a .docx


class ChartError(RuntimeError):
    """A chart cannot be drawn (the CJK font package is missing)."""


class ChartSeries(BaseModel):
    """One series of bars: its legend label, colour and one value per category."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    color: str
    values: list[int]


class Chart(BaseModel):
    """A bar chart: `stacked` bars (lights per quarter) or `grouped` bars (grades per kind of score)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["stacked", "grouped"]
    title: str
    caption: str
    categories: list[str]
    series: list[ChartSeries]
    y_label: str = ""

    @property
    def empty(self) -> bool:
        return not self.categories or not any(any(s.values) for s in self.series)


# ---------------------------------------------------------------------------------------------- font


def cjk_font_path() -> Path:
    """The .otf of Noto Sans SC shipped by the `pylopdf-fonts-zh-cn` package (a project dependency)."""
    try:
        from pylopdf_fonts_zh_cn import sans_path
    except ImportError as exc:  # pragma: no cover - the dependency is declared in pyproject.toml
        raise ChartError("缺少中文字体包 pylopdf-fonts-zh-cn，请先执行 pip install -e .") from exc
    path = Path(sans_path())
    if not path.is_file():  # pragma: no cover - a broken installation
        raise ChartError(f"中文字体文件不存在: {path}")
    return path


@lru_cache(maxsize=1)
def _font_family() -> str:
    """Register the font file with matplotlib once and return its family name."""
    from matplotlib import font_manager

    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    return str(font_manager.FontProperties(fname=str(path)).get_name())


# ---------------------------------------------------------------------------------------------- drawing


def _rc(family: str) -> Any:
    return {
        "font.family": [family],
        "font.size": 10,
        "axes.unicode_minus": False,
        "svg.hashsalt": "perfcycle",
        "path.simplify": True,
        "figure.dpi": DPI,
        "savefig.dpi": DPI,
    }


def _draw(chart: Chart) -> bytes:
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    family = _font_family()
    with matplotlib.rc_context(_rc(family)):
        figure = Figure(figsize=FIGURE_SIZE, dpi=DPI)
        FigureCanvasAgg(figure)
        ax = figure.add_subplot(1, 1, 1)
        positions = list(range(len(chart.categories)))
        count = max(len(chart.series), 1)
        if chart.kind == "stacked":
            totals = [sum(s.values[i] for s in chart.series) for i in positions]
            top = max(totals, default=0)
            bottoms = [0] * len(positions)
            above: list[list[str]] = [[] for _ in positions]  # segments too thin to hold their number
            for series in chart.series:
                bars = ax.bar(positions, series.values, 0.55, bottom=bottoms, color=series.color, label=series.label)
                fits = [v > 0 and v >= top * MIN_SEGMENT_SHARE for v in series.values]
                ax.bar_label(
                    bars,
                    labels=[str(v) if f else "" for v, f in zip(series.values, fits, strict=True)],
                    label_type="center",
                )
                for i, (v, f) in enumerate(zip(series.values, fits, strict=True)):
                    if v > 0 and not f:
                        above[i].append(f"{series.label}{v}")
                bottoms = [b + v for b, v in zip(bottoms, series.values, strict=True)]
            for i, parts in enumerate(above):
                if parts:
                    ax.annotate(
                        " ".join(parts),
                        (i, totals[i]),
                        xytext=(0, 3),
                        textcoords="offset points",
                        ha="center",
                        va="bottom",
                        fontsize=8,
                    )
        else:
            width = 0.8 / count
            for index, series in enumerate(chart.series):
                offsets = [p - 0.4 + width * (index + 0.5) for p in positions]
                bars = ax.bar(offsets, series.values, width * 0.9, color=series.color, label=series.label)
                ax.bar_label(bars, labels=[str(v) for v in series.values], padding=2)
            top = max((v for s in chart.series for v in s.values), default=0)
        ax.set_xticks(positions, chart.categories)
        ax.set_ylim(0, max(top, 1) * 1.15)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        if chart.y_label:
            ax.set_ylabel(chart.y_label)
        ax.set_title(chart.title)
        ax.spines[["top", "right"]].set_visible(False)
        if chart.series:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


@lru_cache(maxsize=64)
def _cached(payload: str) -> bytes:
    return _draw(Chart.model_validate_json(payload))


def chart_png(chart: Chart) -> bytes:
    """The chart as PNG bytes; the same chart gives the same bytes."""
    return _cached(chart.model_dump_json())


# ---------------------------------------------------------------------------------------------- builders


def light_chart(
    quarters: list[tuple[str, int, int, int]], *, title: str, caption: str, labels: dict[str, str]
) -> Chart:
    """Stacked bars per quarter: (quarter label, green, yellow, red) department counts."""
    return Chart(
        kind="stacked",
        title=title,
        caption=caption,
        categories=[q[0] for q in quarters],
        series=[
            ChartSeries(label=labels["green"], color=LIGHT_COLORS["green"], values=[q[1] for q in quarters]),
            ChartSeries(label=labels["yellow"], color=LIGHT_COLORS["yellow"], values=[q[2] for q in quarters]),
            ChartSeries(label=labels["red"], color=LIGHT_COLORS["red"], values=[q[3] for q in quarters]),
        ],
        y_label="部门数（家）",
    )


def grade_chart(grades: list[str], series: list[tuple[str, list[int]]], *, title: str, caption: str) -> Chart:
    """Grouped bars per grade (优/良/中/差), one series per kind of score."""
    return Chart(
        kind="grouped",
        title=title,
        caption=caption,
        categories=list(grades),
        series=[
            ChartSeries(label=label, color=SERIES_COLORS[i % len(SERIES_COLORS)], values=values)
            for i, (label, values) in enumerate(series)
        ],
        y_label="项目数（个）",
    )
