"""Record text written where a line means something (a plain-text notice, a header, a table cell)."""

from __future__ import annotations

import re

_LINE_BREAK = re.compile(r"[^\S\r\n\v\f\x1c-\x1e\x85\u2028\u2029]*[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]\s*")


def one_line(value: object) -> str:
    """A value on one line: its line breaks (with the spaces around them) one space, so it never forges a line."""
    text = str(value)
    return _LINE_BREAK.sub(" ", text) if _LINE_BREAK.search(text) else text
