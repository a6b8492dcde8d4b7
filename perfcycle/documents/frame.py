"""What makes a document's text a 公文 a bureau can issue (GB/T 9704-2012 §7): the parts around the text.

The renderer lays a `Frame` out: the 版头 (发文机关标志 in red, 发文字号, the red line), the 主送机关 under the
title, the 发文机关署名 and 成文日期 with room for the seal, the 附注 and the 版记 on the last even page. The catalogue
makes each document's frame from the policy and the numbers register (`perfcycle.documents.numbers`).
"""

from __future__ import annotations

import datetime as dt
import unicodedata

from pydantic import BaseModel, ConfigDict, Field


def cn_date(day: dt.date) -> str:
    """A date as 公文 write it, in Arabic numerals without leading zeros: 2024年4月10日."""
    return f"{day.year}年{day.month}月{day.day}日"


def text_units(text: str) -> float:
    """The width of a text in characters of its font size: a Chinese character (or full-width sign) is 1, a
    digit, Latin letter or half-width sign ½."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WFA" else 0.5 for ch in text)


class Frame(BaseModel):
    """The 公文 parts of one document; `addressee` empty for a document to no one in particular (a public list)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mark: str = Field(description="发文机关标志, e.g. 烈山区财政局文件")
    number: str = Field(description="发文字号, e.g. 烈财绩〔2024〕12号")
    addressee: str = ""
    signature: str = Field(description="发文机关署名")
    dated: dt.date = Field(description="成文日期; also the 印发日期 of the 版记")
    contact: str = ""
    phone: str = ""
    copy_to: list[str] = Field(default_factory=list)
    printer: str = Field(default="", description="印发机关")
    letter: bool = Field(default=False, description="issued as a 函 (信函格式, GB/T 9704-2012 §10.1)")

    @property
    def date_text(self) -> str:
        return cn_date(self.dated)

    @property
    def note(self) -> str:
        """附注: （联系人：周晓梅，电话：0561-3093562）, or "" without a contact."""
        parts = [f"联系人：{self.contact}"] if self.contact else []
        if self.phone:
            parts.append(f"电话：{self.phone}")
        return f"（{'，'.join(parts)}）" if parts else ""

    @property
    def copy_line(self) -> str:
        """抄送：甲，乙。 ("" when the document is copied to no one)."""
        return f"抄送：{'，'.join(self.copy_to)}。" if self.copy_to else ""

    @property
    def printed_line(self) -> str:
        return f"{self.date_text}印发"
